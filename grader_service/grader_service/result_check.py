"""Defence in depth: the service re-checks a sandbox result against the stored source
before it signs it (DESIGN flow 3).

The sandbox runs student code, so what it prints is only as trustworthy as its
isolation. The service therefore accepts a result only if it lists exactly the tests
the instructor's source defines, each within its points, and it recomputes every total
itself; nothing the sandbox claims about maxima, manual items or totals is signed
unchecked.

* :func:`expected_tests` reads the stored ``source/`` blob (notebooks parsed as JSON,
  nothing executed): a notebook with a course rubric
  (``dlcourse.grading.rubrics.notebook_rubric``) is graded on the rubric's items
  (``rubric:<item id>``), any other notebook on its nbgrader test cells (the rules of
  :mod:`.autograde.cells`). Every source notebook is listed, submitted or not.
* :func:`check_result` says why a result does not match (None when it does);
  :func:`checked_result` returns the :class:`Checked` values the record signs.
"""

import dataclasses
import io
import json
import math
import posixpath
import tarfile

from .autograde.cells import grade_id, is_test_cell, points
from .tarsafe import UnsafeArchive, inspect_archive

#: the sandbox's totals may differ from the recomputed ones by float rounding only
TOLERANCE = 1e-9
MAX_MESSAGE = 500
MAX_METRIC_NAME = 100
MAX_METRICS_PER_NOTEBOOK = 100
#: the stored source blob passed the upload limits already; this only bounds parsing
MAX_SOURCE_BYTES = 512 * 1024 * 1024


class SourceError(ValueError):
    """The stored source cannot say which tests an assignment has."""


class ResultMismatch(ValueError):
    """The sandbox result does not match the assignment's tests (one-line reason)."""


@dataclasses.dataclass(frozen=True)
class ExpectedTest:
    notebook: str
    grade_id: str
    max_points: float
    manual: bool = False

    @property
    def key(self):
        return self.notebook, self.grade_id


@dataclasses.dataclass(frozen=True)
class Expected:
    """What a result must list: every source notebook, and its tests in source order."""

    notebooks: tuple[str, ...]
    tests: tuple[ExpectedTest, ...]


@dataclasses.dataclass(frozen=True)
class Checked:
    """A validated result, as the service recomputed it (what the record signs)."""

    tests: list  # [{"notebook", "grade_id", "points", "max_points", "passed", "message", "manual"}]
    notebooks: dict  # {notebook: {"score", "max_score", "problem"}}
    score: float
    max_score: float
    metrics: dict  # {notebook: {name: float}}


def require_course_package():
    """``notebook_rubric`` from the course package, or RuntimeError: without the rubrics
    the service could not check rubric-graded results, so it must not start."""
    try:
        from dlcourse.grading.rubrics import notebook_rubric
        from dlcourse.roll import derive_config  # noqa: F401 (the record's roll_config)
    except ImportError as err:
        raise RuntimeError(
            "the grading service needs the course package 'dlcourse' (rubric metadata and "
            "roll-number configs) to check sandbox results before signing them; install "
            f"it next to dlcourse-grader ({err})") from err
    return notebook_rubric


# ----------------------------------------------------------------------------
# What the source defines
# ----------------------------------------------------------------------------
def source_notebooks(source_tar: bytes) -> dict:
    """``{relative path: notebook bytes}`` of the source archive's notebooks, named as
    the sandbox names them (normalised paths, ``.ipynb_checkpoints`` skipped)."""
    try:
        inspect_archive(source_tar, MAX_SOURCE_BYTES)
    except UnsafeArchive as err:
        raise SourceError(f"the source archive cannot be read: {err}") from err
    found = {}
    with tarfile.open(fileobj=io.BytesIO(source_tar), mode="r:*") as tar:
        for member in tar:
            name = posixpath.normpath(member.name.replace("\\", "/"))
            folders = name.split("/")[:-1]
            if (member.isfile() and name.endswith(".ipynb")
                    and ".ipynb_checkpoints" not in folders):
                with tar.extractfile(member) as fh:
                    found[name] = fh.read()
    return dict(sorted(found.items()))


