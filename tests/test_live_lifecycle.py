"""Token lifecycle against a real gunicorn with two workers sharing one database.

Every request opens a new connection, so the two workers take turns at
random; ten requests in a row leave a chance of 1 in 512 that one worker
answered them all. Nothing may be cached per process: whichever worker
answers must see the logout, the lock, the demotion, the deletion.
"""

import pytest
from conftest import ADMIN, USER, http_json

pytestmark = pytest.mark.slow
REQUESTS = 10


def call(server, path, method="GET", body=None, token=None):
    """(status, headers, JSON body) of one request on a fresh connection."""
    return http_json(server.url + path, method, body, token, scheme="JWT")


def token_for(server, username, password):
    status, _, body = call(server, "/auth", "POST", {"username": username, "password": password})
    assert status == 200, body
    return body["access_token"]


def statuses(server, path, token, method="GET"):
    return {call(server, path, method, token=token)[0] for _ in range(REQUESTS)}


@pytest.fixture
def server(live_server):
    live_server.init_admin(*ADMIN)
    return live_server


def test_logout_holds_on_every_worker(server):
    token = token_for(server, *ADMIN)
    assert statuses(server, "/user/me", token) == {200}

    status, _, _ = call(server, "/auth/logout", "POST", token=token)

    assert status == 204
    assert statuses(server, "/user/me", token) == {401}


def test_refreshed_away_token_is_refused_on_every_worker(server):
    token = token_for(server, *ADMIN)

    _, _, body = call(server, "/auth/refresh", "POST", token=token)

    assert statuses(server, "/user/me", token) == {401}
    assert statuses(server, "/user/me", body["access_token"]) == {200}


def test_failed_logins_count_across_workers(server):
    wrong = {"username": USER[0], "password": "wrong password"}
    answers = [call(server, "/auth", "POST", wrong)[0] for _ in range(5)]
    assert answers == [401] * 5  # the unknown account counts like a real one

    for _ in range(REQUESTS):
        status, headers, body = call(server, "/auth", "POST", wrong)
        assert status == 429, body
        assert 0 < int(headers["Retry-After"]) <= 30


def test_demotion_and_deletion_hold_on_every_worker(server):
    admin = token_for(server, *ADMIN)
    new = {"username": USER[0], "password": USER[1], "admin": True}
    _, _, created = call(server, "/user", "POST", new, admin)
    user_id = created["data"]["id"]
    token = token_for(server, *USER)
    assert statuses(server, "/users", token) == {200}

    call(server, f"/user/{user_id}", "PUT", {"admin": False}, admin)
    assert statuses(server, "/users", token) == {403}

    call(server, f"/user/{user_id}", "DELETE", token=admin)
    assert statuses(server, "/user/me", token) == {401}
