"""The grading service's app as a deployment has it: storage prepared first (what
``dl-grader migrate`` and ``dl-grader serve`` do once), then ``create_app``, which only
wires."""

from grader_service.app import create_app
from grader_service.config import from_env
from grader_service.prepare import prepare


def prepared_app(test_config=None, **kwargs):
    """``prepare`` for ``test_config`` (over the environment's settings), then ``create_app``."""
    prepare({**from_env(), **(test_config or {})})
    return create_app(test_config, **kwargs)
