"""What every check gets: :class:`Context` (the student's host, a generator, the graded
roll number, a cache of calls shared by sibling sub-checks, the measured metrics)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dlcourse.roll import derive_config


class NoRollNumber(Exception):
    """A check of a roll-dependent answer was asked for without a roll number."""


@dataclass
class Context:
    """What every check gets: the host, a generator, the roll number and a call cache."""

    host: object
    rng: np.random.Generator
    roll_number: str | None
    timeout: float | None = None
    cache: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)  # numbers measured here, signed in the stamp

    @property
    def config(self) -> dict:
        """``derive_config`` of the roll number the service graded (never the notebook's)."""
        if not self.roll_number:
            raise NoRollNumber("no roll number: an answer that depends on it cannot be "
                               "checked")
        return derive_config(self.roll_number)

    def call(self, sub, fn, *args, key=None, **kwargs):
        """Call the student's ``fn`` (cached under ``key`` so sibling sub-checks share it)."""
        if key is not None and key in self.cache:
            return self.cache[key]
        limit = self.timeout if self.timeout is not None else sub.time_limit
        result = self.host.call(fn, *args, timeout=limit, **kwargs)
        if key is not None:
            self.cache[key] = result
        return result
