"""Give every test that was never decided its reason (the notebook's problem)."""

from .base import Step


class ExplainUnrunTests(Step):
    needs_gradable = False

    def __call__(self, job):
        for test in job.tests:
            if not test.message:
                test.message = f"not run: {job.problem}" if job.problem else "not run"
