"""What the grading service hands a sandbox, shared by both sides (no heavy imports).

The sandbox input is one tar holding ``source/`` (the instructor's files, hidden tests
included), ``submission/`` (the student's files) and :data:`JOB_INFO`, a JSON object
``{"course", "assignment", "roll_number"}`` whose roll number is the authoritative one
from the hub, for the rubric's spec checks. The sandbox answers with one JSON object
on stdout (see ``grader_service.autograde.pipeline``).
"""

JOB_INFO = "job.json"
