"""Racing requests to the study API through gunicorn's workers: one winner, the rest 409.

Four workers, so the requests really run at once in separate processes,
on SQLite and on PostgreSQL. What decides is the database: a unique index
for subjects, conditional UPDATEs for dates, establishment and withdrawal.
"""

import threading
import urllib.request
import uuid

import log_secrets
import pytest
from conftest import ADMIN, LiveServer, http_json
from sqlalchemy import create_engine, text
from study_helpers import LINK_SECRET, patient

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path, database_uri):
    settings = f"IDM_LINK_SECRET = {LINK_SECRET!r}\n"
    live = LiveServer(tmp_path, workers=4, database_uri=database_uri, settings=settings)
    live.init_admin(*ADMIN)
    credentials = {"username": ADMIN[0], "password": ADMIN[1]}
    live.token = http_json(live.url + "/auth", "POST", credentials)[2]["access_token"]
    yield live
    live.stop()


def at_once(calls):
    """Run every call in its own thread, released together; their results in order."""
    start = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        start.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def call(server, method, path, body=None, token=None):
    status, _, data = http_json(server.url + path, method, body, token or server.token, "JWT")
    return status, data


def count(database_uri, sql):
    engine = create_engine(database_uri)
    with engine.connect() as connection:
        found = connection.scalar(text(sql))
    engine.dispose()
    return found


def consented_link(server):
    body = {
        "sssid": "S-1",
        "name": "Jane Roe",
        "bday": "1980-05-01",
        "date_consented": "2026-11-24",
    }
    assert call(server, "POST", "/subject", body)[0] == 201
    status, created = call(server, "POST", "/subject/S-1/links")
    assert status == 201
    return created["data"]["_id"]


def link_token(server, jti):
    """The bare JWT (http_json reads JSON only)."""
    request = urllib.request.Request(server.url + f"/link/{jti}/jwt")
    request.add_header("Authorization", f"Bearer {server.token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        token = response.read().decode()
    log_secrets.note(token)
    return token


def test_racing_creations_of_one_sssid_give_one_subject(server, database_uri):
    body = {"sssid": "S-1", "name": "Jane Roe", "bday": "1980-05-01"}

    results = at_once([lambda: call(server, "POST", "/subject", body)] * 12)

    assert sorted(status for status, _ in results) == [201] + [409] * 11
    assert call(server, "GET", "/subject")[1]["total"] == 1
    assert count(database_uri, "SELECT count(*) FROM subjects") == 1
    assert count(database_uri, "SELECT n FROM subject_count") == 1
    assert count(database_uri, "SELECT count(*) FROM audit_events WHERE subject = 'S-1'") == 1


def test_racing_apps_establish_a_link_once(server, database_uri):
    jti = consented_link(server)
    token = link_token(server, jti)
    apps = [str(uuid.uuid4()) for _ in range(10)]

    results = at_once(
        [
            lambda value=value: call(server, "POST", "/establish", patient(value), token)
            for value in apps
        ]
    )

    statuses = [status for status, _ in results]
    assert sorted(statuses) == [204] + [409] * 9
    winner = apps[statuses.index(204)]
    link = call(server, "GET", f"/link/{jti}")[1]["data"]
    assert link["linked_to"] == winner
    log = call(server, "GET", "/subject/S-1/audits")[1]["data"]
    assert [row["action"] for row in log if "link to" in row["action"]] == [
        f"[Link] link to {winner}"
    ]


def test_racing_consents_and_withdrawals_give_one_each(server, database_uri):
    jti = consented_link(server)
    body = {"sssid": "S-2", "name": "John Doe", "bday": "1970-01-01"}
    assert call(server, "POST", "/subject", body)[0] == 201
    consents = [
        lambda day=day: call(
            server, "PUT", "/subject/S-2", {"date_consented": f"2026-11-{day:02d}"}
        )
        for day in range(1, 9)
    ]
    withdrawals = [
        lambda day=day: call(server, "PUT", f"/link/{jti}", {"withdrawn_on": f"2026-12-{day:02d}"})
        for day in range(1, 9)
    ]

    results = at_once(consents + withdrawals)

    assert sorted(status for status, _ in results[:8]) == [200] + [409] * 7
    assert sorted(status for status, _ in results[8:]) == [200] + [409] * 7
    consent_events = "SELECT count(*) FROM audit_events WHERE action = 'subject.consent'"
    withdraw_events = "SELECT count(*) FROM audit_events WHERE action = 'link.withdraw'"
    assert count(database_uri, consent_events) == 2  # S-1 at creation, S-2 once
    assert count(database_uri, withdraw_events) == 1
    subject = call(server, "GET", "/subject/S-2")[1]["data"]
    winner = next(data for status, data in results[:8] if status == 200)
    assert subject["date_consented"] == winner["data"]["date_consented"]
