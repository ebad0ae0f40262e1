"""Fixtures: a fresh app and SQLite database per test, and a real gunicorn.

Like flaskr's conftest: ``app``, ``client`` and ``runner``, plus small
helpers to create users and log in.
"""

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from mailserver import MailServer

from idm import create_app, sender
from idm.models import db
from idm.users import create_first_admin, create_user

ROOT = Path(__file__).resolve().parent.parent
ADMIN = ("admin@example.org", "admin password 1")
USER = ("user@example.org", "user password 1")
# Cheap hashing for tests only; production keeps scrypt.
FAST_HASH = "pbkdf2:sha256:1"


@pytest.fixture
def app_config():
    """Extra settings for the ``app`` fixture; override it in a test module."""
    return {}


@pytest.fixture
def app(tmp_path, app_config):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-" + secrets.token_hex(16),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'idm.sqlite'}",
            "IDM_PASSWORD_HASH_METHOD": FAST_HASH,
            # Tests run the mail sender themselves, when they want it to run.
            "IDM_MAIL_SENDER_THREAD": False,
            **app_config,
        }
    )
    yield app
    sender.stop(app)
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def smtp_server():
    """A real SMTP server on a free loopback port; ``smtp_server.messages``."""
    server = MailServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def admin(app):
    """The first admin, created as /init would; returns (username, password)."""
    with app.app_context():
        create_first_admin(*ADMIN)
    return ADMIN


@pytest.fixture
def user(app, admin):
    """A plain user next to the admin; returns (username, password)."""
    with app.app_context():
        create_user(*USER)
    return USER


def login(client, username, password):
    """Authorization headers for a fresh token of that user."""
    response = client.post("/auth", json={"username": username, "password": password})
    assert response.status_code == 200, response.json
    return {"Authorization": "Bearer " + response.json["access_token"]}


@pytest.fixture
def admin_headers(client, admin):
    return login(client, *admin)


@pytest.fixture
def user_headers(client, user):
    return login(client, *user)


def csrf_token(html):
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form carries no CSRF token"
    return match.group(1)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """The service under a real gunicorn on a loopback port."""

    def __init__(self, tmp_path, workers=2, settings=""):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = tmp_path / "live_settings.py"
        self.settings.write_text(
            f"SECRET_KEY = {secrets.token_hex(32)!r}\n"
            f"SQLALCHEMY_DATABASE_URI = 'sqlite:///{tmp_path / 'live.sqlite'}'\n"
            f"IDM_PASSWORD_HASH_METHOD = {FAST_HASH!r}\n"
            f"IDM_PUBLIC_URL = {self.url!r}\n" + settings
        )
        self.log = tmp_path / "gunicorn.log"
        command = [sys.executable, "-m", "gunicorn", "--workers", str(workers)]
        command += ["--bind", f"127.0.0.1:{self.port}", "app:app"]
        env = dict(os.environ, IDM_SETTINGS=str(self.settings))
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self.wait_until_ready()

    def wait_until_ready(self, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn exited:\n" + self.log.read_text())
            try:
                urllib.request.urlopen(self.url + "/", timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not answer:\n" + self.log.read_text())

    def init_admin(self, username, password):
        """Create the first admin through the /init form, as a browser would."""
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        page = opener.open(self.url + "/init").read().decode()
        form = {"csrf_token": csrf_token(page), "username": username}
        form.update(password=password, password2=password)
        data = urllib.parse.urlencode(form).encode()
        with opener.open(self.url + "/init", data=data) as response:
            assert response.status == 201

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def live_server(tmp_path):
    server = LiveServer(tmp_path)
    yield server
    server.stop()
