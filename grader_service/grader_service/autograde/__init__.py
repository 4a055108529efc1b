"""Sandbox autograder: ``python -m grader_service.autograde`` (needs the ``sandbox`` extra).

Input: a directory (``--input``) or a tar on stdin holding ``source/`` (instructor
source files, with hidden tests), ``submission/`` (the student's files) and ``job.json``
(see :mod:`grader_service.sandbox_protocol`).
Output: exactly one JSON object on stdout (see :mod:`.pipeline`).
"""
