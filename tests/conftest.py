"""Fixtures: a fresh app and database per test, and a real gunicorn.

Like flaskr's conftest: ``app``, ``client`` and ``runner``, plus small
helpers to create users and log in. Every test that uses ``app`` (or
``live_server``) runs twice: on a fresh SQLite file and on a fresh
PostgreSQL database in a throwaway cluster (tests/pg_cluster.py).
"""

import json
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path

import log_secrets
import pytest
from flask.testing import FlaskClient
from mailserver import MailServer
from openapi_check import check as check_against_description
from outages import database_gone  # noqa: F401  (a fixture for every module)
from pg_cluster import PostgresCluster, find_binaries
from sqlalchemy import Engine, event

from bench.servers import free_port
from idm import create_app
from idm.mail import sender
from idm.models import db
from idm.users import create_first_admin, create_user

ROOT = Path(__file__).resolve().parent.parent
ADMIN = ("admin@example.org", "admin password 1")
USER = ("user@example.org", "user password 1")
# Cheap hashing for tests only; production keeps scrypt.
FAST_HASH = "pbkdf2:sha256:1"


@event.listens_for(Engine, "connect")
def skip_fsync(dbapi_connection, _record):
    """Tests throw their databases away: no need to wait for the disk on each commit.

    Registered after idm.models.tune_sqlite (imported above), so it runs last and wins.
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=OFF")


@pytest.fixture(autouse=True)
def hermetic_environment(tmp_path, monkeypatch):
    """No FLASK_* variable or settings.py of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("FLASK_"):
            monkeypatch.delenv(name)
    empty = tmp_path / "no_settings.py"
    empty.write_text("")
    monkeypatch.setenv("IDM_SETTINGS", str(empty))


@pytest.fixture(autouse=True)
def no_mail_sender_left_running():
    """A test that starts a mail sender thread stops it (make_app does).

    One left running outlives its test's database and logs a failed round
    with a traceback every few seconds; on Python 3.11 formatting that
    traceback (ast.parse, for the carets) while another thread parses can
    raise "SystemError: AST constructor recursion depth mismatch" in the
    other thread (CPython gh-106905), failing an unrelated test.
    """
    yield
    left = [thread for thread in threading.enumerate() if isinstance(thread, sender.Sender)]
    for thread in left:
        thread.stop()
    assert not left, "the test left a mail sender thread running"


def require(present, what):
    """Fail, never skip, when a part the suite drives is missing: `make test`
    installs them all (as root), and a suite that skips proves nothing."""
    if not present:
        pytest.fail(f"{what} is missing: run `make test` as root, which installs it", False)


