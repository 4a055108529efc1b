"""Withhold any message that quotes hidden-test source (student code can raise anything)."""

from .base import Step

WITHHELD = "test failed (details withheld: the message quoted hidden test code)"
MIN_TEXT = 4  # shorter fragments ("pass", ")") are too common to count as quoting


class RedactHiddenText(Step):
    """A message is withheld when it contains a hidden line, or when its detail text
    (after ``ErrorName: ``) appears in the hidden tests (e.g. an assert message)."""

    needs_gradable = False

    def __call__(self, job):
        hidden = [line for line in job.hidden_text if len(line) >= MIN_TEXT]
        joined = "\n".join(job.hidden_text)
        for test in job.tests:
            detail = test.message.partition(": ")[2].strip()
            if any(line in test.message for line in hidden) or (
                    len(detail) >= MIN_TEXT and detail in joined):
                test.message = WITHHELD
