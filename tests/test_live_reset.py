"""Password reset against real processes: gunicorn workers and `flask mail send --loop`.

Each process runs its own sender; the outbox claims must keep them from
ever sending one message twice.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest
from conftest import FAST_HASH, ROOT, LiveServer, csrf_token, http_json
from mailserver import reset_link
from test_outbox import queue, rows

pytestmark = pytest.mark.slow

ADMIN = ("admin@example.org", "admin password 1")
ALICE = ("alice@example.org", "alice password 1")


@pytest.fixture
def app_config(smtp_server):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port}


def mail_settings(smtp_server):
    return (
        f"MAIL_SERVER = '127.0.0.1'\nMAIL_PORT = {smtp_server.port}\nIDM_MAIL_POLL_SECONDS = 0.2\n"
    )


class Browser:
    """A cookie-keeping client that fills in forms as a browser would."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def get(self, url):
        with self.opener.open(url) as response:
            return response.status, response.read().decode()

    def submit(self, form_url, action, fields):
        _, page = self.get(form_url)
        data = urllib.parse.urlencode({"csrf_token": csrf_token(page), **fields}).encode()
        try:
            with self.opener.open(self.base_url + action, data=data) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


def post_json(url, body, token=None):
    status, _, data = http_json(url, "POST", body, token)
    return status, data


def test_reset_through_gunicorn_with_a_sender_thread_per_worker(tmp_path, smtp_server):
    server = LiveServer(tmp_path, workers=2, settings=mail_settings(smtp_server))
    try:
        server.init_admin(*ADMIN)
        credentials = {"username": ADMIN[0], "password": ADMIN[1]}
        _, body = post_json(server.url + "/auth", credentials)
        created = post_json(
            server.url + "/user",
            {"username": ALICE[0], "password": ALICE[1]},
            body["access_token"],
        )
        assert created[0] == 201
        browser = Browser(server.url)

        status, page = browser.submit(server.url + "/iforgot", "/iforgot", {"username": ALICE[0]})
        assert status == 200
        assert "If an account exists" in page
        [email] = smtp_server.wait_for(1, seconds=30)
        link = reset_link(email)
        assert link.startswith(server.url + "/reset?k=")

        key = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["k"][0]
        fields = {"key": key, "pass1": "alice's new password", "pass2": "alice's new password"}
        status, page = browser.submit(link, "/reset", fields)
        assert status == 200
        assert "Password changed" in page
        login = {"username": ALICE[0], "password": "alice's new password"}
        assert post_json(server.url + "/auth", login)[0] == 200

        smtp_server.wait_for(2, seconds=30)  # the "password changed" notice
        time.sleep(1)  # five more polls of each worker's sender
        subjects = [m["Subject"] for m in smtp_server.messages]
        assert subjects == ["Reset your IDM password", "Your IDM password was changed"]
    finally:
        server.stop()
    log = server.log.read_text()
    assert "Traceback" not in log, log


def test_two_sender_processes_share_the_outbox_without_double_sending(app, tmp_path, smtp_server):
    # Slow enough that the outbox outlasts both start-ups: the senders overlap.
    smtp_server.inbox.delay = 0.1
    recipients = [f"user{n}@example.org" for n in range(20)]
    queue(app, *recipients)
    settings = tmp_path / "sender_settings.py"
    settings.write_text(
        f"SECRET_KEY = {app.config['SECRET_KEY']!r}\n"  # the same service: the same key
        f"SQLALCHEMY_DATABASE_URI = {app.config['SQLALCHEMY_DATABASE_URI']!r}\n"
        f"IDM_PASSWORD_HASH_METHOD = {FAST_HASH!r}\n"
        "IDM_PUBLIC_URL = 'https://idm.example.org'\n"
        "IDM_MAIL_SENDER_THREAD = False\n" + mail_settings(smtp_server)
    )
    command = [sys.executable, "-m", "flask", "--app", "app", "mail", "send", "--loop"]
    env = dict(os.environ, IDM_SETTINGS=str(settings))
    senders = [
        subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE) for _ in range(2)
    ]
    try:
        smtp_server.wait_for(20, seconds=30)
        time.sleep(0.5)  # a double send would arrive now
    finally:
        for process in senders:
            process.send_signal(signal.SIGTERM)
        outcomes = [(process.wait(timeout=10), process.stderr.read()) for process in senders]

    assert [code for code, _ in outcomes] == [0, 0], outcomes
    assert not any(b"Traceback" in errors for _, errors in outcomes), outcomes
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(recipients)
    assert [row.attempts for row in rows(app)] == [1] * 20
