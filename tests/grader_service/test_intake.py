"""Accepting submissions concurrently: group commit, the resubmission limit under races
(within one service and across two replicas on one database), the policy cache."""

import io
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from grader_testing import (
    CALLERS,
    COURSE,
    StaticIdentityProvider,
    auth,
    fixture_tar,
    stored_submissions,
)

from grader_service.auth import Identity
from tests.grader_service.prepared import prepared_app

BOTH_BACKENDS = True
SUBMIT = f"/api/courses/{COURSE}/assignments/ps0/submissions"
STUDENTS = {f"s{i:02d}-token": Identity(f"s{i:02d}", frozenset({"nbgrader-ml101"}),
                                        roll_number=f"21CS{i:03d}") for i in range(40)}


def make_app(data_dir, database_url):
    return prepared_app({"DATA_DIR": data_dir, "DATABASE_URL": database_url, "RUNNER": "local",
                         "IDENTITY_PROVIDER": StaticIdentityProvider({**CALLERS, **STUDENTS}),
                         "EXPORTERS": "csv"})


def submit_together(jobs):
    """Run ``[(app, token)]`` submissions released by one barrier; return the replies."""
    barrier = threading.Barrier(len(jobs))
    data = fixture_tar("student_right")

    def one(job):
        app, token = job
        client = app.test_client()
        barrier.wait()
        return client.post(SUBMIT, headers=auth(token),
                           data={"submission": (io.BytesIO(data), "submission.tar.gz")})

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(one, jobs))


@pytest.fixture
def replicas(data_dir, database_url):
    """Two service instances (own engine, own committer) on one database."""
    apps = [make_app(data_dir, database_url) for _ in range(2)]
    yield apps
    for app in apps:
        app.extensions["grader_engine"].dispose()


def test_many_students_at_once_are_all_stored_once(replicas, actions_factory):
    app = replicas[0]
    assert actions_factory(app.test_client()).release().status_code == 201
    replies = submit_together([(app, token) for token in STUDENTS])
    assert [r.status_code for r in replies] == [202] * len(STUDENTS)
    assert {r.json["attempt"] for r in replies} == {1}
    rows = stored_submissions(app, "id, username")
    assert sorted(rows) == sorted((r.json["submission_id"], n.split("-")[0])
                                  for r, n in zip(replies, STUDENTS, strict=True))


def test_one_student_submitting_in_parallel_cannot_exceed_the_limit(replicas, actions_factory):
    app = replicas[0]
    actions_factory(app.test_client()).release(max_submissions="3")
    replies = submit_together([(app, "alice-token")] * 12)
    accepted = [r for r in replies if r.status_code == 202]
    assert sorted(r.json["attempt"] for r in accepted) == [1, 2, 3]
    assert sorted(r.status_code for r in replies) == [202] * 3 + [409] * 9
    assert all("at most 3" in r.json["error"] for r in replies if r.status_code == 409)
    assert len(stored_submissions(app)) == 3


def test_two_replicas_cannot_both_take_the_last_attempt(replicas, actions_factory):
    actions_factory(replicas[0].test_client()).release(max_submissions="1")
    tokens = list(STUDENTS)[:10]
    replies = submit_together([(app, token) for token in tokens for app in replicas])
    by_student = {}
    for (_app, token), reply in zip([(a, t) for t in tokens for a in replicas], replies,
                                    strict=True):
        by_student.setdefault(token, []).append(reply.status_code)
    assert all(sorted(codes) == [202, 409] for codes in by_student.values()), by_student
    numbers = stored_submissions(replicas[1], "username, submission_number")
    assert sorted(numbers) == sorted((t.split("-")[0], 1) for t in tokens)


def test_a_new_release_policy_applies_at_once(app, actions):
    actions.release(max_submissions="1")
    assert actions.submit().status_code == 202
    assert actions.submit().status_code == 409  # the policy is now cached
    actions.release(max_submissions="2")  # re-release in this process clears the cache
    assert actions.submit().status_code == 202


def test_an_unreleased_assignment_is_404_even_after_a_release_elsewhere(app, actions):
    assert actions.submit(assignment="ps9").status_code == 404
    actions.release(assignment="ps9")
    assert actions.submit(assignment="ps9").status_code == 202  # absence is never cached


class _DriverError(Exception):
    def __init__(self, sqlstate):
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(("sqlstate", "race"), [("40P01", True), ("40001", True),
                                                 ("23505", False), ("53300", False)])
def test_deadlocks_and_serialization_failures_are_redone_not_reported(sqlstate, race):
    from sqlalchemy.exc import IntegrityError, OperationalError

    from grader_service.intake import is_race

    assert is_race(OperationalError("INSERT", {}, _DriverError(sqlstate))) is race
    assert is_race(IntegrityError("INSERT", {}, _DriverError(sqlstate)))  # a unique key
    assert not is_race(RuntimeError("disk full"))
