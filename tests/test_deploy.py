"""DEPLOY.md, step for step, on loopback: Nginx (TLS) -> supervisor -> gunicorn -> PostgreSQL.

Then its backups: the shell blocks of "Backups and restore" and the jobs of
deploy/cron/idm, run as written. See tests/deploy_stack.py for how the
shipped files are put to work.
"""

import email
import email.policy
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from conftest import FAST_HASH, ROOT, free_port, upgrade_schema
from deploy_stack import (
    ADMIN,
    Deployment,
    credentials,
    cron_jobs,
    doc_blocks,
    find_tool,
    init_first_admin,
    require_tools,
    run_script,
    substitute,
    user_names,
    wait_until,
)
from https_client import reset_link

pytestmark = pytest.mark.slow

ALICE = ("alice@example.org", "alice password 1")


DAY = 24 * 3600


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


# What the app sends on every JSON answer, and Nginx on TLS: its own error
# answers must carry them too.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


def assert_security_headers(headers):
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value, name
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert len(headers["X-Request-ID"]) == 32


def test_nginx_own_413_carries_the_security_headers(site):
    status, headers, _ = site.https("/auth", "POST", data=b"x" * (1024 * 1024 + 1))
    assert status == 413
    assert_security_headers(headers)


def test_nginx_own_502_answer_carries_the_security_headers(site):
    """gunicorn stopped: Nginx answers for it (502 -> its JSON 503)."""
    host = site.hosts[0]
    site.supervisorctl("stop", host.name)
    try:
        status, headers, body = site.https("/status")
        assert status == 503
        assert body["error"]["status"] == 503
        assert_security_headers(headers)
    finally:
        site.supervisorctl("start", host.name)
        wait_until(lambda: site.answers(host.url + "/"), "gunicorn back", logs=site.logs)


def test_long_urls_get_json_answers(site):
    """Up to Nginx's 8 KiB the app answers: gunicorn takes lines as long; beyond, Nginx, in JSON."""
    status, _, body = site.https("/?_=" + "x" * 6000)
    assert (status, body) == (200, {"status": "ready"})

    status, headers, body = site.https("/?_=" + "x" * 9000)
    assert (status, body) == (414, {"error": {"status": 414, "message": "request line too long"}})
    assert_security_headers(headers)


def test_static_files_come_from_nginx(site):
    status, headers, _ = site.call(site.public_url + "/static/style.css")
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert "Cache-Control" in headers  # Nginx's "expires", not Flask's send_file


@pytest.fixture
def backups():
    """Stands in for /var/backups/idm, in a directory the cluster's user can enter.

    The cluster's user is DEPLOY.md's ``postgres`` (``nobody`` when the
    tests run as root), and pytest's tmp_path is root's alone.
    """
    parent = Path(tempfile.mkdtemp(prefix="idm-backups-"))
    parent.chmod(0o755)
    yield parent / "idm"
    shutil.rmtree(parent)


def admin_token(site):
    """The first admin's token; /init first when this test runs alone."""
    if site.https("/auth", "POST", credentials(ADMIN))[0] != 200:
        init_first_admin(site)
    return site.login(site.public_url, *ADMIN)


def new_user(site, token, name):
    user = (f"{name}@example.org", f"{name} password 1")
    status, _, body = site.https("/user", "POST", credentials(user), token)
    assert status == 201, body
    return user


def age(path, days):
    """Make *path* look as if written *days* ago (and a minute)."""
    stamp = time.time() - days * DAY - 60
    os.utime(path, (stamp, stamp))


