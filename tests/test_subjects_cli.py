"""``flask subjects import FILE.csv`` (all rows or none) and ``flask subjects export``."""

import csv
import io
import os
import secrets
import subprocess
import sys

import pytest
from conftest import ROOT, upgrade_schema
from sqlalchemy import func, select
from study_helpers import STUDY_CONFIG

from idm.models import AuditEvent, Subject, db

GOOD = """sssid,name,bday,email
S-0001,Jane Roe,1980-05-01,jane@example.org
S-0002,"Smith, John",1975-12-31,
S-0003,Ünal Çelik,2001-02-03,unal@example.org
"""


@pytest.fixture
def app_config():
    return STUDY_CONFIG


def write(tmp_path, text, name="subjects.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_import_creates_every_row_with_its_event(app, runner, client, user_headers, tmp_path):
    result = runner.invoke(args=["subjects", "import", write(tmp_path, GOOD)])

    assert result.exit_code == 0, result.output
    assert "imported 3 subjects from" in result.output
    body = client.get("/subject?ordercol=sssid", headers=user_headers).json
    assert body["total"] == 3
    assert [(s["sssid"], s["name"], s["email"]) for s in body["data"]] == [
        ("S-0001", "Jane Roe", "jane@example.org"),
        ("S-0002", "Smith, John", None),
        ("S-0003", "Ünal Çelik", "unal@example.org"),
    ]
    log = client.get("/subject/S-0002/audits", headers=user_headers).json["data"]
    assert log == [{"datetime": log[0]["datetime"], "actor": None, "action": "create"}]
    assert client.get("/subject?search=ünal", headers=user_headers).json["total"] == 1


def test_import_takes_the_optional_dates_and_a_spreadsheets_bom(
    runner, client, user_headers, tmp_path
):
    text = (
        "sssid,name,bday,date_invited,date_consented\r\n"
        "S-1,Jane Roe,1980-05-01,2026-11-20,2026-11-24T17:40:00+01:00\r\n\r\n"
    )

    result = runner.invoke(args=["subjects", "import", write(tmp_path, text, encoding="utf-8-sig")])

    assert result.exit_code == 0, result.output
    subject = client.get("/subject/S-1", headers=user_headers).json["data"]
    assert subject["date_consented"] == "2026-11-24T16:40:00+00:00"
    actions = [
        row["action"]
        for row in client.get("/subject/S-1/audits", headers=user_headers).json["data"]
    ]
    assert actions == [
        "create",
        "invited: 2026-11-20T00:00:00+00:00",
        "consented: 2026-11-24T16:40:00+00:00",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: the file is empty"),
        ("sssid,name\nS-1,Jane\n", "line 1: column bday is missing"),
        ("sssid,name,bday,phone\n", "line 1: unknown column 'phone'"),
        ("sssid,name,bday,status\n", "line 1: column status is derived by the service"),
        ("sssid,name,bday,date_enrolled\n", "line 1: column date_enrolled is derived"),
        ("sssid,name,bday,name\n", "line 1: column name appears twice"),
        (
            GOOD + "S-0004,Bad Day,1980-02-30,\n",
            "line 5: bday 1980-02-30 is not a date of the calendar",
        ),
        (GOOD + "S 5,Space,1980-01-01,\n", "line 5: sssid must be 1 to 64 of A-Z a-z 0-9 . _ -"),
        (GOOD + "S-0005,,1980-01-01,\n", "line 5: name is required"),
        (GOOD + "S-0005,No Mail,1980-01-01,nope\n", "line 5: email must be an email address"),
        (GOOD + "S-0005,Short,1980-01-01\n", "line 5: 3 values where the header names 4"),
        (GOOD + "S-0002,Twice,1980-01-01,\n", "line 5: sssid S-0002 is also on line 3"),
        ('sssid,name,bday,email\nS-1,"Jane\n', "not CSV"),
    ],
)
def test_a_bad_row_refuses_the_whole_file(app, runner, tmp_path, text, message):
    result = runner.invoke(args=["subjects", "import", write(tmp_path, text)])

    assert result.exit_code == 1
    assert message in result.output and "nothing imported" in result.output
    assert count(app, Subject) == 0 and count(app, AuditEvent) == 0


def test_an_sssid_that_exists_refuses_the_file(app, runner, client, user_headers, tmp_path):
    body = {"sssid": "S-0003", "name": "Already Here", "bday": "1990-01-01"}
    assert client.post("/subject", json=body, headers=user_headers).status_code == 201

    result = runner.invoke(args=["subjects", "import", write(tmp_path, GOOD)])

    assert result.exit_code == 1
    assert "line 4: sssid S-0003 already exists; nothing imported" in result.output
    assert count(app, Subject) == 1


def test_a_file_that_is_not_utf8_is_refused(app, runner, tmp_path):
    result = runner.invoke(args=["subjects", "import", write(tmp_path, GOOD, encoding="utf-16")])

    assert result.exit_code == 1 and "UTF-8" in result.output
    assert count(app, Subject) == 0


def test_export_writes_every_subject_with_its_derived_dates(runner, client, user_headers, tmp_path):
    runner.invoke(args=["subjects", "import", write(tmp_path, GOOD)])
    client.post(
        "/subject",
        json={"sssid": "S-0000", "name": "=HYPERLINK(1)", "bday": "1999-09-09"},
        headers=user_headers,
    )

    result = runner.invoke(args=["subjects", "export"])

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert list(rows[0]) == [
        "sssid", "name", "bday", "email", "date_invited", "date_consented",
        "date_enrolled", "date_withdrawn", "created", "changed",
    ]  # fmt: skip
    assert [row["sssid"] for row in rows] == ["S-0000", "S-0001", "S-0002", "S-0003"]
    assert rows[0]["name"] == "'=HYPERLINK(1)"  # a spreadsheet shows it, never runs it
    assert rows[2]["name"] == "Smith, John" and rows[2]["email"] == ""
    assert rows[1]["created"].endswith("+00:00")


@pytest.mark.slow
def test_the_commands_as_an_operator_runs_them(tmp_path, database_uri):
    """A separate process with the service's settings file: import, then export."""
    settings = tmp_path / "settings.py"
    settings.write_text(
        f"SECRET_KEY = {secrets.token_hex(32)!r}\nSQLALCHEMY_DATABASE_URI = {database_uri!r}\n"
        "IDM_PUBLIC_URL = 'https://idm.example.org'\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env["IDM_SETTINGS"] = str(settings)
    upgrade_schema(env)
    flask = [sys.executable, "-m", "flask", "--app", "app", "subjects"]

    imported = subprocess.run(
        [*flask, "import", write(tmp_path, GOOD)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    exported = subprocess.run([*flask, "export"], cwd=ROOT, env=env, capture_output=True, text=True)

    assert imported.returncode == 0, imported.stderr
    assert exported.returncode == 0, exported.stderr
    assert [row["name"] for row in csv.DictReader(io.StringIO(exported.stdout))] == [
        "Jane Roe",
        "Smith, John",
        "Ünal Çelik",
    ]
