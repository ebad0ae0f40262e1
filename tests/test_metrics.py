"""GET /metrics: Prometheus figures of every worker, for monitoring only."""

import re
import urllib.request

import pytest
from conftest import LiveServer, http_json, json_error

from idm.mail import outbox
from idm.mail.compose import Letter
from idm.models import db


def value(text, name, **labels):
    """The sample *name*{labels} of an exposition, 0 when absent."""
    wanted = ",".join(f'{key}="{val}"' for key, val in sorted(labels.items()))
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" (\S+)"
    found = re.search("^" + pattern + "$", text, re.M)
    return float(found.group(1)) if found else 0.0


def scrape(client, **kwargs):
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.text
    assert response.mimetype == "text/plain"
    return response.text


def test_loopback_may_read_them_and_others_may_not(client):
    assert "idm_http_requests_total" in scrape(client)

    message = json_error(client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}), 403)
    assert "IDM_METRICS_TOKEN" in message


def test_the_token_opens_them_from_anywhere(make_app):
    settings = {"IDM_METRICS_TOKEN": "prometheus-scrape-token-123", "IDM_METRICS_ALLOW_FROM": []}
    client = make_app(**settings).test_client()
    elsewhere = {"REMOTE_ADDR": "203.0.113.9"}
    good = {"Authorization": "Bearer prometheus-scrape-token-123"}
    bad = {"Authorization": "Bearer guess"}

    assert "idm_outbox_depth" in scrape(client, headers=good, environ_base=elsewhere)
    json_error(client.get("/metrics", headers=bad, environ_base=elsewhere), 403)
    json_error(client.get("/metrics", environ_base=elsewhere), 403)


def test_the_figures_move_with_what_happens(make_app, user):
    client = make_app().test_client()
    before = scrape(client)

    client.post("/auth", json={"username": user[0], "password": "wrong password"})
    client.post("/auth", json={"username": user[0], "password": user[1]})
    client.post("/iforgot-nothing")

    after = scrape(client)
    for outcome in ("failed", "ok"):
        grown = value(after, "idm_logins_total", outcome=outcome)
        assert grown == value(before, "idm_logins_total", outcome=outcome) + 1
    assert value(after, "idm_tokens_total", event="issued") >= 1
    assert value(after, "idm_http_requests_total", method="POST", route="/auth", status="401") >= 1
    assert (
        value(after, "idm_http_requests_total", method="POST", route="(unmatched)", status="404")
        >= 1
    )


def test_the_outbox_is_read_from_the_database(app, client, fake_clock):
    with app.app_context():
        outbox.enqueue("someone@example.org", Letter("Hello", "text", "<p>html</p>"))
        db.session.commit()
    fake_clock.advance(120)

    text = scrape(client)

    assert value(text, "idm_outbox_depth") == 1
    assert value(text, "idm_outbox_oldest_age_seconds") == pytest.approx(120, abs=1)


@pytest.mark.slow
def test_every_worker_counts_under_gunicorn(tmp_path, database_uri):
    server = LiveServer(tmp_path, workers=3, database_uri=database_uri)
    try:
        for _ in range(60):
            http_json(server.url + "/status")
        with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        server.stop()
    served = value(text, "idm_http_requests_total", method="GET", route="/status", status="200")
    assert served == 60  # the sum over all three workers, whichever answered the scrape