def test_postgresql_backup_and_restore_as_deploy_md_has_them(site, backups):
    token = admin_token(site)
    dave = new_user(site, token, "dave")
    blocks = doc_blocks("Backups and restore", "PostgreSQL")
    assert len(blocks) == 2, "expected a backup and a restore block: update the test"
    backup, restore = blocks
    postgres, postgres_group = site.postgres_user()
    env = site.client_env()

    replacements = {
        "-o postgres -g postgres": f"-o {postgres} -g {postgres_group}",
        "sudo -u postgres ": site.as_postgres(),
        "/var/backups/idm": str(backups),
    }
    run_script(substitute(backup, replacements), env)
    (dump,) = backups.glob("idm-*.dump")
    assert backups.owner() == dump.owner() == postgres
    assert backups.stat().st_mode & 0o777 == 0o700
    erin = new_user(site, token, "erin")  # after the backup: the restore undoes it

    replacements = {
        "supervisorctl ": site.supervisorctl_command() + " ",
        "sudo -u postgres ": site.as_postgres(),
        "/var/backups/idm": str(backups),
        "YYYY-MM-DD": dump.name.removeprefix("idm-").removesuffix(".dump"),
    }
    output = run_script(substitute(restore, replacements), env)

    assert "idm: stopped" in output and "idm: started" in output
    status = site.hosts[0].url + "/status"
    wait_until(lambda: site.call(status)[0] == 200, "the restored service", logs=site.logs)
    assert site.login(site.public_url, *dave)
    assert site.https("/auth", "POST", credentials(erin))[0] == 401


def cron_env():
    """The environment cron gives a job (Debian's cron: this PATH, sh)."""
    return {"PATH": "/usr/bin:/bin", "SHELL": "/bin/sh", "LC_ALL": "C"}


