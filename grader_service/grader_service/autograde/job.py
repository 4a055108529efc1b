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
    workdir: str
    cell_timeout: float = 60.0
    kernel_name: str = "python3"
    assignment: str = ""  # from the grading service's job.json
    roll_number: str | None = None  # authoritative, from the grading service's job.json
    source: nbformat.NotebookNode | None = None
    student: nbformat.NotebookNode | None = None
    nb: nbformat.NotebookNode | None = None  # the notebook that is executed
    tests: list = dataclasses.field(default_factory=list)  # list[TestResult], source order
    hidden_text: list = dataclasses.field(default_factory=list)  # hidden-test lines, never shown
    problem: str = ""  # set when the notebook cannot be graded (missing, malformed, kernel died)

    @property
    def max_score(self):
        return sum(t.max_points for t in self.tests)

    @property
    def score(self):
        return sum(t.points for t in self.tests)

    def to_json(self):
        return {"score": self.score, "max_score": self.max_score, "problem": self.problem or None}
