"""A runner that grades nothing: sleeps, appends the bundle's hash to a log, returns full marks.

Used by the crash-safety test and the submission benchmark through
``GRADER_RUNNER=cheap_runner:SleepRunner`` (with this folder on ``PYTHONPATH``).
``$SLEEP_RUNNER_SECONDS`` sets the sleep, ``$SLEEP_RUNNER_LOG`` the execution log.
"""

import hashlib
import os
import time

from grader_service.metrics import Outcome
from grader_service.runners.base import Runner, RunResult


class SleepRunner(Runner):
    name = "sleep"

    def run(self, bundle, cancelled=None):
        start = time.monotonic()
        time.sleep(float(os.environ.get("SLEEP_RUNNER_SECONDS", "0.2")))
        log = os.environ.get("SLEEP_RUNNER_LOG")
        if log:
            with open(log, "a") as fh:
                fh.write(hashlib.sha256(bundle).hexdigest() + "\n")
        result = {"tests": [], "score": 1.0, "max_score": 1.0, "notebooks": {}}
        return RunResult(Outcome.SUCCESS, result, self.sandbox_info(network_mode="none"), "",
                         time.monotonic() - start)
