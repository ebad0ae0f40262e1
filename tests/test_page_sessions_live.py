"""Page sessions through gunicorn on PostgreSQL: several workers, and two hosts.

A session is a row in the shared database, so what one worker or host does
to it (sign out, a password change) holds on every other at the next click.
The cookie is handled by hand here, as a thief holding a copy of it would.
"""

import re
import secrets
import urllib.error
import urllib.parse
import urllib.request

import pytest
from conftest import ADMIN, LiveServer, csrf_token, http_json

pytestmark = pytest.mark.slow


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 302 is an answer to look at, not to follow


OPENER = urllib.request.build_opener(NoRedirect)


def fetch(url, cookie=None, form=None):
    """(status, Location, the session cookie it set or None, body) of one request."""
    request = urllib.request.Request(url)
    if cookie:
        request.add_header("Cookie", f"session={cookie}")
    if form is not None:
        request.data = urllib.parse.urlencode(form).encode()
    try:
        with OPENER.open(request, timeout=30) as response:
            status, headers, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, body = error.code, error.headers, error.read()
    set_cookie = re.match(r"session=([^;]*)", headers.get("Set-Cookie", ""))
    return status, headers.get("Location"), set_cookie and set_cookie.group(1), body.decode()


def sign_in(host, username, password):
    """The session cookie of a fresh sign-in on *host*."""
    _, _, cookie, page = fetch(host.url + "/login")
    form = {"csrf_token": csrf_token(page), "username": username, "password": password}
    status, location, cookie, _ = fetch(host.url + "/login", cookie, form)
    assert (status, location) == (302, "/admin")
    return cookie


def sign_out(host, cookie):
    _, _, updated, page = fetch(host.url + "/admin", cookie)
    cookie = updated or cookie  # the page's CSRF token went into the cookie
    status, location, _, _ = fetch(host.url + "/logout", cookie, {"csrf_token": csrf_token(page)})
    assert (status, location) == (302, "/login")


def signed_in(host, cookie):
    status, location, _, _ = fetch(host.url + "/admin", cookie)
    assert status == 200 or (status, location) == (302, "/login")
    return status == 200


@pytest.fixture
def database(postgres):
    name = postgres.create_database()
    yield postgres.uri(name)
    postgres.drop_database(name)


def test_a_copied_cookie_dies_on_every_worker_with_the_sign_out(tmp_path, database):
    server = LiveServer(tmp_path, workers=3, database_uri=database)
    try:
        server.init_admin(*ADMIN)
        cookie = sign_in(server, *ADMIN)
        copy = cookie  # what a thief took from the browser
        assert all(signed_in(server, copy) for _ in range(9))

        sign_out(server, cookie)

        assert not any(signed_in(server, copy) for _ in range(30))
    finally:
        server.stop()


def test_two_hosts_share_the_sessions(tmp_path, database):
    # One deployment: the same database and the same SECRET_KEY on both hosts.
    shared = f"SECRET_KEY = {secrets.token_hex(32)!r}\n"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = LiveServer(tmp_path / "a", database_uri=database, settings=shared)
    b = LiveServer(tmp_path / "b", database_uri=database, settings=shared)
    try:
        a.init_admin(*ADMIN)
        first, second = sign_in(a, *ADMIN), sign_in(b, *ADMIN)
        assert signed_in(b, first) and signed_in(a, second)

        sign_out(b, first)  # on the other host than the one it signed in on
        assert not signed_in(a, first)
        assert signed_in(a, second)

        # A password change on host A ends the session made on host B.
        _, _, body = http_json(
            a.url + "/auth", "POST", {"username": ADMIN[0], "password": ADMIN[1]}
        )
        token = body["access_token"]
        _, _, me = http_json(a.url + "/user/me", token=token)
        change = {"password": "the next admin password", "current_password": ADMIN[1]}
        status, _, _ = http_json(f"{a.url}/user/{me['data']['id']}", "PUT", change, token)
        assert status == 200
        status, location, told, _ = fetch(b.url + "/admin", second)
        assert (status, location) == (302, "/login")
        assert "Signed out: your password was changed." in fetch(b.url + location, told)[3]
        assert not signed_in(b, second)
    finally:
        a.stop()
        b.stop()
