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

from idm.mail import delivery, sender
from idm.models import MailCheck, db

HEALTHY = {"data": {"db": "ok", "mail": "ok"}}


@pytest.fixture
def app_config(smtp_server):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port}


def test_a_refused_recipient_does_not_show_on_status(app, client, user, smtp_server):
    smtp_server.inbox.refused.add(USER[0])
    check_mail_server(app)

    ask_for_link(client, USER[0])
    assert deliver(app) == (0, 1)  # 550: retried later, and in the log
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
        delivery.check_server_if_due()
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
