"""A dependency-free progress bar for the instructor CLI (stderr, redrawn in place)."""

import sys


class Progress:
    """``for item in Progress(items, "verifying"): ...`` draws ``label [####    ] 12/40``."""

    def __init__(self, items, label, stream=None, width=30):
        self.items = list(items)
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width

    def _draw(self, done):
        total = len(self.items) or 1
        filled = self.width * done // total
        self.stream.write(f"\r{self.label} [{'#' * filled}{' ' * (self.width - filled)}] "
                          f"{done}/{len(self.items)}")
        self.stream.flush()

    def __iter__(self):
        self._draw(0)
        for done, item in enumerate(self.items, start=1):
            yield item
            self._draw(done)
        self.stream.write("\n")
