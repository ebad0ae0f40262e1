"""Against a real gunicorn with several workers: races that only processes can show."""

import os
import random
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar

import pytest
from conftest import ADMIN, ROOT, LiveServer, csrf_token, free_port, http_json
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.slow


def call(url, method="GET", body=None, token=None):
    status, _, data = http_json(url, method, body, token, scheme="JWT")
    return status, data


def first_admin_token(live_server):
    """Make the first admin through /init and log in: the admin's token."""
    live_server.init_admin(*ADMIN)
    credentials = {"username": ADMIN[0], "password": ADMIN[1]}
    status, body = call(live_server.url + "/auth", "POST", credentials)
    assert status == 200, body
    return body["access_token"]


def test_racing_creates_of_one_username_give_one_user(live_server):
    token = first_admin_token(live_server)
    new = {"username": "twin@example.org", "password": "twin password 1"}

    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(lambda _: call(live_server.url + "/user", "POST", new, token), range(16))
        )

    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * 15
    _, listing = call(live_server.url + "/users?search=twin", token=token)
    assert listing["total"] == 1


@pytest.fixture
def four_workers_on(tmp_path, database_uri):
    """gunicorn with four workers on this test's SQLite or PostgreSQL database."""
    server = LiveServer(tmp_path, workers=4, database_uri=database_uri)
    yield server
    server.stop()


def test_racing_creates_and_deletes_keep_the_count_right(four_workers_on, database_uri):
    """Creates (one name sixteen times), deletes (each user twice) and admin
    deletes (lock_admins, then the counter row) at once: no deadlock, no
    500, and the counter the triggers keep equals count(*) afterwards."""
    live_server = four_workers_on
    token = first_admin_token(live_server)
    password = "racing password 1"
    doomed = [f"doomed{i}@example.org" for i in range(6)]
    bosses = [f"boss{i}@example.org" for i in range(2)]
    for name in doomed + bosses:
        new = {"username": name, "password": password, "admin": name in bosses}
        assert call(live_server.url + "/user", "POST", new, token)[0] == 201

    jobs = [("POST", {"username": "twin@example.org", "password": password})] * 16
    jobs += [("POST", {"username": f"new{i}@example.org", "password": password}) for i in range(12)]
    jobs += [("DELETE", {"username": name}) for name in doomed * 2 + bosses]
    random.Random(1).shuffle(jobs)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(lambda job: call(live_server.url + "/user", job[0], job[1], token)[0], jobs)
        )

    expected = [201] * 13 + [409] * 15 + [204] * 8 + [404] * 6
    assert sorted(statuses) == sorted(expected), list(zip(jobs, statuses, strict=True))
    _, listing = call(live_server.url + "/users", token=token)
    assert listing["total"] == 1 + 1 + 12  # the admin, the twin, the new ones
    engine = create_engine(database_uri)
    with engine.connect() as connection:
        counted = connection.scalar(text("SELECT n FROM user_count"))
        rows = connection.scalar(text("SELECT count(*) FROM users"))
    engine.dispose()
    assert counted == rows == 14


def init_request(url, username, password="racing admin password"):
    """A ready-to-send /init POST: its own cookie jar, form and CSRF token."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    page = opener.open(url + "/init", timeout=30).read().decode()
    form = {"csrf_token": csrf_token(page), "username": username}
    form.update(password=password, password2=password)
    return opener, urllib.parse.urlencode(form).encode()


def send(url, opener, data):
    try:
        with opener.open(url + "/init", data=data, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def four_workers(tmp_path):
    """gunicorn with four workers, all of them with the app loaded."""
    server = LiveServer(tmp_path, workers=4)
    try:
        deadline = time.monotonic() + 30
        # Each worker logs NO ADMIN EXISTS once its app is up; a race against a
        # worker still booting would be no race.
        while server.log.read_text().count("NO ADMIN EXISTS") < 4:
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.05)
        yield server
    finally:
        server.stop()


def test_racing_init_posts_give_one_admin(four_workers):
    live_server = four_workers
    names = [f"racer{i}@example.org" for i in range(10)]
    requests = [init_request(live_server.url, name) for name in names]
    start = threading.Barrier(len(requests))

    def race(request):
        start.wait()
        return send(live_server.url, *request)

    with ThreadPoolExecutor(len(requests)) as pool:
        statuses = list(pool.map(race, requests))

    assert sorted(statuses) == [201] + [403] * 9
    winners = []
    for name in names:
        status, body = call(
            live_server.url + "/auth",
            "POST",
            {"username": name, "password": "racing admin password"},
        )
        if status == 200:
            winners.append((name, body["access_token"]))
    assert len(winners) == 1
    _, listing = call(live_server.url + "/users", token=winners[0][1])
    assert listing["total"] == 1
    assert listing["data"][0]["admin"] is True


def test_gunicorn_refuses_to_start_with_the_default_secret_key(tmp_path):
    settings = tmp_path / "settings.py"
    settings.write_text(f"SQLALCHEMY_DATABASE_URI = 'sqlite:///{tmp_path / 'x.sqlite'}'\n")
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{free_port()}", "app:app"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env["IDM_SETTINGS"] = str(settings)

    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode != 0
    assert "refusing to start: SECRET_KEY is the public default" in result.stderr


def test_a_url_as_long_as_nginx_passes_reaches_the_app(tmp_path):
    """Nginx passes request lines up to 8 KiB; gunicorn must take them and let the app
    answer, not refuse them with a page of its own (its default stops at 4 KiB)."""
    server = LiveServer(tmp_path)
    try:
        status, _, body = http_json(server.url + "/?_=" + "x" * 8000)
    finally:
        server.stop()

    assert (status, body) == (200, {"status": "ready"})
