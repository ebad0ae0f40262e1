"""Password reset through the pages, with a real SMTP server reading the emails.

The sender is run synchronously (``deliver``) so every step is visible;
tests/test_outbox.py covers the sender itself.
"""

import hashlib
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from conftest import USER, csrf_token, login
from mailserver import html_part, reset_link, text_part
from sqlalchemy import select

from idm import clock, reset
from idm.mail import delivery
from idm.models import AuditEvent, OutboxMessage, ResetToken, User, db

NEW_PASSWORD = "a brand new password"


@pytest.fixture
def app_config(smtp_server):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port}


def ask_for_link(client, username, **request_options):
    """POST /iforgot as a browser would; *request_options* go to both requests."""
    page = client.get("/iforgot", **request_options)
    form = {"csrf_token": csrf_token(page.text), "username": username}
    return client.post("/iforgot", data=form, **request_options)


def deliver(app):
    with app.app_context():
        return delivery.send_queued()


def emailed_link(client, app, smtp_server, username=USER[0]):
    """Ask for a link for *username*, deliver it, return the link from the email."""
    assert ask_for_link(client, username).status_code == 200
    deliver(app)
    return reset_link(smtp_server.to(username)[-1])


def open_link(client, link):
    parts = urlsplit(link)
    return client.get(f"{parts.path}?{parts.query}")


def submit_new_password(client, link, pass1=NEW_PASSWORD, pass2=None):
    """POST /reset as the form of *link* would; works for dead links too."""
    key = urlsplit(link).query.removeprefix("k=")
    token = csrf_token(client.get("/iforgot").text)  # one CSRF token per session
    form = {"csrf_token": token, "key": key, "pass1": pass1}
    form["pass2"] = pass1 if pass2 is None else pass2
    return client.post("/reset", data=form)


def password_works(client, password, username=USER[0]):
    response = client.post("/auth", json={"username": username, "password": password})
    return response.status_code == 200


def test_whole_flow_from_iforgot_to_login(app, client, user, smtp_server):
    page = client.get("/iforgot")
    assert page.status_code == 200
    assert b'<label for="username">' in page.data

    asked = ask_for_link(client, " User@Example.org ")
    assert asked.status_code == 200
    assert b"If an account exists for user@example.org" in asked.data
    assert deliver(app) == (1, 0)

    [email] = smtp_server.messages
    assert email["To"] == USER[0]
    assert email["Subject"] == "Reset your IDM password"
    assert email["From"] == "IDM <idm@localhost>"
    link = reset_link(email)
    assert link.startswith("http://localhost/reset?k=")
    assert link in html_part(email)
    assert "2 hours" in text_part(email)

    form_page = open_link(client, link)
    assert form_page.status_code == 200
    assert b'name="pass1"' in form_page.data and b'name="pass2"' in form_page.data
    assert USER[0].encode() in form_page.data
    assert b"8 to 256 characters" in form_page.data
    assert form_page.headers["Referrer-Policy"] == "no-referrer"
    assert form_page.headers["Cache-Control"] == "no-store"

    done = submit_new_password(client, link)
    assert done.status_code == 200
    assert b"Password changed" in done.data
    # IDM_SIGN_IN_URL is unset: the service's own sign-in page.
    assert b'<a class="button" href="/login">Sign in with your new password</a>' in done.data
    assert password_works(client, NEW_PASSWORD)
    assert not password_works(client, USER[1])


def test_the_page_after_a_reset_links_to_the_sign_in_url(app, client, user, smtp_server):
    app.config["IDM_SIGN_IN_URL"] = "https://app.example.org/login"
    ask_for_link(client, USER[0])
    deliver(app)

    done = submit_new_password(client, reset_link(smtp_server.messages[0]))

    assert b'href="https://app.example.org/login">Sign in with your new password' in done.data


def test_after_a_reset_a_notice_email_goes_out_and_it_is_audited(app, client, user, smtp_server):
    link = emailed_link(client, app, smtp_server)
    submit_new_password(client, link)
    assert deliver(app) == (1, 0)

    notice = smtp_server.to(USER[0])[-1]
    assert notice["Subject"] == "Your IDM password was changed"
    assert "http://localhost/iforgot" in text_part(notice)
    assert "reset?k=" not in text_part(notice)
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["reset.request", "reset.complete"]


def test_only_the_hash_of_the_token_is_stored_and_the_sent_body_is_wiped(
    app, client, user, smtp_server
):
    link = emailed_link(client, app, smtp_server)
    token = urlsplit(link).query.removeprefix("k=")
    assert len(token) >= 43  # 32 random bytes, base64url

    with app.app_context():
        [row] = db.session.scalars(select(ResetToken)).all()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        [message] = db.session.scalars(select(OutboxMessage)).all()
        assert message.sent_at is not None
        assert token not in message.text_body + message.html_body


