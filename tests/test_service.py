"""GET / and GET /status: for humans, load balancers and monitoring."""

import logging

import pytest
from conftest import BROWSER_ACCEPT, json_error

HEALTHY = {"data": {"db": "ok", "mail": "ok"}}


def test_index(client):
    response = client.get("/")

    assert response.status_code == 200
    assert response.json == {"status": "ready"}


def test_index_for_a_browser_on_a_fresh_install_points_to_init(client):
    response = client.get("/", headers={"Accept": BROWSER_ACCEPT})

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    for link in ('href="/init"', 'href="/login"', 'href="/iforgot"'):
        assert link in response.text


def test_index_for_a_browser_once_an_admin_exists_has_no_init_link(client, admin):
    page = client.get("/", headers={"Accept": BROWSER_ACCEPT}).text

    assert 'href="/init"' not in page
    assert 'href="/login"' in page and 'href="/iforgot"' in page


@pytest.mark.parametrize("accept", ["*/*", "application/json", "application/json, text/html"])
def test_index_for_json_clients_stays_json(client, accept):
    response = client.get("/", headers={"Accept": accept})

    assert response.json == {"status": "ready"}


def test_status_for_anyone(client):
    response = client.get("/status")

    assert response.status_code == 200
    assert response.json == HEALTHY


def test_status_for_a_plain_user_has_no_reasons(client, user_headers):
    assert client.get("/status", headers=user_headers).json == HEALTHY


def test_status_with_a_bad_token_is_anonymous(client, admin):
    response = client.get("/status", headers={"Authorization": "Bearer not-a-token"})

    assert response.status_code == 200
    assert response.json == HEALTHY


def test_status_for_an_admin_adds_the_reasons(client, admin_headers):
    response = client.get("/status", headers=admin_headers)

    assert response.status_code == 200
    queue = {"depth": 0, "oldest_age_seconds": 0}
    assert response.json == {"data": {"db": "ok", "mail": "ok", "reasons": {}, "mail_queue": queue}}


@pytest.mark.parametrize("who", ["anyone", "admin"])
def test_status_when_the_database_is_unreachable(client, admin_headers, database_gone, caplog, who):
    headers = admin_headers if who == "admin" else {}

    response = client.get("/status", headers=headers)

    assert response.status_code == 503
    assert response.json == {"data": {"db": "unavailable", "mail": "ok"}}
    for leak in ("OperationalError", "sqlite", "psycopg", "unable to open", database_gone.secret):
        assert leak not in response.text
    # The operator learns why from the log.
    assert any("database unavailable" in r.getMessage() for r in caplog.records)
    assert all(r.levelno < logging.ERROR for r in caplog.records)


def test_status_recovers_with_the_database(client, database_gone):
    assert client.get("/status").status_code == 503
    database_gone.end()

    assert client.get("/status").json == HEALTHY


def test_other_endpoints_without_a_database_answer_503(client, database_gone):
    response = client.post("/auth", json={"username": "a@example.org", "password": "long enough"})

    assert json_error(response, 503) == "the database is unavailable; try again later"
    assert "sqlite" not in response.text.lower()
