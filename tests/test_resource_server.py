"""A resource server that holds nothing but the JWKS URL, against the service under gunicorn.

tests/resource_server.py fetches the keys over HTTP with PyJWT's
PyJWKClient. It accepts the service's tokens, keeps accepting them across a
rotation, refuses a token of a retired key, and, on its strict route,
refuses one that introspection says is no longer active. Then two gunicorn
"hosts" on one PostgreSQL database: a rotation made on one is used by the
other. And the first key, made by many workers at once, is one key.
"""

import os
import re
import secrets
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
from conftest import ADMIN, ROOT, LiveServer, http_json
from resource_server import create_resource_server

from idm.introspection import secret_digest

pytestmark = pytest.mark.slow

PUBLISH_AHEAD = 3  # seconds: a new key signs this long after the rotation
CACHE_SECONDS = 1  # seconds a worker trusts its copy of the keys
LIFESPAN = 1  # seconds the resource server caches the key set (below the publish-ahead time)
CLIENT = ("records", "the records service's introspection secret, long and random 7")
SETTINGS = (
    f"IDM_KEY_PUBLISH_AHEAD = {PUBLISH_AHEAD}\n"
    f"IDM_KEY_CACHE_SECONDS = {CACHE_SECONDS}\n"
    f"IDM_INTROSPECTION_CLIENTS = {{{CLIENT[0]!r}: {secret_digest(CLIENT[1])!r}}}\n"
)


@pytest.fixture
def idm(tmp_path, database_uri):
    server = LiveServer(tmp_path, settings=SETTINGS, database_uri=database_uri)
    try:
        server.init_admin(*ADMIN)
        yield server
    finally:
        server.stop()


def resource_server(idm_url):
    app = create_resource_server(
        idm_url + "/.well-known/jwks.json",
        lifespan=LIFESPAN,
        introspection=idm_url + "/auth/introspect",
        client=CLIENT,
    )
    return app.test_client()


def token(url, username=ADMIN[0], password=ADMIN[1]):
    status, _, body = http_json(url + "/auth", "POST", {"username": username, "password": password})
    assert status == 200, body
    return body["access_token"]


def kid(token_):
    return jwt.get_unverified_header(token_)["kid"]


def published(url):
    status, headers, body = http_json(url + "/.well-known/jwks.json")
    assert status == 200
    assert headers["Cache-Control"] == f"public, max-age={PUBLISH_AHEAD}"
    return {key["kid"] for key in body["keys"]}


def records(rs, token_, path="/records"):
    response = rs.get(path, headers={"Authorization": "Bearer " + token_})
    return response.status_code, response.json


def flask_keys(server, *args):
    """`flask --app app keys …` on the host, with that server's settings."""
    env = dict(os.environ, IDM_SETTINGS=str(server.settings))
    command = [sys.executable, "-m", "flask", "--app", "app", "keys", *args]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def rotate(server, *options):
    output = flask_keys(server, "rotate", *options)
    return re.search(r"^new key (\S+)", output, re.M).group(1), time.monotonic()


def sleep_until(moment):
    time.sleep(max(0.0, moment - time.monotonic()))


def test_accepted_before_during_and_after_a_rotation(idm):
    rs = resource_server(idm.url)
    first = token(idm.url)
    assert records(rs, first)[0] == 200

    new_kid, rotated_at = rotate(idm)

    assert published(idm.url) == {kid(first), new_kid}  # at once
    assert kid(token(idm.url)) == kid(first)  # the old key still signs
    time.sleep(LIFESPAN)  # the resource server's copy expires; it fetches both keys
    assert records(rs, first)[0] == 200
    sleep_until(rotated_at + PUBLISH_AHEAD + 0.5)
    second = token(idm.url)
    assert kid(second) == new_kid
    assert records(rs, second)[0] == 200
    assert records(rs, first)[0] == 200  # the old key verifies until its tokens expire
    assert http_json(idm.url + "/user/me", token=first)[0] == 200


