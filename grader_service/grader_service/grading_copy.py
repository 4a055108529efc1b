"""The grading copy of an assignment's source: what the sandbox needs, no solutions.

The sandbox's checker reads the instructor's source notebooks for their test cells
(hidden tests included), the points, and the imports of the locked cells; it never
needs the model solutions. So before a source goes into a sandbox, every solution
cell (autograded answers and manually graded answers alike) loses its code: even a
checker that were somehow read by the student's code would hold no answer.
"""

import json

from .autograde.cells import nbgrader_meta

#: What a solution cell holds in the grading copy.
STRIPPED = "# (solution removed from the grading copy)\n"


def strip_solutions(notebook: bytes) -> bytes:
    """The notebook with the source of every solution cell replaced by :data:`STRIPPED`.

    Anything that is not a notebook JSON object is returned unchanged: the sandbox
    reports an unreadable source notebook itself.
    """
    try:
        nb = json.loads(notebook)
    except ValueError:
        return notebook
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return notebook
    for cell in nb["cells"]:
        if isinstance(cell, dict) and nbgrader_meta(cell).get("solution"):
            cell["source"] = STRIPPED
            if cell.get("cell_type") == "code":
                cell["outputs"], cell["execution_count"] = [], None
    return json.dumps(nb, ensure_ascii=False, indent=1).encode("utf-8")


def grading_copy(name: str, data: bytes) -> bytes:
    """``merge_archives`` rewrite hook for the ``source`` part: notebooks lose solutions."""
    return strip_solutions(data) if name.endswith(".ipynb") else data
