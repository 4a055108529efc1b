"""Helpers for nbgrader cell metadata (``cell.metadata.nbgrader``)."""

BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def grade_id(cell):
    return nbgrader_meta(cell).get("grade_id")


def is_test_cell(cell):
    """An autograded test: ``grade`` is true and ``solution`` is not."""
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and cell.get("cell_type") == "code"


def is_solution_cell(cell):
    return bool(nbgrader_meta(cell).get("solution"))


def is_locked_code_cell(cell):
    """A read-only instructor code cell (setup, configuration): neither answer nor test."""
    meta = nbgrader_meta(cell)
    return (cell.get("cell_type") == "code" and bool(meta.get("locked"))
            and not meta.get("solution") and not meta.get("grade"))


def points(cell):
    try:
        return float(nbgrader_meta(cell).get("points", 0) or 0)
    except (TypeError, ValueError):
        return 0.0


def hidden_lines(source):
    """Lines between the hidden-test markers (what students must never see)."""
    inside, lines = False, []
    for line in source.splitlines():
        marker = line.strip()
        if marker == BEGIN_HIDDEN:
            inside = True
        elif marker == END_HIDDEN:
            inside = False
        elif inside and marker:
            lines.append(marker)
    return lines
