"""The mail outbox: outages, back-off, racing senders, the thread and the command."""

import logging
import threading
from datetime import timedelta

import pytest
from conftest import USER
from mailserver import reset_link
from sqlalchemy import select
from test_reset import ask_for_link, deliver

from idm import clock
from idm.mail import delivery, health, outbox, sender
from idm.mail.compose import Letter
from idm.models import OutboxMessage, db

LETTER = Letter(subject="Hello", text="plain words", html="<p>html words</p>")


@pytest.fixture
def app_config(smtp_server):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port}


def queue(app, *recipients, expires=None):
    with app.app_context():
        for recipient in recipients:
            outbox.enqueue(recipient, LETTER, expires)
        db.session.commit()


def rows(app):
    with app.app_context():
        return db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def move_clock(monkeypatch, seconds):
    moment = clock.now() + timedelta(seconds=seconds)
    monkeypatch.setattr(clock, "now", lambda: moment)


def check_mail_server(app):
    """What a sender round does besides delivering: check the server, now."""
    app.config["IDM_MAIL_CHECK_SECONDS"] = 0
    with app.app_context():
        health.check_if_due()


def test_smtp_outage_never_shows_and_the_mail_arrives_once_it_is_back(
    app, client, user, admin_headers, smtp_server, monkeypatch
):
    smtp_server.stop()
    healthy_page = ask_for_link(client, "nobody@example.org").data.replace(b"nobody", b"X")

    asked = ask_for_link(client, USER[0])
    assert asked.status_code == 200
    assert asked.data.replace(b"user", b"X") == healthy_page
    assert deliver(app) == (0, 1)
    check_mail_server(app)

    status = client.get("/status")
    assert status.status_code == 200
    assert status.json["data"] == {"db": "ok", "mail": "unavailable"}
    reasons = client.get("/status", headers=admin_headers).json["data"]["reasons"]
    assert "ConnectionRefusedError" in reasons["mail"]

    smtp_server.start()
    assert deliver(app) == (0, 0)  # backing off: not due yet
    assert smtp_server.messages == []

    move_clock(monkeypatch, 31)
    assert deliver(app) == (1, 0)
    [email] = smtp_server.wait_for(1)
    assert email["To"] == USER[0]
    assert "/reset?k=" in reset_link(email)
    check_mail_server(app)
    assert client.get("/status").json["data"] == {"db": "ok", "mail": "ok"}


def test_failed_attempts_back_off_exponentially_up_to_a_cap(app, smtp_server, fake_clock):
    smtp_server.stop()
    app.config["IDM_MAIL_RETRY_MAX_SECONDS"] = 100
    queue(app, "a@example.org")

    waits = []
    for _ in range(4):
        # The clock stands still while the attempt takes however long it takes.
        before = fake_clock.moment
        assert deliver(app) == (0, 1)
        [row] = rows(app)
        waits.append((row.next_attempt_at - before).total_seconds())
        fake_clock.advance(waits[-1] + 1)
    assert waits == [30, 60, 100, 100]
    assert rows(app)[0].attempts == 4


def test_a_message_past_its_expiry_is_dropped_and_logged(app, smtp_server, monkeypatch, caplog):
    smtp_server.stop()
    queue(app, "late@example.org", expires=clock.now() + timedelta(seconds=60))
    assert deliver(app) == (0, 1)

    move_clock(monkeypatch, 61)
    smtp_server.start()
    with caplog.at_level(logging.ERROR, "idm.mail.outbox"):
        assert deliver(app) == (0, 0)
    assert rows(app) == []
    assert smtp_server.messages == []
    assert "late@example.org dropped undelivered after 1 attempts" in caplog.text


def test_a_recipient_refused_for_good_is_dropped_and_the_round_goes_on(app, smtp_server, caplog):
    smtp_server.inbox.refused.add("gone@example.org")
    queue(app, "gone@example.org", "here@example.org")

    with caplog.at_level(logging.ERROR, "idm.mail.outbox"):
        assert deliver(app) == (1, 1)

    assert [email["To"] for email in smtp_server.wait_for(1)] == ["here@example.org"]
    assert [row.recipient for row in rows(app)] == ["here@example.org"]  # sent, kept as sent
    assert "mail to gone@example.org refused by the server for good, dropped" in caplog.text
    assert deliver(app) == (0, 0)  # never tried again


