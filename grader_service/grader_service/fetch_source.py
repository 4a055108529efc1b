"""The course's nbgrader source tree from the service into an instructor's course
directory, ``<course dir>/source/<assignment>/`` (``dl-grader fetch-source``, and the
seeding of an instructor's server at start: ``exchange/seed_source.py``).

An assignment folder that exists is kept as it is, so an instructor's edits are never
lost, unless ``force`` replaces it. Each folder arrives whole or not at all: the
archive is unpacked in a temporary folder inside ``source/``, then renamed into place.
"""

import dataclasses
import os
import tempfile

from .tarsafe import UnsafeArchive, extract

#: the unpacked tree may hold at most this much (bytes)
MAX_UNPACKED = 500 * 1024 * 1024


class FetchError(Exception):
    """The service's tree cannot be used (unsafe archive, no such assignment)."""


@dataclasses.dataclass
class Report:
    """What a fetch did: one line per assignment, and how many were added, kept, replaced."""

    lines: list = dataclasses.field(default_factory=list)
    counts: dict = dataclasses.field(
        default_factory=lambda: {"added": 0, "kept": 0, "replaced": 0})

    def summary(self, source_dir):
        done = ", ".join(f"{n} {what}" for what, n in self.counts.items() if n)
        return f"{done or 'no assignment in the course source'} in {source_dir}"


def assignments_in(folder):
    """The assignment folders in ``folder`` (not dot folders such as checkpoints)."""
    if not os.path.isdir(folder):
        return []
    return sorted(name for name in os.listdir(folder) if not name.startswith(".")
                  and os.path.isdir(os.path.join(folder, name)))


def fetch_source(client, course, source_dir, force=False, only=""):
    """Unpack the service's course source into ``source_dir`` (``only``: that assignment
    alone); return a :class:`Report`."""
    data = client.course_source(course)
    os.makedirs(source_dir, exist_ok=True)
    report = Report()
    with tempfile.TemporaryDirectory(dir=source_dir, prefix=".fetch-source-") as tmp:
        unpacked = os.path.join(tmp, "tree")
        try:
            extract(data, unpacked, MAX_UNPACKED)
        except UnsafeArchive as err:
            raise FetchError(f"the course source from the service is unsafe, not "
                             f"unpacking it: {err}") from err
        names = assignments_in(unpacked)
        if only:
            if only not in names:
                raise FetchError(f"the course source has no assignment {only!r} "
                                 f"(it has: {', '.join(names) or 'none'})")
            names = [only]
        for name in names:
            target = os.path.join(source_dir, name)
            if os.path.lexists(target) and not force:
                report.counts["kept"] += 1
                report.lines.append(f"kept {name}: {target} exists (--force replaces it)")
                continue
            what = "added"
            if os.path.lexists(target):  # out of the way first; removed with ``tmp``
                os.rename(target, os.path.join(tmp, f"old-{name}"))
                what = "replaced"
            os.rename(os.path.join(unpacked, name), target)
            report.counts[what] += 1
            report.lines.append(f"{what} {name}")
    return report
