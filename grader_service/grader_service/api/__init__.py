"""HTTP API: one blueprint per resource; :data:`BLUEPRINTS` is registered by ``create_app``."""

from . import assignments, feedback, gradebook, manual, service, submissions

BLUEPRINTS = (service.bp, assignments.bp, submissions.bp, feedback.bp, gradebook.bp,
               manual.bp)
