"""``create_app`` only wires; the storage is prepared once (``dl-grader migrate``, and
``dl-grader serve`` before it starts its processes); an HTTP-only process builds no
grading service and wakes the grading process instead."""

import threading

import pytest
from grader_testing import CALLERS, StaticIdentityProvider
from sqlalchemy import create_engine, inspect

from grader_service import wakeup
from grader_service.app import create_app
from grader_service.cli import main
from grader_service.config import from_env
from grader_service.prepare import prepare


def settings(data_dir, **more):
    return {"DATA_DIR": str(data_dir), "DATABASE_URL": "", "RUNNER": "local",
            "SIGNING_KEY_FILE": "", "SUBMIT_RATE": "",
            "IDENTITY_PROVIDER": StaticIdentityProvider(CALLERS), **more}


#: With the LMS exporter, whose tool key migrate makes too.
WITH_LTI = {"EXPORTERS": "csv,lti-ags", "LTI_CLIENT_ID": "tool",
            "LTI_TOKEN_URL": "https://lms.example/token"}


def test_create_app_writes_nothing_and_asks_for_migrate(tmp_path):
    data = tmp_path / "data"
    with pytest.raises(RuntimeError, match="run `dl-grader migrate` first"):
        create_app(settings(data))
    assert not data.exists()  # no folder, database or key made by the factory


def files_in(folder):
    return {(p.relative_to(folder), p.stat().st_size) for p in folder.rglob("*")}


def test_create_app_changes_no_file(tmp_path):
    data = tmp_path / "data"
    prepare({**from_env(), **settings(data, **WITH_LTI)})
    (data / "grader.sqlite").unlink()
    before = files_in(data)
    app = create_app(settings(data, **WITH_LTI))
    assert files_in(data) == before  # no database (only an unconnected engine), no keys
    app.extensions["grader_engine"].dispose()


@pytest.mark.parametrize("made_by_migrate", ["signing_key.pem", "session_secret",
                                             "lti_tool_key.pem"])
def test_create_app_names_what_migrate_must_make(tmp_path, made_by_migrate):
    data = tmp_path / "data"
    prepare({**from_env(), **settings(data, **WITH_LTI)})
    (data / made_by_migrate).unlink()
    with pytest.raises(RuntimeError, match=f"{made_by_migrate}: run `dl-grader migrate` first"):
        create_app(settings(data, **WITH_LTI))


def test_prepare_migrates_and_makes_the_keys_once(tmp_path):
    data = tmp_path / "data"
    config = {**from_env(), **settings(data, **WITH_LTI)}
    first = prepare(config)
    key = (data / "signing_key.pem").read_bytes()
    tool_key = (data / "lti_tool_key.pem").read_bytes()
    assert first["signing_key_created"] is True
    second = prepare(config)
    assert second["signing_key_created"] is False
    assert (data / "signing_key.pem").read_bytes() == key  # kept, never replaced
    assert (data / "lti_tool_key.pem").read_bytes() == tool_key
    engine = create_engine(f"sqlite:///{data / 'grader.sqlite'}")
    assert {"alembic_version", "submissions"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_dl_grader_migrate(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRADER_DATA_DIR", str(tmp_path / "data"))
    assert main(["migrate"]) == 0
    assert "signing key created" in capsys.readouterr().out
    assert main(["migrate"]) == 0
    assert "signing key kept" in capsys.readouterr().out


def test_an_http_only_app_builds_no_grading_and_wakes_the_grading_process(
        tmp_path, actions_factory):
    data = tmp_path / "data"
    prepare({**from_env(), **settings(data)})
    http = create_app(settings(data), grading=False)
    assert "grader_workers" not in http.extensions
    heard = threading.Event()
    socket_path = str(tmp_path / "wakeup.sock")
    wakeup.listen_for_wakeups(socket_path, heard.set)  # as the grading process does
    wakeup.init_app(http, wakeup.WakeupSender(socket_path))
    actions = actions_factory(http.test_client())
    assert actions.release().status_code == 201
    heard.clear()
    assert actions.submit().status_code == 202  # accepted, queued
    assert heard.wait(5), "the submission did not wake the grading process"
    http.extensions["grader_engine"].dispose()