def test_racing_senders_never_send_a_message_twice(app, smtp_server):
    smtp_server.inbox.delay = 0.02  # each delivery takes a while: senders overlap
    recipients = [f"user{n}@example.org" for n in range(12)]
    queue(app, *recipients)
    start = threading.Barrier(4)
    results = []

    def run_sender():
        start.wait()
        with app.app_context():
            results.append(delivery.send_queued())

    threads = [threading.Thread(target=run_sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(sent for sent, _ in results) == 12
    assert len([sent for sent, _ in results if sent]) >= 2  # the work was shared
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(recipients)
    assert [row.attempts for row in rows(app)] == [1] * 12


def test_of_two_senders_that_picked_the_same_row_only_one_claims_it(app, smtp_server):
    queue(app, "a@example.org")
    with app.app_context():
        seen_by_first, seen_by_second = outbox.next_due_id(), outbox.next_due_id()
        assert seen_by_first == seen_by_second

        assert outbox.claim(seen_by_first) is not None
        assert outbox.claim(seen_by_second) is None


def test_a_claimed_row_is_left_to_its_sender_until_the_claim_runs_out(
    app, smtp_server, monkeypatch
):
    queue(app, "a@example.org")
    with app.app_context():
        assert outbox.claim(rows(app)[0].id) is not None  # a sender that then died
    assert deliver(app) == (0, 0)

    move_clock(monkeypatch, 10 * app.config["IDM_MAIL_TIMEOUT"] + 1)
    assert deliver(app) == (1, 0)


def test_without_mail_server_the_email_goes_to_the_log(app, client, user, caplog):
    app.config["MAIL_SERVER"] = None
    ask_for_link(client, USER[0])

    with caplog.at_level(logging.WARNING, "idm.mail"):
        assert deliver(app) == (1, 0)
    assert "MAIL_SERVER is not set" in caplog.text
    assert "To: user@example.org" in caplog.text
    assert "http://localhost/reset?k=" in caplog.text


def test_the_sender_thread_delivers_right_after_the_request(app, client, user, smtp_server):
    # A long poll interval: only the wake-up after the request can be this fast.
    app.config.update(IDM_MAIL_SENDER_THREAD=True, IDM_MAIL_POLL_SECONDS=60)

    ask_for_link(client, USER[0]).close()  # the server closes the response: the wake-up

    [email] = smtp_server.wait_for(1, seconds=10)
    assert email["To"] == USER[0]
    assert sender.slot(app).is_running()


def test_mail_queued_before_a_restart_goes_out_after_it(
    app, client, user, smtp_server, make_app, app_config
):
    smtp_server.stop()
    ask_for_link(client, USER[0])  # queued; the old process never delivered it
    smtp_server.start()

    restarted = make_app(**app_config, IDM_MAIL_SENDER_THREAD=True)  # same database
    assert restarted.test_client().get("/").status_code == 200  # starts its sender

    [email] = smtp_server.wait_for(1, seconds=10)
    assert email["To"] == USER[0]


def test_the_sender_is_not_running_when_turned_off(app, client):
    client.get("/")
    assert not sender.slot(app).is_running()


def test_mail_send_once_delivers_what_is_due(app, runner, smtp_server):
    queue(app, "a@example.org", "b@example.org")

    result = runner.invoke(args=["mail", "send", "--once"])

    assert result.exit_code == 0, result.output
    assert "sent 2, failed 0" in result.output
    assert len(smtp_server.wait_for(2)) == 2


def test_mail_send_once_fails_loudly_when_the_server_is_down(app, runner, smtp_server):
    smtp_server.stop()
    queue(app, "a@example.org")

    result = runner.invoke(args=["mail", "send"])

    assert result.exit_code == 1
    assert "delivery failed, will be retried: ConnectionRefusedError" in result.output


def test_outside_development_without_mail_server_nothing_is_sent_or_logged(
    app, client, user, caplog
):
    app.config.update(MAIL_SERVER=None, TESTING=False, DEBUG=False)
    ask_for_link(client, USER[0])

    with caplog.at_level(logging.DEBUG, "idm"):
        assert deliver(app) == (0, 1)
    assert "reset?k=" not in caplog.text
    assert "MAIL_SERVER is not set" in caplog.text
    assert rows(app)[0].sent_at is None  # waiting, for when a server is set
