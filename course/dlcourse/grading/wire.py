"""The wire format between the checker (parent) and the student host (child).

One message is one line of JSON. NumPy arrays travel as
``{"__ndarray__": <base64 of np.save bytes>}`` and are read back with
``np.load(allow_pickle=False)``, so neither side ever unpickles anything.

``decode`` is used on data from the student process and is strict: only
JSON scalars, lists, string-keyed dicts and plain numeric arrays come out.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np

ARRAY_KEY = "__ndarray__"

#: dtype kinds accepted from the student process: bool, int, unsigned, float.
NUMERIC_KINDS = frozenset("biuf")


class WireError(ValueError):
    """A value that is not plain data (the student returned something exotic)."""


def encode(value):
    """Plain Python/NumPy data -> JSON-ready structure. Raises WireError otherwise."""
    if type(value) is np.ndarray:
        buf = io.BytesIO()
        np.save(buf, value, allow_pickle=False)
        return {ARRAY_KEY: base64.b64encode(buf.getvalue()).decode("ascii")}
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, np.generic) and type(value).__module__ == "numpy":
        return value.item()
    if type(value) in (list, tuple):
        return [encode(v) for v in value]
    if type(value) is dict and all(type(k) is str for k in value):
        return {k: encode(v) for k, v in value.items()}
    raise WireError(f"cannot send a value of type {type(value).__name__} (plain data only)")


@dataclass(frozen=True)
class Ref:
    """A call argument that stands for the child's own object called ``name``."""

    name: str


def encode_call_arg(value):
    """``encode`` for a call's arguments, where a :class:`Ref` (at any depth) travels as
    ``{"__ref__": name}`` (the host passes the notebook's object of that name)."""
    if isinstance(value, Ref):
        return {"__ref__": value.name}
    if type(value) in (list, tuple):
        return [encode_call_arg(v) for v in value]
    if type(value) is dict:
        return {k: encode_call_arg(v) for k, v in value.items()}
    return encode(value)


def _load_array(raw):
    """``np.load`` of ``raw`` once its header is known to describe no more data than
    ``raw`` holds (a forged shape must not make the checker allocate gigabytes)."""
    buf = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(buf)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _fortran, dtype = read_header(buf)
    except Exception as exc:  # noqa: BLE001 - any malformed header
        raise WireError(f"not a NumPy array ({type(exc).__name__})") from None
    if dtype.hasobject or dtype.kind not in NUMERIC_KINDS:
        raise WireError(f"array of dtype {dtype} is not numeric")
    if int(np.prod(shape, dtype=object)) * dtype.itemsize > len(raw) - buf.tell():
        raise WireError(f"array header promises more data than was sent (shape {shape})")
    return np.load(io.BytesIO(raw), allow_pickle=False)


def decode(data):
    """JSON-parsed structure -> Python/NumPy data; arrays must be plain numeric."""
    if isinstance(data, dict):
        if set(data) == {ARRAY_KEY}:
            raw = base64.b64decode(data[ARRAY_KEY].encode("ascii"), validate=True)
            arr = _load_array(raw)
            if type(arr) is not np.ndarray or arr.dtype.kind not in NUMERIC_KINDS:
                raise WireError(f"array of dtype {arr.dtype} is not numeric")
            return arr
        return {str(k): decode(v) for k, v in data.items()}
    if isinstance(data, list):
        return [decode(v) for v in data]
    if data is None or type(data) in (bool, int, float, str):
        return data
    raise WireError(f"unexpected JSON value of type {type(data).__name__}")
