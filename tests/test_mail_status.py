"""Mail's part of /status comes from a check of the server, never from deliveries.

The attack this closes: ask /iforgot for an address, then read /status. When
a refused recipient turned mail "unavailable", the pair told whether the
address had an account (only a known one gets an email the server can
refuse).
"""

import pytest
from conftest import USER
from test_outbox import check_mail_server
from test_reset import ask_for_link, deliver

from idm.mail import health, outbox, sender
from idm.mail.compose import Letter
from idm.models import MailCheck, db

HEALTHY = {"data": {"db": "ok", "mail": "ok"}}


@pytest.fixture
def app_config(smtp_server):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port}


def test_a_refused_recipient_does_not_show_on_status(app, client, user, smtp_server):
    smtp_server.inbox.refused.add(USER[0])
    check_mail_server(app)

    ask_for_link(client, USER[0])
    assert deliver(app) == (0, 1)  # 550: dropped for good, and in the log
    check_mail_server(app)
    after_known = client.get("/status").json

    ask_for_link(client, "nobody@example.org")
    assert deliver(app) == (0, 0)
    after_unknown = client.get("/status").json

    assert after_known == after_unknown == HEALTHY


def test_a_server_that_is_down_shows_with_its_reason_for_admins(
    app, client, admin_headers, smtp_server
):
    smtp_server.stop()
    check_mail_server(app)

    assert client.get("/status").json == {"data": {"db": "ok", "mail": "unavailable"}}
    reasons = client.get("/status", headers=admin_headers).json["data"]["reasons"]
    assert "ConnectionRefusedError" in reasons["mail"]

    smtp_server.start()
    check_mail_server(app)
    assert client.get("/status").json == HEALTHY


def test_one_check_per_interval_whichever_sender_runs(app, make_app, app_config, smtp_server):
    other_worker = make_app(**app_config)
    for worker in (app, other_worker, app, other_worker):
        sender.Sender(worker).send_round()  # what each sender does every few seconds

    assert smtp_server.inbox.noops == 1
    with app.app_context():
        check = db.session.get(MailCheck, 1)
        assert check is not None and check.problem is None


def test_the_check_sends_no_mail(app, smtp_server):
    check_mail_server(app)
    assert smtp_server.inbox.noops == 1
    assert smtp_server.messages == []


def test_without_a_mail_server_nothing_is_checked_and_mail_is_ok(app, client):
    app.config["MAIL_SERVER"] = None
    with app.app_context():
        health.check_if_due()
        assert db.session.get(MailCheck, 1) is None
    assert client.get("/status").json == HEALTHY


@pytest.mark.parametrize("username", [USER[0], "nobody@example.org"])
def test_iforgot_wakes_the_sender_once_the_response_is_sent(
    app, client, user, username, monkeypatch
):
    woken = []
    monkeypatch.setattr(sender, "wake", lambda app_: woken.append(app_))

    response = ask_for_link(client, username)
    assert response.status_code == 200
    assert woken == []  # not while the response is still on its way

    response.close()  # what the server does after the last byte
    assert woken == [app]


def test_mail_that_waits_too_long_is_not_ok_even_if_the_server_answers(
    app, client, admin_headers, smtp_server, fake_clock
):
    check_mail_server(app)
    with app.app_context():
        outbox.enqueue("someone@example.org", Letter("Hello", "text", "<p>html</p>"))
        db.session.commit()
    assert client.get("/status").json == HEALTHY

    fake_clock.advance(301)  # IDM_MAIL_STUCK_SECONDS: nobody delivered it

    assert client.get("/status").json == {"data": {"db": "ok", "mail": "unavailable"}}
    data = client.get("/status", headers=admin_headers).json["data"]
    assert data["reasons"] == {"mail": "1 emails waiting, the oldest for more than 300 seconds"}
    assert data["mail_queue"] == {"depth": 1, "oldest_age_seconds": 301}

    assert deliver(app) == (1, 0)
    assert client.get("/status").json == HEALTHY
    queue = client.get("/status", headers=admin_headers).json["data"]["mail_queue"]
    assert queue == {"depth": 0, "oldest_age_seconds": 0}


def test_a_server_that_answers_again_gets_the_waiting_mail_at_once(
    app, client, user, smtp_server, fake_clock
):
    smtp_server.stop()
    ask_for_link(client, USER[0])
    for _ in range(3):  # back-offs of 30, 60 and 120 seconds
        assert deliver(app) == (0, 1)
        fake_clock.advance(200)
    assert deliver(app) == (0, 1)  # now waiting 240 seconds more

    smtp_server.start()
    check_mail_server(app)

    assert deliver(app) == (1, 0)  # no waiting out the back-off
    assert smtp_server.wait_for(1)[0]["To"] == USER[0]


def test_the_server_is_checked_often_while_it_fails(app, smtp_server, fake_clock):
    app.config["IDM_MAIL_CHECK_SECONDS"] = 60  # IDM_MAIL_POLL_SECONDS stays 5
    smtp_server.stop()
    with app.app_context():
        health.check_if_due()  # the first check: fails
        fake_clock.advance(6)
        smtp_server.start()
        health.check_if_due()  # 6 s later, not 60: finds it back
        assert db.session.get(MailCheck, 1).problem is None
        fake_clock.advance(6)
        health.check_if_due()  # all well and nothing waits: back to every 60 s
    assert smtp_server.inbox.noops == 1