@pytest.fixture(scope="session")
def postgres():
    """The session's PostgreSQL cluster (initdb and pg_ctl from Debian's postgresql)."""
    bindir = find_binaries()
    require(bindir is not None, "PostgreSQL's server (initdb, pg_ctl: Debian's postgresql)")
    cluster = PostgresCluster(bindir).start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database_uri(request, tmp_path):
    """An empty database: a fresh SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'idm.sqlite'}"
        return
    cluster = request.getfixturevalue("postgres")
    name = cluster.create_database()
    yield cluster.uri(name)
    cluster.drop_database(name)


@pytest.fixture
def app_config():
    """Extra settings for the ``app`` fixture; override it in a test module."""
    return {}


def pytest_sessionstart(session):
    log_secrets.start()


def pytest_sessionfinish(session, exitstatus):
    found = log_secrets.leaks()
    if found:
        shown = ", ".join(secret[:12] + "…" for secret in found[:5])
        session.config.get_terminal_writer().line(
            f"SECRETS IN THE LOGS of this run ({log_secrets.RUN_LOG}): {shown}", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


class DescribedClient(FlaskClient):
    """The test client, holding every answer to the OpenAPI description (openapi_check.py)."""

    def open(self, *args, **kwargs):
        sent = kwargs.get("json", kwargs.get("data"))
        response = super().open(*args, **kwargs)
        request = response.request
        log_secrets.note_request(request.full_path, sent)
        log_secrets.note_response(response.headers, response.get_data())
        check_against_description(
            request.method,
            request.path,
            response.status_code,
            response.headers.get("Content-Type"),
            response.get_data(),
        )
        return response


@pytest.fixture
def make_app(database_uri):
    """Build apps on this test's database, with settings on top of the test ones.

    Apps made by one test share its database, like workers of one service.
    Tables come straight from the models (fast); that the migrations build
    the same schema is tests/test_migrations.py's job.
    """
    apps = []
    # One secret for every app of the test, like the workers of one service.
    secret_key = "test-" + secrets.token_hex(32)

    def make(**settings):
        config = {
            "TESTING": True,
            "SECRET_KEY": secret_key,
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "IDM_PASSWORD_HASH_METHOD": FAST_HASH,
            # Tests run the mail sender themselves, when they want it to run.
            "IDM_MAIL_SENDER_THREAD": False,
        }
        config.update(settings)
        app = create_app(config)
        app.test_client_class = DescribedClient
        with app.app_context():
            db.create_all()
        apps.append(app)
        return app

    yield make
    for app in apps:
        sender.stop(app)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(make_app, app_config):
    return make_app(**app_config)


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


@pytest.fixture
def staff(user_headers):
    """Study staff: a plain user, no admin rights; the headers of their token."""
    return user_headers


def http_json(url, method="GET", body=None, token=None, scheme="Bearer"):
    """(status, headers, JSON body) of one real HTTP request, errors included."""
    request = urllib.request.Request(url, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
        request.data = json.dumps(body).encode()
    if token:
        request.add_header("Authorization", f"{scheme} {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, error.headers, error.read()
    path = urllib.parse.urlsplit(url).path
    log_secrets.note_request(url, request.data)
    log_secrets.note_response(headers, raw)
    check_against_description(method, path, status, headers.get("Content-Type"), raw)
    return status, headers, json.loads(raw or b"null")


def csrf_token(html):
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form carries no CSRF token"
    return match.group(1)


class LiveServer:
    """The service under a real gunicorn on a loopback port.

    Like an operator: write the settings file, ``flask --app app db upgrade``,
    then start gunicorn with deploy/gunicorn.conf.py. *database_uri*
    defaults to a SQLite file in tmp_path.
    """

    def __init__(self, tmp_path, workers=2, settings="", database_uri=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = tmp_path / "live_settings.py"
        database_uri = database_uri or f"sqlite:///{tmp_path / 'live.sqlite'}"
        self.settings.write_text(
            f"SECRET_KEY = {secrets.token_hex(32)!r}\n"
            f"SQLALCHEMY_DATABASE_URI = {database_uri!r}\n"
            f"IDM_PASSWORD_HASH_METHOD = {FAST_HASH!r}\n"
            f"IDM_PUBLIC_URL = {self.url!r}\n" + settings
        )
        self.log = tmp_path / "gunicorn.log"
        env = dict(os.environ, IDM_SETTINGS=str(self.settings))
        upgrade_schema(env)
        # The shipped settings (deploy/gunicorn.conf.py), as in production;
        # the command line's bind and workers take precedence over the file's.
        command = [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py"]
        command += ["--workers", str(workers), "--bind", f"127.0.0.1:{self.port}", "app:app"]
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
        log_secrets.append(self.log)


def upgrade_schema(env):
    """``flask --app app db upgrade`` with *env*; fails the test with its output."""
    command = [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, "flask db upgrade failed:\n" + result.stdout + result.stderr


@pytest.fixture
def live_server(tmp_path, database_uri):
    server = LiveServer(tmp_path, database_uri=database_uri)
    yield server
    server.stop()


class FakeClock:
    """Stands in for ``idm.clock.now``; ``advance`` moves time forward."""

    def __init__(self):
        self.moment = datetime.now(UTC)

    def __call__(self):
        return self.moment

    def advance(self, seconds):
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def fake_clock(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr("idm.clock.now", clock)
    return clock


def json_error(response, status):
    """Check the contract's one error shape with *status*; return its message."""
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body == {"error": {"status": status, "message": body["error"]["message"]}}
    message = body["error"]["message"]
    assert isinstance(message, str) and message.strip()
    assert "Traceback" not in response.text
    return message


# What Chromium sends for a page it navigates to.
BROWSER_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
)

USER_FIELDS = {"id", "username", "admin", "created", "changed", "last_login"}
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def assert_user(data, username, admin):
    """*data* is a user as the contract shows one: those fields, nothing more."""
    assert set(data) == USER_FIELDS
    assert data["username"] == username
    assert data["admin"] is admin
    assert data["created"].endswith("+00:00") and data["changed"].endswith("+00:00")


@pytest.fixture
def ids(client, user_headers, admin_headers):
    """{"admin": id, "user": id} of the two fixture users."""

    def whose(headers):
        return client.get("/user/me", headers=headers).json["data"]["id"]

    return {"admin": whose(admin_headers), "user": whose(user_headers)}


def pytest_addoption(parser):
    group = parser.getgroup("fuzz", "fuzzing the JSON API (tests/test_fuzz.py)")
    group.addoption("--fuzz-examples", type=int, default=20, help="examples per operation")
    group.addoption(
        "--fuzz-seed", default="0", help="seed of the generated data, or 'random' (make fuzz)"
    )


# The fuzz tests' budget, read by tests/test_fuzz.py when it is collected.
FUZZ = {}


def pytest_configure(config):
    seed = config.getoption("fuzz_seed")
    # The same seed, the same requests: a failure of a CI run replays with it.
    seed = secrets.randbelow(2**31) if seed == "random" else int(seed)
    FUZZ.update(examples=config.getoption("fuzz_examples"), seed=seed)


def pytest_report_header(config):
    # Named at the start too, so that a long run's failure can be replayed before it ends.
    return f"fuzz: {FUZZ['examples']} examples per operation and caller, seed {FUZZ['seed']}"


def pytest_terminal_summary(terminalreporter):
    report = sys.modules.get("fuzz_report")
    if report is not None and report.TALLY:
        writer = terminalreporter
        writer.section("fuzzing: calls per operation and caller")
        writer.line(f"{FUZZ['examples']} examples per operation and caller, seed {FUZZ['seed']}")
        for line in report.summary():
            writer.line(line)
