"""HTTP API: one blueprint per resource; :data:`BLUEPRINTS` is registered by ``create_app``."""

from . import (
    assignments,
    course_source,
    feedback,
    gradebook,
    grading_guide,
    manual,
    roll_bindings,
    service,
    submissions,
)

BLUEPRINTS = (service.bp, assignments.bp, submissions.bp, feedback.bp, gradebook.bp,
               manual.bp, course_source.bp, roll_bindings.bp, grading_guide.bp)
