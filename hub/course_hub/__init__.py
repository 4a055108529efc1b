"""JupyterHub side of the course platform.

- :mod:`course_hub.authenticator`: an OAuth/OIDC authenticator that refuses logins
  without a valid roll-number claim and keeps the normalised roll number in auth_state.
- :mod:`course_hub.lti`: the same rules for an LTI 1.3 launch from the LMS, with the
  course and role taken from the launch.
- :mod:`course_hub.claims`: claim paths and the roll-number check both logins share.
- :mod:`course_hub.roll_registry`: one account per roll number (a login whose roll
  number another account holds is refused until the staff release it).
- :mod:`course_hub.spawner_hooks`: puts the authoritative roll number, course id and
  grading-service address into each single-user server's environment.
- :mod:`course_hub.roles`: course roles from hub group names.
"""

__version__ = "0.2.0"
