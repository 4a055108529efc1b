"""Helpers shared by the dlcourse tests (a uniquely named module, not conftest)."""

import importlib
import importlib.util
import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

#: Norm-ratio bound for float64 gradient checks.
GRAD_TOL = 1e-7


def assert_all_below(errors, tol=GRAD_TOL):
    """Every entry of {name: relative error} is below tol."""
    assert errors, "no gradient was checked"
    for name, err in errors.items():
        assert err < tol, f"d{name}: relative error {err:.2e}"


def require_module(name):
    """Import ``name``; skip locally if missing, but fail under CI=true."""
    if importlib.util.find_spec(name) is None:
        if IN_CI:
            pytest.fail(f"CI=true and {name} is not installed", pytrace=False)
        pytest.skip(f"{name} is not installed")
    return importlib.import_module(name)
