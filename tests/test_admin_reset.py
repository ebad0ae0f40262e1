"""The admin pages' hooks into password reset: the sign-in link and "Send reset link"."""

import pytest
from admin_helpers import flashes, sign_in
from conftest import ADMIN, USER, csrf_token
from mailserver import reset_link
from sqlalchemy import select
from test_reset import deliver, open_link

from idm.models import AuditEvent, User, db


@pytest.fixture
def app_config(smtp_server):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port}


def test_the_admin_sign_in_page_links_to_iforgot(client):
    assert b'href="/iforgot">Forgot your password?' in client.get("/login").data


def test_an_admin_sends_a_user_a_reset_link(app, client, user, smtp_server):
    sign_in(client, *ADMIN)
    listing = client.get("/admin?search=user")
    assert b"Send reset link" in listing.data
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.username == USER[0]))

    form = {"csrf_token": csrf_token(listing.text), "search": "user"}
    sent = client.post(f"/admin/users/{user_id}/reset-link", data=form)

    assert sent.status_code == 302
    assert sent.headers["Location"] == "/admin?search=user"
    page = client.get(sent.headers["Location"]).text
    assert f"A password reset link is on its way to {USER[0]}." in flashes(page)
    assert deliver(app) == (1, 0)
    [email] = smtp_server.to(USER[0])
    assert open_link(client, reset_link(email)).status_code == 200
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        admin_id = db.session.scalar(select(User.id).where(User.username == ADMIN[0]))
    assert (event.action, event.target_id, event.actor_id) == ("reset.request", user_id, admin_id)


def test_sending_a_reset_link_needs_an_admin_session(app, client, user, smtp_server):
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.username == USER[0]))
    token = csrf_token(client.get("/login").text)

    refused = client.post(f"/admin/users/{user_id}/reset-link", data={"csrf_token": token})

    assert refused.status_code == 302
    assert refused.headers["Location"] == "/login"
    assert deliver(app) == (0, 0)