def test_a_token_of_a_retired_key_is_refused(idm):
    rs = resource_server(idm.url)
    old = token(idm.url)
    assert records(rs, old)[0] == 200

    new_kid, _ = rotate(idm, "--now")
    time.sleep(max(LIFESPAN, CACHE_SECONDS) + 0.2)  # every copy of the keys has expired

    assert published(idm.url) == {new_kid}
    status, body = records(rs, old)
    assert (status, body["error"]) == (
        401,
        f'Unable to find a signing key that matches: "{kid(old)}"',
    )
    fresh = token(idm.url)
    assert kid(fresh) == new_kid
    assert records(rs, fresh)[0] == 200
    status, _, body = http_json(idm.url + "/user/me", token=old)
    assert (status, body["error"]["message"]) == (401, "token is signed with a retired key")


def test_the_strict_route_refuses_what_introspection_calls_inactive(idm):
    rs = resource_server(idm.url)
    held = token(idm.url)
    assert records(rs, held, "/records/strict") == (
        200,
        {"sub": records(rs, held)[1]["sub"], "admin": True},
    )

    assert http_json(idm.url + "/auth/logout", "POST", token=held)[0] == 204

    # The signature alone still holds until the token expires; introspection knows better.
    assert records(rs, held)[0] == 200
    assert records(rs, held, "/records/strict") == (401, {"error": "the token is no longer active"})


def test_workers_racing_to_make_the_first_key_make_one(tmp_path, database_uri):
    server = LiveServer(tmp_path, workers=4, settings=SETTINGS, database_uri=database_uri)
    try:
        server.init_admin(*ADMIN)  # no token yet, so no key
        # Making an RSA key takes tens of milliseconds: workers that start
        # together all find no key, all make one, and race to insert it (the
        # log shows the losers: "made by another process first").
        start = threading.Barrier(12)

        def first_use(number):
            start.wait()
            if number % 2:
                return {kid(token(server.url))}
            return published(server.url)

        with ThreadPoolExecutor(12) as pool:
            seen = set().union(*pool.map(first_use, range(12)))

        listed = [line for line in flask_keys(server, "list").splitlines() if "\tRS256\t" in line]
    finally:
        server.stop()
    assert len(seen) == 1
    assert len(listed) == 1 and listed[0].startswith(seen.pop())
    assert "\tactive\t" in listed[0]


@pytest.mark.postgresql
def test_two_hosts_on_one_database_share_every_rotation(tmp_path, postgres):
    database = postgres.create_database()
    uri = postgres.uri(database)
    shared = f"SECRET_KEY = {secrets.token_hex(32)!r}\n"  # the same on every host
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = LiveServer(tmp_path / "a", settings=SETTINGS + shared, database_uri=uri)
    b = LiveServer(tmp_path / "b", settings=SETTINGS + shared, database_uri=uri)
    try:
        a.init_admin(*ADMIN)
        rs = resource_server(b.url)  # it knows host b only
        first = token(a.url)
        assert http_json(b.url + "/user/me", token=first)[0] == 200
        assert records(rs, first)[0] == 200

        new_kid, rotated_at = rotate(a)  # on host a

        assert published(b.url) == {kid(first), new_kid}
        sleep_until(rotated_at + PUBLISH_AHEAD + 0.5)
        second = token(b.url)
        assert kid(second) == new_kid  # host b signs with the key host a made
        assert http_json(a.url + "/user/me", token=second)[0] == 200
        assert records(rs, second)[0] == 200

        newest, _ = rotate(b, "--now")
        time.sleep(max(LIFESPAN, CACHE_SECONDS) + 0.2)
        assert kid(token(a.url)) == newest
        for host in (a, b):
            status, _, body = http_json(host.url + "/user/me", token=second)
            assert (status, body["error"]["message"]) == (401, "token is signed with a retired key")
        assert records(rs, second)[0] == 401
    finally:
        a.stop()
        b.stop()
        postgres.drop_database(database)
