"""Against a real gunicorn with two workers: races that only processes can show."""

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.slow


def call(url, method="GET", body=None, token=None):
    request = urllib.request.Request(url, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
        request.data = json.dumps(body).encode()
    if token:
        request.add_header("Authorization", "JWT " + token)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_racing_creates_of_one_username_give_one_user(live_server):
    live_server.init_admin("admin@example.org", "admin password 1")
    _, body = call(
        live_server.url + "/auth",
        "POST",
        {"username": "admin@example.org", "password": "admin password 1"},
    )
    token = body["access_token"]
    new = {"username": "twin@example.org", "password": "twin password 1"}

    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(lambda _: call(live_server.url + "/user", "POST", new, token), range(16))
        )

    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * 15
    _, listing = call(live_server.url + "/users?search=twin", token=token)
    assert listing["total"] == 1
