"""Sandbox runners: the seam between the grading queue and where student code runs."""

from .base import Runner, RunResult, SandboxLimits, make_runner

__all__ = ["Runner", "RunResult", "SandboxLimits", "make_runner"]
