"""The state one notebook carries through the grading pipeline."""

import dataclasses

import nbformat


@dataclasses.dataclass
class TestResult:
    """One autograded test cell (keys match the JSON output)."""

    notebook: str
    grade_id: str
    max_points: float
    points: float = 0.0
    passed: bool = False
    message: str = ""
    manual: bool = False  # graded by an instructor, not automatically

    def to_json(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass
class NotebookJob:
    """Grading state of one notebook: instructor source, student copy, working notebook."""

    name: str  # file name, e.g. "ps0.ipynb"
    source_path: str
    submission_path: str
    cell_timeout: float = 60.0
    assignment: str = ""  # from the grading service's job.json
    roll_number: str | None = None  # authoritative, from the grading service's job.json
    identity: object = None  # ChildIdentity the student's code runs as (None: same uid)
    files: dict = dataclasses.field(default_factory=dict)  # relpath -> bytes for the student
    rubric: object = None  # the course rubric grading this notebook, or None (test cells)
    instructor_cells: list = dataclasses.field(default_factory=list)  # locked cell sources
    source: nbformat.NotebookNode | None = None
    student: nbformat.NotebookNode | None = None
    nb: nbformat.NotebookNode | None = None  # the student's cells + the official tests
    tests: list = dataclasses.field(default_factory=list)  # list[TestResult], source order
    hidden_text: list = dataclasses.field(default_factory=list)  # hidden-test lines, never shown
    metrics: dict = dataclasses.field(default_factory=dict)  # numbers the checker measured
    problem: str = ""  # set when the notebook cannot be graded (missing, malformed)

    @property
    def max_score(self):
        return sum(t.max_points for t in self.tests)

    @property
    def score(self):
        return sum(t.points for t in self.tests)

    def to_json(self):
        return {"score": self.score, "max_score": self.max_score, "problem": self.problem or None}
