"""DL course grading service.

The package is split so that each install only imports what it needs:

* ``grader_service.exchange`` - nbgrader exchange client (needs only ``requests``),
* ``grader_service.autograde`` - the sandbox entrypoint (needs the ``sandbox`` extra),
* everything else - the Flask service (needs the ``server`` extra).
"""

__version__ = "0.3.0"
