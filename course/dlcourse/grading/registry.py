"""Every check a rubric's sub-checks can name, in one table.

``checks`` (the labs' comparisons, gradient checks and seeded draws), ``training`` (the
labs' training checks), ``frameworks`` (module 06's Keras and PyTorch checks) and
``projects`` (modules 07 and 08) each define their own ``CHECKS``; the table is built
here, after all four, so none of them imports another to register itself.
"""

from dlcourse.grading import checks, frameworks, projects, training

CHECKS = {**checks.CHECKS, **training.CHECKS, **frameworks.CHECKS, **projects.CHECKS}
