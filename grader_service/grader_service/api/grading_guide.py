"""The grading guides of an assignment's hand-graded items (instructors only): what earns
full, partial and no credit, with exemplars (``dlcourse.grading.rubrics.guides``).
``pull-results`` puts each above its answer in the formgrader; students never get them."""

from flask import Blueprint, jsonify

from ..identity import Role
from .access import authorize, get_assignment

bp = Blueprint("grading_guide", __name__)


def assignment_guides(assignment, notebooks):
    """``[{notebook, grade_id, item, points, guide}]`` of the manual items of the
    assignment's rubric-graded ``notebooks`` that have a guide."""
    from dlcourse.grading.rubrics import notebook_rubric
    from dlcourse.grading.rubrics.guides import GUIDES

    found = []
    for notebook in notebooks:
        graded = notebook_rubric(assignment, notebook)
        if graded is None:
            continue
        rubric, items = graded
        for item in items:
            guide = GUIDES.get((rubric.name, item.id))
            if item.manual and guide:
                found.append({"notebook": notebook, "grade_id": f"rubric:{item.id}",
                              "item": item.description, "points": item.max_points,
                              "guide": guide})
    return found


@bp.get("/api/courses/<course>/assignments/<assignment>/grading-guide")
def grading_guide(course, assignment):
    authorize(course, Role.INSTRUCTOR)
    row = get_assignment(course, assignment)
    return jsonify(assignment_guides(assignment, row.notebooks or []))