def run_cron_job(command, env, owner=None):
    """A job's command the way cron runs it: ``sh -c``, as the job's user; its output."""
    uid, gid = owner or (None, None)
    done = subprocess.run(
        ["/bin/sh", "-c", command],
        user=uid,
        group=gid,
        extra_groups=[] if owner else None,
        env=env,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"cron job failed:\n{command}\n{done.stdout}{done.stderr}"
    return done.stdout


def test_cron_jobs_dump_the_database_and_prune_the_audit_log(site, backups):
    backups.mkdir(mode=0o700)  # as DEPLOY.md has it made, owned by postgres
    if site.postgres.owner:
        os.chown(backups, *site.postgres.owner)
    expired, kept = backups / "idm-2000-01-01.dump", backups / "idm-2000-01-02.dump"
    for path, days in ((expired, 15), (kept, 13)):
        path.write_bytes(b"")
        age(path, days)
    jobs = dict(cron_jobs())
    assert set(jobs) == {"postgres", "idm"}, "new jobs in deploy/cron/idm: update the test"

    dump = substitute(jobs["postgres"], {"/var/backups/idm": str(backups)})
    assert run_cron_job(dump, site.client_env(cron_env()), site.postgres.owner) == ""
    # idm is the user the stack runs the service as: this process's.
    paths = {"/srv/idm/app": str(ROOT), "/srv/idm/venv": sys.prefix}
    paths["/etc/idm/settings.py"] = str(site.settings)
    summary = run_cron_job(substitute(jobs["idm"], paths), cron_env())

    assert re.fullmatch(r"deleted \d+ audit events older than 365 days, .*\n", summary)
    names = {path.name for path in backups.iterdir()}
    assert kept.name in names and expired.name not in names
    (today,) = names - {kept.name}
    assert re.fullmatch(r"idm-\d{4}-\d\d-\d\d\.dump", today)
    listing = subprocess.run([find_tool("pg_restore"), "--list", str(backups / today)])
    assert listing.returncode == 0  # a dump pg_restore can read


def flask(env, *args, stdin=None):
    command = [sys.executable, "-m", "flask", "--app", "app", *args]
    done = subprocess.run(command, cwd=ROOT, env=env, input=stdin, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def sqlite_host(tools, tmp_path):
    """DEPLOY.md's SQLite variant without a server: step 4's directory, the schema.

    This process stands in for the service user ``idm``. Returns the
    environment for ``flask`` and the substitutions for DEPLOY.md's paths.
    """
    user, group = user_names()
    data = tmp_path / "data"
    (block,) = [b for b in doc_blocks("4. PostgreSQL database") if "/srv/idm/data" in b]
    owner = {"-o idm -g idm": f"-o {user} -g {group}"}
    run_script(substitute(block, {**owner, "/srv/idm/data": str(data)}), os.environ)
    assert data.stat().st_mode & 0o777 == 0o750
    settings = tmp_path / "settings.py"
    settings.write_text(
        f"SECRET_KEY = {secrets.token_urlsafe(48)!r}\n"
        f"SQLALCHEMY_DATABASE_URI = 'sqlite:///{data}/idm.sqlite'\n"
        "IDM_PUBLIC_URL = 'https://idm.example.org'\n"
        f"IDM_PASSWORD_HASH_METHOD = {FAST_HASH!r}\n"
    )
    env = dict(os.environ, IDM_SETTINGS=str(settings))
    upgrade_schema(env)
    backups = tmp_path / "backups" / "idm"
    backups.parent.mkdir()
    return env, {**owner, "/srv/idm/data": str(data), "/var/backups/idm": str(backups)}


def create_user(env, username):
    flask(env, "users", "create", username, "--password-stdin", stdin="a password 1")


def test_sqlite_backup_and_restore_as_deploy_md_has_them(sqlite_host, tmp_path):
    env, replacements = sqlite_host
    create_user(env, "kept@example.org")
    blocks = doc_blocks("Backups and restore", "SQLite")
    assert len(blocks) == 2, "expected a backup and a restore block: update the test"
    backup, restore = blocks

    run_script(substitute(backup, {"sudo -u idm ": "", **replacements}), env)
    (copy,) = Path(replacements["/var/backups/idm"]).glob("idm-*.sqlite")
    create_user(env, "lost@example.org")  # after the backup: the restore undoes it

    # No service runs here: a supervisorctl that only notes what it is told.
    stub = tmp_path / "bin" / "supervisorctl"
    stub.parent.mkdir()
    stub.write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/supervisorctl.calls\n')
    stub.chmod(0o755)
    date = copy.name.removeprefix("idm-").removesuffix(".sqlite")
    restore = substitute(restore, {**replacements, "YYYY-MM-DD": date})
    run_script(restore, dict(env, PATH=f"{stub.parent}:{env['PATH']}"))

    assert (tmp_path / "supervisorctl.calls").read_text() == "stop idm\nstart idm\n"
    users = [line.split("\t")[0] for line in flask(env, "users", "list").splitlines()]
    assert users == ["kept@example.org"]


def test_the_sqlite_cron_job_backs_up_the_file(sqlite_host):
    env, replacements = sqlite_host
    create_user(env, "kept@example.org")
    backups = Path(replacements["/var/backups/idm"])
    backups.mkdir()
    expired = backups / "idm-2000-01-01.sqlite"
    expired.write_bytes(b"")
    age(expired, 15)
    (job,) = cron_jobs(enabled=False)
    assert job[0] == "idm"
    paths = {key: replacements[key] for key in ("/srv/idm/data", "/var/backups/idm")}

    assert run_cron_job(substitute(job[1], paths), cron_env()) == ""

    (made,) = backups.iterdir()
    assert re.fullmatch(r"idm-\d{4}-\d\d-\d\d\.sqlite", made.name)
    query = [find_tool("sqlite3"), str(made), "SELECT username FROM users"]
    assert subprocess.run(query, capture_output=True, text=True).stdout == "kept@example.org\n"


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


def test_nginx_keeps_metrics_from_the_internet_and_gunicorn_serves_them_on_the_host(site):
    status, _, body = site.https("/metrics")
    assert status == 404 and body["error"]["status"] == 404

    host = site.hosts[0]
    with urllib.request.urlopen(host.url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    assert "idm_http_requests_total" in text and "idm_outbox_depth" in text
