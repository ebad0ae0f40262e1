"""An operator's bad day, on PostgreSQL through gunicorn: the service keeps its promises.

- PostgreSQL restarted under load: only JSON 503s while it is away, service
  again within seconds, and a log that stays a few lines long.
- A worker killed in the middle of writes: every user answered 201 exists.
- The mail server down while reset emails are asked for: /status says so,
  the log stays short, and once the server is back every email goes out
  exactly once, within seconds rather than after its back-off.

Each test runs its own PostgreSQL cluster, so restarting it disturbs no
other test. Bounded in time: a few seconds of load each.
"""

import os
import secrets
import signal
import threading
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from conftest import LiveServer, csrf_token, free_port, http_json, require
from mailserver import MailServer
from pg_cluster import PostgresCluster, find_binaries

pytestmark = pytest.mark.slow

ADMIN = ("admin@example.org", "admin password 1")


@pytest.fixture
def cluster():
    bindir = find_binaries()
    require(bindir is not None, "PostgreSQL's server (initdb, pg_ctl: Debian's postgresql)")
    cluster = PostgresCluster(bindir).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def service(tmp_path, cluster):
    server = LiveServer(tmp_path, workers=3, database_uri=cluster.uri(cluster.create_database()))
    server.init_admin(*ADMIN)
    server.token = login(server, *ADMIN)
    yield server
    server.stop()


def login(server, username, password):
    status, _, body = http_json(
        server.url + "/auth", "POST", {"username": username, "password": password}
    )
    assert status == 200, body
    return body["access_token"]


class Load:
    """Threads sending requests until stopped; every answer is kept."""

    def __init__(self, call, threads=4):
        self.answers = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(call,)) for _ in range(threads)]

    def run(self, call):
        while not self.stopping.is_set():
            try:
                answer = call()
            except OSError:  # the connection itself broke: no answer at all
                answer = (0, None)
            self.answers.append((time.monotonic(), *answer))

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)


def restart(cluster):
    cluster.run("pg_ctl", "stop", "-D", str(cluster.data), "-m", "immediate", "-w")
    time.sleep(1)  # down for a while, as a real restart is
    options = [f"-p {cluster.port}", "-c listen_addresses=127.0.0.1"]
    options.append(f"-c unix_socket_directories={cluster.dir}")
    cluster.run(
        "pg_ctl",
        "start",
        "-w",
        "-D",
        str(cluster.data),
        "-l",
        str(cluster.log),
        "-o",
        " ".join(options),
    )
    return time.monotonic()


def test_a_database_restart_under_load_gives_json_503s_then_service(service, cluster):
    def whoami():
        status, _, body = http_json(service.url + "/user/me", token=service.token)
        return status, body

    with Load(whoami) as load:
        time.sleep(1)
        back_at = restart(cluster)
        time.sleep(3)

    statuses = {status for _, status, _ in load.answers}
    assert statuses <= {200, 503}, statuses
    assert 503 in statuses, "the restart was not noticed: the test proves nothing"
    for _, status, body in load.answers:
        if status == 503:
            assert body == {"error": {"status": 503, "message": body["error"]["message"]}}
    failed_after = [
        at - back_at for at, status, _ in load.answers if status == 503 and at > back_at
    ]
    assert not failed_after or max(failed_after) < 1.0, (
        "not serving within a second of the database"
    )
    assert load.answers[-1][1] == 200

    lines = Path(service.log).read_text().splitlines()
    outage = [line for line in lines if "database unavailable" in line]
    # Folded: a line per worker and interval, not one per failed request.
    assert 1 <= len(outage) <= 3 * 2, outage
    assert not any(line.startswith("Traceback") for line in lines)  # an outage is no bug


def worker_pids(master):
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                pids.append(int(entry.name))
    return pids


def test_a_killed_worker_loses_nothing_that_was_answered_201(service):
    def create():
        name = f"u{secrets.token_hex(6)}@example.org"
        body = {"username": name, "password": "a good password"}
        try:
            status, _, _ = http_json(service.url + "/user", "POST", body, service.token)
        except OSError:
            status = 0
        return status, name

    with Load(create) as load:
        time.sleep(1)
        for pid in worker_pids(service.process.pid)[:2]:
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
        time.sleep(1.5)

    created = [name for _, status, name in load.answers if status == 201]
    assert len(created) > 10
    status, _, page = http_json(service.url + "/users?perpage=100", token=service.token)
    assert status == 200
    total, listed = page["total"], set()
    for offset in range(0, total, 100):
        _, _, chunk = http_json(
            f"{service.url}/users?perpage=100&offset={offset}", token=service.token
        )
        listed |= {user["username"] for user in chunk["data"]}
    assert set(created) <= listed
    # A request cut off by the kill got no answer (a connection error), never a 500.
    assert {status for _, status, _ in load.answers} <= {201, 0}


def ask_for_reset(server, username):
    """POST /iforgot as a browser would (the form's CSRF token and cookie)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    page = opener.open(server.url + "/iforgot").read().decode()
    form = urllib.parse.urlencode({"csrf_token": csrf_token(page), "username": username})
    with opener.open(server.url + "/iforgot", data=form.encode()) as response:
        assert response.status == 200


def test_mail_queued_during_an_smtp_outage_goes_out_once_soon_after(tmp_path, cluster):
    mail = MailServer(free_port())  # not started: the mail server is down
    settings = f"MAIL_SERVER = '127.0.0.1'\nMAIL_PORT = {mail.port}\nIDM_MAIL_POLL_SECONDS = 1\n"
    database = cluster.uri(cluster.create_database())
    server = LiveServer(tmp_path, workers=3, database_uri=database, settings=settings)
    try:
        server.init_admin(*ADMIN)
        token = login(server, *ADMIN)
        users = [f"reader{n}@example.org" for n in range(6)]
        for name in users:
            body = {"username": name, "password": "a good password"}
            assert http_json(server.url + "/user", "POST", body, token)[0] == 201
        for name in users:
            ask_for_reset(server, name)
        time.sleep(6)  # every email has failed once: its next try is 30 s away
        data = http_json(server.url + "/status", token=token)[2]["data"]
        assert data["mail"] == "unavailable" and data["mail_queue"]["depth"] == 6
        outage_log = Path(server.log).read_text().splitlines()

        mail.start()
        # Within seconds of its return, not after the 30-second back-off.
        arrived = mail.wait_for(len(users), seconds=15)
        time.sleep(3)  # any second copy would arrive meanwhile

        assert sorted(message["To"] for message in mail.messages) == users
        assert len(arrived) == len(mail.messages)
        assert http_json(server.url + "/status")[2] == {"data": {"db": "ok", "mail": "ok"}}
        mail_lines = [line for line in outage_log if "idm.mail" in line]
        # A failed check or delivery is a line, never a traceback; ~6 s, 3 workers.
        assert 1 <= len(mail_lines) <= 40, mail_lines
        assert not any(line.startswith("Traceback") for line in outage_log)
    finally:
        server.stop()
        mail.stop()
