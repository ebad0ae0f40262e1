"""JSON routes refuse query parameters they do not read, as they refuse unknown JSON fields."""

import pytest
from conftest import json_error


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/users?page=2", "page"),
        ("/users?perpage=5&offest=10", "offest"),
        ("/audit?actor=x", "actor"),
        ("/user/me?verbose=1", "verbose"),
        ("/status?full=1", "full"),
    ],
)
def test_an_unknown_query_parameter_is_a_400_naming_it(client, admin_headers, path, parameter):
    message = json_error(client.get(path, headers=admin_headers), 400)

    assert message == f"unknown query parameter: {parameter}"


def test_the_parameters_a_route_reads_are_accepted(client, admin_headers):
    response = client.get("/users?offset=0&perpage=5&search=admin", headers=admin_headers)

    assert response.status_code == 200
    assert response.json["total"] == 1


def test_cache_busters_starting_with_an_underscore_are_ignored(client, admin_headers):
    response = client.get("/users?_=1700000000&_ts=3", headers=admin_headers)

    assert response.status_code == 200


def test_a_post_with_a_query_string_is_refused_too(client):
    body = {"username": "nobody@example.org", "password": "whatever it is"}

    message = json_error(client.post("/auth?remember=1", json=body), 400)

    assert message == "unknown query parameter: remember"


def test_logout_reads_all(client, admin_headers):
    assert client.post("/auth/logout?all=1", headers=admin_headers).status_code == 204


def test_pages_take_their_own_parameters(client):
    """Pages are for people: a stray parameter in a link never breaks them."""
    assert client.get("/iforgot?utm_source=mail").status_code == 200
