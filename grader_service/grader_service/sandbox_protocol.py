"""What the grading service hands a sandbox, shared by both sides (no heavy imports).

The sandbox input is one tar holding ``source/`` (the instructor's files, hidden tests
included), ``submission/`` (the student's files) and :data:`JOB_INFO`, a JSON object
``{"course", "assignment", "roll_number"}`` whose roll number is the authoritative one
from the hub, for the rubric's spec checks. The sandbox answers with one JSON object
on stdout (see ``grader_service.autograde.pipeline``).

Two identities live in every sandbox (see ``grader_service.autograde.identities``):

- the **checker** (:data:`CHECKER_UID`) reads the input, decides every verdict and
  writes the result; it is PID 1 of the container and its home is
  :data:`CHECKER_HOME` (mode 0700);
- the **student** (:data:`STUDENT_UID`) runs the submitted code and nothing else; its
  home is :data:`STUDENT_HOME`. It cannot signal, ptrace or read the checker.

The container starts as root with only :data:`SANDBOX_CAPABILITIES` (everything else
dropped, ``no-new-privileges``); the autograder drops to the checker uid at once,
keeping just those capabilities to start and stop student processes, which run with
none. :func:`identity_args` are the autograder flags that ask for this separation.

The student's process imports the **student build** of ``dlcourse`` (no reference
implementation of any graded function, see ``dlcourse.builds``); the reference modules
live only in :data:`REFERENCE_LIBRARY`, owned by the checker uid with mode 0700, and
the checker adds them to its own ``dlcourse`` package once it has become the checker.
The frameworks are readable only through :data:`FRAMEWORK_GID`, which the student's
process is given for labs that may use them.
"""

JOB_INFO = "job.json"

CHECKER_UID = 1001
STUDENT_UID = 1000
CHECKER_HOME = "/home/grader"
STUDENT_HOME = "/home/student"
#: The checker-only half of ``dlcourse`` in the sandbox image (``dlcourse.builds``).
REFERENCE_LIBRARY = "/opt/checker/reference"
#: Group that may read the deep-learning frameworks (torch, tensorflow, keras) in the
#: sandbox image: the checker always holds it; the student's process only for labs
#: whose rubric allows frameworks (the from-scratch labs block them).
FRAMEWORK_GID = 1002
FRAMEWORK_PACKAGES = ("torch", "torchgen", "functorch", "tensorflow", "keras")
#: Capabilities the sandbox container starts with (Docker ``cap_add`` / Kubernetes
#: ``capabilities.add`` after dropping ALL): enough to switch to the two uids and to
#: stop the student's processes; student processes end up with none.
SANDBOX_CAPABILITIES = ("SETUID", "SETGID", "KILL")


def identity_args(checker_uid=CHECKER_UID, student_uid=STUDENT_UID):
    """Autograder command-line flags that run checker and student under two uids."""
    return ["--checker-uid", str(checker_uid), "--student-uid", str(student_uid)]
