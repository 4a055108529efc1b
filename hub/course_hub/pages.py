"""The hub's own pages: templates that extend JupyterHub's, and the values they show.

Only the error page is replaced: a refusal (a login without a roll number, a roll number
another account holds) reads as one readable message with the course staff's contact,
not as the message twice, once as a page-wide heading.
"""

import os

#: give to ``JupyterHub.template_paths`` (searched before JupyterHub's own templates)
TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")


def template_vars(course_contact: str = "") -> dict:
    """``JupyterHub.template_vars``: ``course_contact`` (e.g. an e-mail address or a
    help-desk URL, shown under every error message; empty: not shown)."""
    return {"course_contact": course_contact.strip()}
