"""``grader_service/openapi.yaml`` is valid OpenAPI 3 and describes exactly the app's routes."""

import os
import re

import pytest
import yaml
from authz_matrix import ROWS
from openapi_spec_validator import validate

from tests.conftest import REPO

METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture(scope="module")
def spec():
    with open(os.path.join(REPO, "grader_service", "openapi.yaml")) as fh:
        return yaml.safe_load(fh)


def _operations(spec):
    return {(method.upper(), path) for path, item in spec["paths"].items()
            for method in item if method in METHODS}


def _app_routes(app):
    return {(method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
            for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def test_document_is_valid_openapi(spec):
    validate(spec)


def test_every_route_documented_and_nothing_else(app, spec):
    documented, served = _operations(spec), _app_routes(app)
    assert served - documented == set(), "undocumented routes"
    assert documented - served == set(), "documented routes the app does not serve"


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.method} {r.path}" for r in ROWS])
def test_every_status_of_the_authorization_matrix_is_documented(spec, row):
    path = row.path
    for name, param in (("{sid}", "{submission_id}"), ("{done}", "{submission_id}"),
                        ("{graded}", "{submission_id}"), ("{item}", "{test_id}"),
                        ("{roll}", "{roll_number}")):
        path = path.replace(name, param)
    documented = set(spec["paths"][path][row.method.lower()]["responses"])
    assert {str(code) for code in row.expected.values()} <= documented
