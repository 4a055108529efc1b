"""Roll numbers: normalisation, validation and the per-student configuration.

This module imports only the standard library (no numpy) so that the
JupyterHub authenticator can import ``normalize_roll_number`` and
``is_valid_roll_number`` cheaply.

Roll numbers
------------
A raw roll number is normalised by removing whitespace and the separators
``- _ / .`` and upper-casing ASCII letters: ``" cs-2024/007 "`` ->
``"CS2024007"``. The result must be 4-20 ASCII letters or digits and contain
at least one digit (``ROLL_PATTERN``); anything else raises ``ValueError``.
Raw input longer than ``MAX_RAW_LENGTH`` characters is rejected before any
processing. ``roll_clean`` is the lower-case form used in file names
(``submission_<roll_clean>.json``) and matches JupyterHub's lower-case
user names.

Per-student configuration
-------------------------
``derive_config(roll)`` draws every field from its own keyed hash,
``HMAC-SHA256(COURSE_KEY, "v<SCHEMA_VERSION>|<ROLL>|<field>|<slot>")``, read
as a 64-bit integer and reduced modulo the number of options. It never uses
Python's ``hash()`` (salted per process), so the result is the same on every
machine and in every process. Keys, in order (``SCHEMA`` is the source of
truth; ``describe_schema()`` renders it):

=================== ====================================================
key                 values
=================== ====================================================
hidden_units        8, 12, 16, 24, 32, 48, 64 (units in every hidden layer)
num_hidden_layers   1, 2, 3
activations         list, one per hidden layer: relu, leaky_relu, tanh, sigmoid
optimizer           sgd, momentum, rmsprop, adam
learning_rate       depends on optimizer: sgd 0.05/0.1/0.2, momentum
                    0.01/0.02/0.05, rmsprop 0.001/0.002/0.005,
                    adam 0.001/0.003/0.01
batch_size          16, 32, 64, 128
epochs              20, 30, 40, 50
seed                integer in [0, 2**31 - 1]
cnn_filters         4, 6, 8, 12, 16
cnn_kernel_size     3, 5
cnn_stride          1, 2
cnn_pooling         max, avg
ablation            depth, width (module 07's ablation)
churn_offer         gift, voucher (module 04's retention offer)
cnn_augmentation    flip, shift_1, shift_2 (module 06's training-set copies)
=================== ====================================================
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

#: Key of the keyed hash. Changing it (or SCHEMA_VERSION) changes every config.
COURSE_KEY = b"dlcourse:roll-config:2024"

#: Bumped whenever a field's options change; part of every hashed message.
SCHEMA_VERSION = 1

#: Accepted form after normalisation (checked with fullmatch).
ROLL_PATTERN = re.compile(r"(?=[A-Z]*[0-9])[A-Z0-9]{4,20}", re.ASCII)

#: Raw input longer than this is rejected before normalisation.
MAX_RAW_LENGTH = 64

_SEPARATORS = re.compile(r"[\s\-_/.]+")


# ----------------------------------------------------------------------------
# Normalisation and validation
# ----------------------------------------------------------------------------
def normalize_roll_number(raw):
    """Return the canonical upper-case form of a roll number.

    Removes whitespace and ``- _ / .``, upper-cases, and checks
    ``ROLL_PATTERN`` (4-20 ASCII letters/digits, at least one digit).
    Raises TypeError if ``raw`` is not a str and ValueError if it is not a
    valid roll number.
    """
    if not isinstance(raw, str):
        raise TypeError(f"roll number must be a str, got {type(raw).__name__}")
    if len(raw) > MAX_RAW_LENGTH:
        raise ValueError(f"roll number is longer than {MAX_RAW_LENGTH} characters")
    cleaned = _SEPARATORS.sub("", raw)
    if not cleaned.isascii():
        raise ValueError(f"roll number {raw!r} may contain only ASCII letters and digits")
    cleaned = cleaned.upper()
    if not ROLL_PATTERN.fullmatch(cleaned):
        raise ValueError(
            f"invalid roll number {raw!r} (normalised: {cleaned!r}): expected 4-20 letters "
            "or digits with at least one digit, e.g. 'CS2024-007'"
        )
    return cleaned


def is_valid_roll_number(raw):
    """True if ``normalize_roll_number(raw)`` would succeed; never raises."""
    try:
        normalize_roll_number(raw)
    except (TypeError, ValueError):
        return False
    return True


def roll_clean(raw):
    """Lower-case normalised roll number for file names: ``"CS-2024/7"`` -> ``"cs20247"``."""
    return normalize_roll_number(raw).lower()


def roll_hash(raw):
    """Full hex HMAC-SHA256 of the normalised roll number (64 hex digits)."""
    roll = normalize_roll_number(raw)
    return hmac.new(COURSE_KEY, f"roll|{roll}".encode(), hashlib.sha256).hexdigest()


def short_hash(raw, length=12):
    """First ``length`` hex digits of ``roll_hash``: the artifact's short hash."""
    return roll_hash(raw)[:length]


# ----------------------------------------------------------------------------
# Schema
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ConfigField:
    """One key of a derived config.

    Exactly one kind applies:
    - categorical: ``choices`` is a tuple of options;
    - integer range: ``low``..``high`` inclusive;
    - per layer: ``choices`` options, a list whose length is the value of
      the field named ``length_from``;
    - dependent: ``choices`` is a dict from the value of ``depends_on`` to a
      tuple of options.
    """

    name: str
    description: str
    choices: tuple | dict = ()
    low: int | None = None
    high: int | None = None
    length_from: str | None = None
    depends_on: str | None = None

    def options(self, config=None):
        """The options for this field (given the fields it depends on)."""
        if self.depends_on is not None:
            return self.choices[config[self.depends_on]]
        return self.choices


