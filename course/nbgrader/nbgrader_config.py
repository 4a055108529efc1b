"""nbgrader course directory for the instructors' side of the course.

`nbgrader generate_assignment <name>` here turns source/<name>/ (with solutions and
hidden tests) into release/<name>/ (student versions). Release and collection go
through the grading service's exchange (configured in the single-user image).
"""

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "dl101"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
# The project modules (07, 08) write submission_<roll>.json next to the notebook; an
# instructor's run of the solution in source/ must not ship theirs to students.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*",
                            "submission_*.json"]
