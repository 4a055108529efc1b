"""nbgrader's own autograder is off in the course's single-user servers.

``nbgrader autograde`` and the formgrader's *Autograde* button execute a submission
in the server that asks for it: for an instructor that is their own Jupyter server,
outside any sandbox, with their ``JUPYTERHUB_API_TOKEN`` and ``ROLL_NUMBER`` in the
environment. Submissions are graded by the grading service, in its sandbox, as they
arrive; nobody's server runs another person's code.

:func:`apply` puts :class:`RefuseLocalAutograde` in place of both of nbgrader's
``Autograde`` preprocessor lists, so the first step of every autograde raises with
:data:`MESSAGE` before any cell can run (the converter then removes the partial
``autograded/<student>/<assignment>`` folder, and the formgrader shows the message).
``nbgrader validate`` (the students' Validate button) is a different converter and is
not affected.
"""

from nbconvert.preprocessors import Preprocessor

MESSAGE = ("Autograding is disabled in this Jupyter server: submissions are graded by "
           "the course's grading service in its sandbox when they are submitted, never "
           "here. Collect (or `dl-grader pull-results <assignment>`) puts the service's "
           "results in the formgrader; use `dl-grader regrade` to grade again.")


class LocalAutogradeRefused(RuntimeError):
    """Raised instead of executing a submission in this server."""


class RefuseLocalAutograde(Preprocessor):
    """First step of nbgrader's autograde here: log :data:`MESSAGE` and raise.

    It refuses whether or not nbconvert's ``enabled`` flag is set (``__call__``, not
    ``preprocess``, is what the exporter runs).
    """

    def __call__(self, nb, resources):
        self.log.error(MESSAGE)
        raise LocalAutogradeRefused(MESSAGE)


def apply(c):
    """Make ``Autograde`` (CLI and formgrader) refuse on the traitlets config ``c``."""
    refuse = f"{__name__}.{RefuseLocalAutograde.__name__}"
    c.Autograde.sanitize_preprocessors = [refuse]
    c.Autograde.autograde_preprocessors = [refuse]