def test_a_used_link_is_refused(app, client, user, smtp_server):
    link = emailed_link(client, app, smtp_server)
    assert submit_new_password(client, link).status_code == 200

    again = open_link(client, link)
    assert again.status_code == 400
    assert b"This reset link is not valid" in again.data
    assert b'href="/iforgot"' in again.data


def test_of_two_uses_racing_only_one_wins(app, client, user, smtp_server):
    link = emailed_link(client, app, smtp_server)
    key = urlsplit(link).query.removeprefix("k=")
    with app.test_request_context():
        token, found = reset.valid_token(key)  # both requests got this far
        db.session.expunge_all()
        with app.test_client() as other:
            assert submit_new_password(other, link).status_code == 200
        with pytest.raises(reset.BadLink):
            reset.complete_reset(token, found, "the losing password", "the losing password")
    assert password_works(client, NEW_PASSWORD)


def test_a_password_change_by_other_means_kills_the_link(
    app, client, user, user_headers, smtp_server
):
    link = emailed_link(client, app, smtp_server)
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.username == USER[0]))
    changed = client.put(
        f"/user/{user_id}",
        json={"password": "changed another way", "current_password": USER[1]},
        headers=user_headers,
    )
    assert changed.status_code == 200

    with app.app_context():
        assert db.session.scalars(select(ResetToken)).all() == []
    refused = submit_new_password(client, link)
    assert refused.status_code == 400
    assert password_works(client, "changed another way")


def test_a_link_older_than_the_last_password_change_is_refused(app, client, user, smtp_server):
    """The second guard, for a token row that a password change did not delete."""
    link = emailed_link(client, app, smtp_server)
    with app.app_context():
        account = db.session.scalar(select(User).where(User.username == USER[0]))
        account.tokens_valid_after = clock.now() + timedelta(seconds=1)
        db.session.commit()

    refused = open_link(client, link)
    assert refused.status_code == 400
    assert b"the password was changed after it was sent" in refused.data


def test_a_link_expires_after_two_hours(app, client, user, smtp_server, monkeypatch):
    link = emailed_link(client, app, smtp_server)
    start = clock.now()

    monkeypatch.setattr(clock, "now", lambda: start + timedelta(hours=2, seconds=-5))
    assert open_link(client, link).status_code == 200

    monkeypatch.setattr(clock, "now", lambda: start + timedelta(hours=2, seconds=1))
    expired = open_link(client, link)
    assert expired.status_code == 400
    assert b"This reset link has expired" in expired.data
    assert submit_new_password(client, link).status_code == 400
    assert password_works(client, USER[1])


def test_a_second_request_replaces_the_first_link(app, client, user, smtp_server):
    first = emailed_link(client, app, smtp_server)
    second = emailed_link(client, app, smtp_server)
    assert first != second

    assert open_link(client, first).status_code == 400
    assert open_link(client, second).status_code == 200


def test_unknown_user_gets_the_same_page_and_no_mail(app, client, user, smtp_server):
    known = ask_for_link(client, USER[0])
    unknown = ask_for_link(client, "nobody@example.org")

    assert unknown.status_code == known.status_code == 200
    assert unknown.data.replace(b"nobody@example.org", b"X") == known.data.replace(
        USER[0].encode(), b"X"
    )
    assert deliver(app) == (1, 0)
    assert [m["To"] for m in smtp_server.messages] == [USER[0]]
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert (event.action, event.outcome) == ("reset.request", "unknown-user")
        assert event.target_name == "nobody@example.org"


def test_old_access_tokens_are_refused_after_a_reset(app, client, user, smtp_server):
    old_headers = login(client, *USER)
    assert client.get("/user/me", headers=old_headers).status_code == 200

    submit_new_password(client, emailed_link(client, app, smtp_server))

    assert client.get("/user/me", headers=old_headers).status_code == 401
    new_headers = login(client, USER[0], NEW_PASSWORD)
    assert client.get("/user/me", headers=new_headers).status_code == 200


def test_deleting_a_user_takes_their_link_along(app, client, user, admin_headers, smtp_server):
    link = emailed_link(client, app, smtp_server)

    deleted = client.delete("/user", json={"username": USER[0]}, headers=admin_headers)

    assert deleted.status_code == 204
    with app.app_context():
        assert db.session.scalars(select(ResetToken)).all() == []
    assert open_link(client, link).status_code == 400
