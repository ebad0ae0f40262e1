"""DEPLOY.md, step for step, on loopback: Nginx (TLS) -> supervisor -> gunicorn -> PostgreSQL.

See tests/deploy_stack.py for how the shipped files in deploy/ are put to work.
"""

import email
import email.policy
import os
import signal

import pytest
from aiosmtpd.controller import Controller
from conftest import free_port
from deploy_stack import (
    ADMIN,
    Deployment,
    credentials,
    init_first_admin,
    require_tools,
    wait_until,
)
from https_client import reset_link

pytestmark = pytest.mark.slow

ALICE = ("alice@example.org", "alice password 1")


@pytest.fixture(scope="module")
def tools():
    require_tools()


class Outbox:
    """aiosmtpd handler: keeps each message's plain text."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, _server, _session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message.get_body(("plain",)).get_content())
        return "250 OK"


@pytest.fixture(scope="module")
def outbox():
    """A real SMTP server in the test process for the deployment's mail."""
    handler = Outbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, handler.messages
    controller.stop()


@pytest.fixture(scope="module")
def site(tools, postgres, outbox, tmp_path_factory):
    """One host, as DEPLOY.md sets it up."""
    mail = f"MAIL_SERVER = '127.0.0.1'\nMAIL_PORT = {outbox[0]}\n"
    deployment = Deployment(tmp_path_factory.mktemp("deploy"), postgres, settings=mail)
    yield deployment
    deployment.stop()


def test_walkthrough_over_https_survives_kill_of_gunicorn_master(site):
    init_first_admin(site)
    admin_token = site.login(site.public_url, *ADMIN)
    status, _, body = site.https("/user", "POST", credentials(ALICE), admin_token)
    assert status == 201, body
    assert site.login(site.public_url, *ALICE)

    # kill -9 the master: supervisor starts a new one; the data is in PostgreSQL.
    host = site.hosts[0]
    old_pid = site.serving_master(host)
    assert old_pid
    os.kill(old_pid, signal.SIGKILL)
    wait_until(lambda: site.serving_master(host) not in (0, old_pid), "new master", logs=site.logs)

    alice = site.login(site.public_url, *ALICE)
    status, _, body = site.https("/user/me", token=alice)
    assert status == 200 and body["data"]["username"] == ALICE[0]
    assert site.https("/users", token=site.login(site.public_url, *ADMIN))[2]["total"] == 2


def test_nginx_adds_tls_headers_and_a_request_id_gunicorn_logs(site):
    status, headers, body = site.https("/status")
    assert status == 200 and body == {"data": {"db": "ok", "mail": "ok"}}
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    request_id = headers["X-Request-ID"]
    assert len(request_id) == 32
    wait_until(lambda: f"rid={request_id}" in site.log_text("gunicorn.log"), "access log line")
    line = next(ln for ln in site.log_text("gunicorn.log").splitlines() if request_id in ln)
    assert '"GET /status HTTP/1.0" 200' in line or '"GET /status HTTP/1.1" 200' in line


def test_plain_http_redirects_to_https(site):
    status, headers, _ = site.call(f"http://127.0.0.1:{site.http_port}/users?offset=1")
    assert status == 301
    assert headers["Location"].startswith("https://127.0.0.1")
    assert headers["Location"].endswith("/users?offset=1")


def test_bodies_over_nginx_limit_get_a_json_413(site):
    status, _, body = site.https("/auth", "POST", data=b"x" * (1024 * 1024 + 1))
    assert status == 413
    assert body == {"error": {"status": 413, "message": "request body too large"}}
    # Under Nginx's limit, the app's own (64 KiB) answers, also in JSON.
    status, _, body = site.https("/auth", "POST", {"username": "x" * 70000, "password": "y"})
    assert status == 413 and body["error"]["status"] == 413


def test_static_files_come_from_nginx(site):
    status, headers, _ = site.call(site.public_url + "/static/style.css")
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert "Cache-Control" in headers  # Nginx's "expires", not Flask's send_file


def test_password_reset_by_email_over_https(site, outbox):
    """/iforgot -> the emailed https link -> /reset -> log in."""
    browser = site.browser()
    if site.https("/auth", "POST", credentials(ADMIN))[0] != 200:
        init_first_admin(site)
    _, messages = outbox
    messages.clear()
    status, _ = browser.submit("/iforgot", {"username": ADMIN[0]})
    assert status == 200
    wait_until(lambda: messages, "the reset email")
    link = reset_link(messages[-1], site.public_url)

    status, page = browser.get(link)
    assert status == 200, page
    key = link.split("k=", 1)[1]
    new_password = "a brand new password"
    fields = {"key": key, "pass1": new_password, "pass2": new_password}
    status, page = browser.submit("/reset", fields, page)
    assert status == 200, page
    assert site.login(site.public_url, ADMIN[0], new_password)
    assert site.https("/auth", "POST", credentials(ADMIN))[0] == 401
