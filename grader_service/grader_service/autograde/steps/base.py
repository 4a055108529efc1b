"""Base class of grading steps."""


class Step:
    """Contract: ``__call__(job)`` transforms one notebook job in place.

    ``needs_gradable`` steps are skipped once an earlier step set ``job.problem``.
    """

    needs_gradable = True

    def __call__(self, job):
        raise NotImplementedError("Override in subclass: __call__(job)")