def nbgrader_tests(notebook: str, content: bytes) -> list:
    """The autograded test cells of a source notebook (JSON only, nothing executed)."""
    try:
        nb = json.loads(content)
        cells = nb["cells"]
        if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
            raise TypeError("cells is not a list of objects")
    except (ValueError, KeyError, TypeError) as err:
        raise SourceError(f"source notebook {notebook} is not an nbformat 4 notebook "
                          f"({type(err).__name__})") from err
    tests = [ExpectedTest(notebook, grade_id(cell), points(cell))
             for cell in cells if is_test_cell(cell) and grade_id(cell)]
    ids = [t.grade_id for t in tests]
    if len(set(ids)) != len(ids):
        raise SourceError(f"source notebook {notebook} repeats a test cell grade_id")
    return tests


def expected_tests(source_tar: bytes, assignment: str, notebook_rubric=None) -> Expected:
    """The tests a result of ``assignment`` must list, from the stored source archive.

    ``notebook_rubric`` defaults to the course package's (see
    :func:`require_course_package`). Raises :class:`SourceError` when the source cannot
    be read.
    """
    notebook_rubric = notebook_rubric or require_course_package()
    notebooks = source_notebooks(source_tar)
    tests = []
    for name, content in notebooks.items():
        found = notebook_rubric(assignment, name)
        if found is None:
            tests += nbgrader_tests(name, content)
            continue
        tests += [ExpectedTest(name, f"rubric:{item.id}", float(item.max_points),
                               bool(item.manual)) for item in found[1]]
    return Expected(tuple(notebooks), tuple(tests))


# ----------------------------------------------------------------------------
# Does the result match?
# ----------------------------------------------------------------------------
def check_result(result, expected: Expected) -> str | None:
    """None if ``result`` matches ``expected``, else a one-line reason."""
    try:
        checked_result(result, expected)
    except ResultMismatch as err:
        return str(err)
    return None


def checked_result(result, expected: Expected) -> Checked:
    """The validated result with the service's own totals; :class:`ResultMismatch` if
    anything disagrees with ``expected``:

    exactly the expected (notebook, grade_id) pairs, each once; ``max_points`` and
    ``manual`` as the source defines them; ``0 <= points <= max_points`` and 0 for manual
    items; every number finite; the sandbox's totals (overall and per notebook) equal
    to the recomputed ones within :data:`TOLERANCE`; ``metrics``, if present, a dict per
    source notebook of finite numbers under short names.
    """
    if not isinstance(result, dict):
        raise ResultMismatch("the result is not a JSON object")
    tests = result.get("tests")
    if not isinstance(tests, list):
        raise ResultMismatch("'tests' is not a list")
    wanted = {t.key: t for t in expected.tests}
    given = {}
    for entry in tests:
        key = _test_key(entry)
        if key not in wanted:
            raise ResultMismatch(f"unknown test {_name(key)}")
        if key in given:
            raise ResultMismatch(f"test {_name(key)} is listed twice")
        given[key] = _check_test(entry, wanted[key])
    missing = [t.key for t in expected.tests if t.key not in given]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise ResultMismatch(f"test {_name(missing[0])} is missing{more}")

    records = [given[t.key] for t in expected.tests]  # source order
    score = sum(t["points"] for t in records)
    max_score = sum(t["max_points"] for t in records)
    _check_total("score", result.get("score"), score)
    _check_total("max_score", result.get("max_score"), max_score)
    return Checked(tests=records, notebooks=_check_notebooks(result, expected, records),
                   score=score, max_score=max_score, metrics=_check_metrics(result, expected))


def _test_key(entry):
    if not isinstance(entry, dict):
        raise ResultMismatch(f"a test entry is not an object: {_show(entry)}")
    notebook, gid = entry.get("notebook"), entry.get("grade_id")
    if not (isinstance(notebook, str) and isinstance(gid, str)):
        raise ResultMismatch(f"a test entry lacks a string notebook and grade_id: "
                             f"{_show(notebook)} {_show(gid)}")
    return notebook, gid


