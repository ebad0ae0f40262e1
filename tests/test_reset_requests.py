"""POST /iforgot: throttling, where the link points, and the production guard."""

import logging
import secrets
from datetime import timedelta

import pytest
from conftest import FAST_HASH, USER, csrf_token
from flask import template_rendered
from mailserver import reset_link
from sqlalchemy import event
from test_reset import ask_for_link, deliver

from idm import ConfigError, clock, create_app
from idm.models import db


@pytest.fixture
def app_config(smtp_server):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port}


def from_ip(address):
    return {"environ_base": {"REMOTE_ADDR": address}}


def test_known_and_unknown_addresses_do_the_same_work(app, client, user):
    """Timing is too noisy to assert here (make bench measures it); the work is:
    the same templates, the same SQL statements on the same tables in the
    same order, and one commit."""
    token = csrf_token(client.get("/iforgot").text)

    def work_done(username):
        templates, commits, statements = [], [], []

        def count_commit(_connection):
            commits.append(1)

        def note_statement(_connection, _cursor, statement, *_args):
            statements.append(" ".join(statement.split()[:3]))

        def note_template(_app, template, **_context):
            templates.append(template.name)

        with app.app_context():
            event.listen(db.engine, "commit", count_commit)
            event.listen(db.engine, "before_cursor_execute", note_statement)
        with template_rendered.connected_to(note_template):
            response = client.post("/iforgot", data={"csrf_token": token, "username": username})
        with app.app_context():
            event.remove(db.engine, "commit", count_commit)
            event.remove(db.engine, "before_cursor_execute", note_statement)
        assert response.status_code == 200
        return templates, len(commits), statements

    known_templates, known_commits, known_sql = work_done(USER[0])
    unknown = work_done("nobody@example.org")
    assert (known_templates, known_commits) == unknown[:2]
    assert known_templates == ["email/reset.txt", "email/reset.html", "iforgot.html"]
    assert known_commits == 1
    assert known_sql == unknown[2]
    assert "INSERT INTO reset_tokens" in known_sql  # for the unknown one it selects no row


def test_at_most_three_emails_per_account_per_hour(
    app, client, user, smtp_server, monkeypatch, caplog
):
    pages = [ask_for_link(client, USER[0], **from_ip(f"10.0.0.{n}")) for n in range(3)]
    with caplog.at_level(logging.WARNING, "idm.reset"):
        throttled = ask_for_link(client, USER[0], **from_ip("10.0.0.9"))

    assert throttled.status_code == 200
    assert throttled.data == pages[0].data
    assert "reset for user@example.org throttled" in caplog.text
    assert deliver(app) == (3, 0)
    assert len(smtp_server.messages) == 3

    moment = clock.now() + timedelta(hours=1, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: moment)
    ask_for_link(client, USER[0], **from_ip("10.0.0.9"))
    assert deliver(app) == (1, 0)


def test_unknown_accounts_are_throttled_alike(app, client, caplog):
    for _ in range(3):
        ask_for_link(client, "nobody@example.org")
    with caplog.at_level(logging.WARNING, "idm.reset"):
        ask_for_link(client, "nobody@example.org")
    assert "reset for nobody@example.org throttled" in caplog.text


def test_at_most_ten_requests_per_client_ip_per_hour(app, client, user, smtp_server, caplog):
    for n in range(9):
        ask_for_link(client, f"someone{n}@example.org", **from_ip("192.0.2.7"))
    ask_for_link(client, USER[0], **from_ip("192.0.2.7"))
    with caplog.at_level(logging.WARNING, "idm.reset"):
        throttled = ask_for_link(client, USER[0], **from_ip("192.0.2.7"))
    assert throttled.status_code == 200
    assert "reset from 192.0.2.7 throttled" in caplog.text
    assert deliver(app) == (1, 0)

    ask_for_link(client, USER[0], **from_ip("192.0.2.8"))  # another address may
    assert deliver(app) == (1, 0)


class TestBehindOneProxy:
    @pytest.fixture
    def app_config(self, smtp_server):
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port, "IDM_PROXY_COUNT": 1}

    def test_the_link_uses_the_forwarded_scheme_and_host(self, app, client, user, smtp_server):
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public-host"}
        forwarded["X-Forwarded-For"] = "203.0.113.5"
        ask_for_link(client, USER[0], headers=forwarded)
        deliver(app)
        assert reset_link(smtp_server.messages[0]).startswith("https://public-host/reset?k=")


class TestWithPublicUrl:
    @pytest.fixture
    def app_config(self, smtp_server):
        return {
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": smtp_server.port,
            "IDM_PUBLIC_URL": "https://idm.example.org/accounts/",
        }

    def test_a_forged_host_does_not_change_the_link(self, app, client, user, smtp_server):
        forged = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
        ask_for_link(client, USER[0], headers=forged)
        deliver(app)
        link = reset_link(smtp_server.messages[0])
        assert link.startswith("https://idm.example.org/accounts/reset?k=")


class TestWithServerName:
    @pytest.fixture
    def app_config(self, smtp_server):
        return {
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": smtp_server.port,
            "SERVER_NAME": "idm.example.org",
        }

    def test_a_forged_host_does_not_change_the_link(self, app, client, user, smtp_server):
        ask_for_link(client, USER[0], headers={"Host": "evil.example"})
        deliver(app)
        assert reset_link(smtp_server.messages[0]).startswith("http://idm.example.org/reset?k=")


def production_config(tmp_path, **settings):
    config = {
        "SECRET_KEY": secrets.token_hex(32),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.sqlite'}",
        "IDM_PASSWORD_HASH_METHOD": FAST_HASH,
        "IDM_MAIL_SENDER_THREAD": False,
    }
    return config | settings


def test_production_refuses_to_start_without_a_public_url(tmp_path):
    with pytest.raises(ConfigError, match="set IDM_PUBLIC_URL"):
        create_app(production_config(tmp_path))


@pytest.mark.parametrize(
    "setting",
    [{"IDM_PUBLIC_URL": "https://idm.example.org"}, {"SERVER_NAME": "idm.example.org"}],
)
def test_production_starts_with_a_public_url_or_server_name(tmp_path, setting, caplog):
    with caplog.at_level(logging.WARNING, "idm.mail"):
        assert create_app(production_config(tmp_path, **setting)).testing is False
    assert "MAIL_SERVER is not set: no email (reset links!) can be sent" in caplog.text


@pytest.mark.parametrize("url", ["idm.example.org", "ftp://idm.example.org", "https://"])
def test_a_malformed_public_url_is_refused(tmp_path, url):
    with pytest.raises(ConfigError, match="IDM_PUBLIC_URL must look like"):
        create_app(production_config(tmp_path, IDM_PUBLIC_URL=url))
