"""Every check a rubric's sub-checks can name, in one table.

``checks`` (the labs' comparisons, gradient checks, training and spec checks),
``frameworks`` (module 06's Keras and PyTorch checks) and ``projects`` (modules 07
and 08) each define their own ``CHECKS``; the table is built here, after all three,
so none of them imports another to register itself.
"""

from dlcourse.grading import checks, frameworks, projects

CHECKS = {**checks.CHECKS, **frameworks.CHECKS, **projects.CHECKS}
