"""Runners that grade nothing.

:class:`SleepRunner` sleeps, appends the bundle's hash to a log and returns full marks
on the tests of the bundle's source (a result the service's check accepts). Used by
the crash-safety test and the submission benchmark through
``GRADER_RUNNER=cheap_runner:SleepRunner`` (with this folder on ``PYTHONPATH``).
``$SLEEP_RUNNER_SECONDS`` sets the sleep, ``$SLEEP_RUNNER_LOG`` the execution log.

:class:`CraftedRunner` answers with whatever result it is given: a forged sandbox
result, for the service's result check.
"""

import hashlib
import os
import time

from grader_testing import expected_of_bundle, honest_result

from grader_service.outcomes import Outcome
from grader_service.runners.base import Runner, RunResult, SandboxLimits


class SleepRunner(Runner):
    name = "sleep"

    def run(self, bundle, cancelled=None):
        start = time.monotonic()
        time.sleep(float(os.environ.get("SLEEP_RUNNER_SECONDS", "0.2")))
        log = os.environ.get("SLEEP_RUNNER_LOG")
        if log:
            with open(log, "a") as fh:
                fh.write(hashlib.sha256(bundle).hexdigest() + "\n")
        result = honest_result(expected_of_bundle(bundle))
        return RunResult(Outcome.SUCCESS, result, self.sandbox_info(network_mode="none"), "",
                         time.monotonic() - start)


class CraftedRunner(Runner):
    """Answers every bundle with ``result`` (or ``result(bundle)`` if it is callable), as
    a sandbox under the student's control could."""

    name = "crafted"

    def __init__(self, result, limits=None):
        super().__init__(limits or SandboxLimits())
        self.result = result

    def run(self, bundle, cancelled=None):
        result = self.result(bundle) if callable(self.result) else self.result
        return RunResult(Outcome.SUCCESS, result, self.sandbox_info(network_mode="none"), "",
                         0.01)
