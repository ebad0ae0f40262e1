"""The service's log: one line per event with the request id, JSON on request, repeats folded."""

import json
import logging

from conftest import json_error

from idm import logs
from idm.mail import sender


def idm_lines(capsys):
    return [
        line for line in capsys.readouterr().err.splitlines() if " idm." in line or '"idm.' in line
    ]


def test_a_line_carries_the_request_id_nginx_set(client, capsys, admin_headers, database_gone):
    response = client.get("/user/me", headers={**admin_headers, "X-Request-ID": "abc123"})

    json_error(response, 503)
    [line] = [line for line in idm_lines(capsys) if "database unavailable" in line]
    assert "rid=abc123" in line


def test_a_database_outage_is_one_short_line_without_sql_or_parameters(
    client, capsys, admin_headers, database_gone
):
    client.get("/user/me", headers=admin_headers)

    [line] = [line for line in idm_lines(capsys) if "database unavailable" in line]
    assert "database unavailable on GET /user/me: " in line
    assert "SELECT" not in line and "[SQL" not in line and "sqlalche.me" not in line


def test_repeats_are_counted_not_written(app, client, capsys, admin_headers, database_gone):
    for _ in range(50):
        client.get("/user/me", headers=admin_headers)
    lines = [line for line in idm_lines(capsys) if "database unavailable" in line]
    assert len(lines) == 1

    folder = next(
        f
        for h in logging.getLogger("idm").handlers
        for f in h.filters
        if isinstance(f, logs.FoldRepeats)
    )
    for entry in folder.seen.values():
        entry[0] -= folder.seconds  # the interval is over
    client.get("/user/me", headers=admin_headers)

    [line] = [line for line in idm_lines(capsys) if "database unavailable" in line]
    assert line.endswith("[and 49 more like this in the last 60 s]")


def test_json_lines_hold_the_traceback_in_one_line(make_app, capsys, monkeypatch):
    client = make_app(IDM_LOG_FORMAT="json").test_client()

    def boom():
        raise RuntimeError("broken")

    monkeypatch.setattr("idm.web.bootstrap.admin_exists", boom)
    client.get("/init", headers={"X-Request-ID": "r-1"})

    [line] = [
        line for line in capsys.readouterr().err.splitlines() if '"logger": "idm.errors"' in line
    ]
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["request_id"] == "r-1"
    assert entry["message"] == "unhandled error on GET /init"
    assert "RuntimeError: broken" in entry["traceback"]


def test_a_request_id_from_a_client_cannot_break_a_line(app):
    with app.test_request_context(headers={"X-Request-ID": 'a"b c;d'}):
        assert logs.request_id() == "abcd"


def test_the_run_notes_the_secrets_that_pass_and_finds_them_in_a_log(client, admin):
    import log_secrets

    token = client.post("/auth", json={"username": admin[0], "password": admin[1]}).json

    assert admin[1] in log_secrets.SECRETS and token["access_token"] in log_secrets.SECRETS
    line = f"INFO idm.x Authorization: Bearer {token['access_token']}"
    assert log_secrets.found_in(line) == [token["access_token"]]


def test_a_mail_sender_round_in_a_database_outage_is_one_line_without_traceback(
    app, capsys, database_gone
):
    for _ in range(3):  # three rounds of one sender, as during an outage
        sender.Sender(app).send_round()

    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "mail sender" in line]
    assert len(lines) == 1  # the repeats are folded
    assert "WARNING idm.mail.sender" in lines[0]
    assert "the database is unavailable: " in lines[0]
    assert "Traceback" not in err