def _check_test(entry, want: ExpectedTest) -> dict:
    name = _name(want.key)
    got_points = _number(entry.get("points"), f"points of {name}")
    got_max = _number(entry.get("max_points"), f"max_points of {name}")
    if got_max != want.max_points:
        raise ResultMismatch(f"max_points of {name} is {got_max:g}, the source says "
                             f"{want.max_points:g}")
    manual = entry.get("manual", False)
    if manual is not want.manual:
        raise ResultMismatch(f"manual of {name} is {_show(manual)}, the source says "
                             f"{want.manual}")
    if want.manual and got_points != 0:
        raise ResultMismatch(f"manual item {name} has {got_points:g} points before an "
                             "instructor graded it")
    if not 0 <= got_points <= want.max_points:
        raise ResultMismatch(f"points of {name} are {got_points:g}, outside "
                             f"0..{want.max_points:g}")
    passed, message = entry.get("passed", False), entry.get("message", "")
    if not isinstance(passed, bool) or not isinstance(message, str):
        raise ResultMismatch(f"passed/message of {name} are not a boolean and a string")
    return {"notebook": want.notebook, "grade_id": want.grade_id, "points": got_points,
            "max_points": want.max_points, "passed": passed,
            "message": message[:MAX_MESSAGE], "manual": want.manual}


def _check_total(key, given, recomputed):
    value = _number(given, key)
    if not math.isclose(value, recomputed, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
        raise ResultMismatch(f"{key} {value:g} is not the sum of the tests ({recomputed:g})")


def _check_notebooks(result, expected, records) -> dict:
    """Per-notebook totals recomputed; the sandbox's own, when it sends them, must agree."""
    given = result.get("notebooks", {})
    if not isinstance(given, dict):
        raise ResultMismatch("'notebooks' is not an object")
    if given and set(given) != set(expected.notebooks):
        raise ResultMismatch(f"'notebooks' lists {_show(sorted(given))}, the source has "
                             f"{_show(list(expected.notebooks))}")
    notebooks = {}
    for name in expected.notebooks:
        mine = [t for t in records if t["notebook"] == name]
        summary = {"score": sum(t["points"] for t in mine),
                   "max_score": sum(t["max_points"] for t in mine), "problem": None}
        if name in given:
            entry = given[name]
            if not isinstance(entry, dict):
                raise ResultMismatch(f"notebook {_show(name)} is not an object")
            for key in ("score", "max_score"):
                _check_total(f"{key} of {name}", entry.get(key), summary[key])
            problem = entry.get("problem")
            if problem is not None and not isinstance(problem, str):
                raise ResultMismatch(f"problem of {_show(name)} is not a string")
            summary["problem"] = problem[:MAX_MESSAGE] if problem else None
        notebooks[name] = summary
    return notebooks


def _check_metrics(result, expected) -> dict:
    if "metrics" not in result:
        return {}
    metrics = result["metrics"]
    if not isinstance(metrics, dict):
        raise ResultMismatch("'metrics' is not an object")
    checked = {}
    for notebook, values in metrics.items():
        if notebook not in expected.notebooks:
            raise ResultMismatch(f"metrics name an unknown notebook {_show(notebook)}")
        if not isinstance(values, dict) or len(values) > MAX_METRICS_PER_NOTEBOOK:
            raise ResultMismatch(f"metrics of {_show(notebook)} are not an object of at most "
                                 f"{MAX_METRICS_PER_NOTEBOOK} numbers")
        for name, value in values.items():
            if not (isinstance(name, str) and 0 < len(name) <= MAX_METRIC_NAME
                    and name.isprintable()):
                raise ResultMismatch(f"metric name {_show(name)} of {_show(notebook)} is not "
                                     f"a printable string of 1-{MAX_METRIC_NAME} characters")
            _number(value, f"metric {_show(name)} of {_show(notebook)}")
        checked[notebook] = {name: float(value) for name, value in sorted(values.items())}
    return checked


def _number(value, what) -> float:
    """A finite int or float (not a bool) as float, else :class:`ResultMismatch`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ResultMismatch(f"{what} is not a number: {_show(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ResultMismatch(f"{what} is not finite: {value}")
    try:
        return float(value)
    except OverflowError as err:  # an int beyond float range
        raise ResultMismatch(f"{what} is not finite: {_show(value)}") from err


def _name(key):
    return _show(f"{key[0]}:{key[1]}")


def _show(value, limit=80):
    """A short one-line rendering of a value the sandbox sent (it may be anything)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