SCHEMA = {
    f.name: f
    for f in (
        ConfigField("hidden_units", "units in every hidden layer of the MLP",
                    choices=(8, 12, 16, 24, 32, 48, 64)),
        ConfigField("num_hidden_layers", "number of hidden layers of the MLP",
                    choices=(1, 2, 3)),
        ConfigField("activations", "activation of each hidden layer, input side first",
                    choices=("relu", "leaky_relu", "tanh", "sigmoid"),
                    length_from="num_hidden_layers"),
        ConfigField("optimizer", "update rule, a key of dlcourse.optim.OPTIMIZERS",
                    choices=("sgd", "momentum", "rmsprop", "adam")),
        ConfigField("learning_rate", "step size; the grid depends on the optimizer",
                    choices={"sgd": (0.05, 0.1, 0.2), "momentum": (0.01, 0.02, 0.05),
                             "rmsprop": (0.001, 0.002, 0.005), "adam": (0.001, 0.003, 0.01)},
                    depends_on="optimizer"),
        ConfigField("batch_size", "minibatch size", choices=(16, 32, 64, 128)),
        ConfigField("epochs", "maximum number of training epochs", choices=(20, 30, 40, 50)),
        ConfigField("seed", "seed for weight init, shuffling and data", low=0, high=2**31 - 1),
        ConfigField("cnn_filters", "output channels of the CNN's conv layer",
                    choices=(4, 6, 8, 12, 16)),
        ConfigField("cnn_kernel_size", "square conv kernel size", choices=(3, 5)),
        ConfigField("cnn_stride", "conv stride ('same' padding)", choices=(1, 2)),
        ConfigField("cnn_pooling", "2x2 pooling after the conv layer", choices=("max", "avg")),
        ConfigField("ablation", "module 07's ablation: one hidden layer (depth) or half the "
                    "hidden units (width)", choices=("depth", "width")),
        ConfigField("churn_offer", "module 04's retention offer: a gift every targeted "
                    "customer costs, or a voucher paid only by those who stay",
                    choices=("gift", "voucher")),
        ConfigField("cnn_augmentation", "training-set augmentation of the framework CNN "
                    "(mirror copies, or copies shifted by 1 or 2 pixels)",
                    choices=("flip", "shift_1", "shift_2")),
    )
}


def schema_as_dict():
    """``SCHEMA`` as plain JSON-serialisable data, for docs and artifacts."""
    out = {}
    for f in SCHEMA.values():
        entry = {"description": f.description}
        if f.low is not None:
            entry.update(type="int", low=f.low, high=f.high)
        elif f.depends_on is not None:
            entry.update(type="choice", depends_on=f.depends_on,
                         choices={k: list(v) for k, v in f.choices.items()})
        else:
            entry.update(type="list" if f.length_from else "choice", choices=list(f.choices))
            if f.length_from:
                entry["length_from"] = f.length_from
        out[f.name] = entry
    return out


def describe_schema():
    """One line per field: name, options and description (for notebooks/docs)."""
    lines = []
    for name, entry in schema_as_dict().items():
        if entry["type"] == "int":
            values = f"[{entry['low']}, {entry['high']}]"
        else:
            values = str(entry["choices"])
        lines.append(f"{name:<18} {values}  - {entry['description']}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# Derivation
# ----------------------------------------------------------------------------
def _draw(roll, field, slot, n):
    """Uniform integer in [0, n) from the keyed hash of (roll, field, slot)."""
    message = f"v{SCHEMA_VERSION}|{roll}|{field}|{slot}".encode()
    digest = hmac.new(COURSE_KEY, message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") % n  # bias < n / 2**64


def derive_config(roll_number):
    """The student's configuration: a dict with exactly the keys of ``SCHEMA``.

    Deterministic for a roll number (after normalisation) on every machine.
    Raises ValueError for an invalid roll number.
    """
    roll = normalize_roll_number(roll_number)
    config = {}
    for f in SCHEMA.values():
        if f.low is not None:
            config[f.name] = f.low + _draw(roll, f.name, 0, f.high - f.low + 1)
        elif f.length_from is not None:
            config[f.name] = [
                f.choices[_draw(roll, f.name, slot, len(f.choices))]
                for slot in range(config[f.length_from])
            ]
        else:
            options = f.options(config)
            config[f.name] = options[_draw(roll, f.name, 0, len(options))]
    return config


def validate_config(config):
    """Raise ValueError listing every missing, unknown or out-of-range key."""
    problems = [f"unknown key {k!r}" for k in config if k not in SCHEMA]
    for f in SCHEMA.values():
        if f.name not in config:
            problems.append(f"missing key {f.name!r}")
            continue
        value = config[f.name]
        if f.low is not None:
            ok = isinstance(value, int) and f.low <= value <= f.high
        elif f.length_from is not None:
            ok = (
                isinstance(value, list)
                and len(value) == config.get(f.length_from)
                and all(v in f.choices for v in value)
            )
        else:
            ok = (f.depends_on is None or config.get(f.depends_on) in f.choices) and (
                value in f.options(config)
            )
        if not ok:
            problems.append(f"{f.name}={value!r} is outside the schema")
    if problems:
        raise ValueError("invalid config: " + "; ".join(problems))
    return config


def format_config(roll_number):
    """Printable summary for the notebooks' "Student Identifier (Run First)" cell."""
    config = derive_config(roll_number)
    lines = [f"{'roll_number':<18}: {normalize_roll_number(roll_number)}",
             f"{'short_hash':<18}: {short_hash(roll_number)}"]
    lines += [f"{k:<18}: {v}" for k, v in config.items()]
    return "\n".join(lines)
