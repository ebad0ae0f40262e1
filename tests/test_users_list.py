"""GET /users: paging, search and their bounds."""

from urllib.parse import urlencode

import pytest
from conftest import ADMIN, json_error

from idm.users import create_user

# Stored lower-case; "_" and "%" are LIKE wildcards that search must take literally.
OTHERS = ["a_b@example.org", "axb@example.org", "100%@example.org", "1000@example.org"]
OTHERS += ["Zed@Example.NET", "carol@example.org"]
EVERYONE = sorted([ADMIN[0]] + [name.lower() for name in OTHERS])


@pytest.fixture
def crowd(app, admin):
    with app.app_context():
        for name in OTHERS:
            create_user(name, "a good long password")


def listing(client, headers, query=""):
    response = client.get("/users" + query, headers=headers)
    assert response.status_code == 200, response.json
    assert set(response.json) == {"data", "total"}
    return [user["username"] for user in response.json["data"]], response.json["total"]


def test_everyone_in_username_order(client, crowd, admin_headers):
    response = client.get("/users", headers=admin_headers)

    assert [user["username"] for user in response.json["data"]] == EVERYONE
    assert response.json["total"] == len(EVERYONE)
    assert all(
        user.keys() == {"id", "username", "admin", "created", "changed", "last_login"}
        for user in response.json["data"]
    )
    assert [user["admin"] for user in response.json["data"]] == [
        name == ADMIN[0] for name in EVERYONE
    ]


@pytest.mark.parametrize(("offset", "perpage"), [(0, 2), (1, 2), (2, 3), (6, 5), (7, 1), (50, 10)])
def test_offset_and_perpage(client, crowd, admin_headers, offset, perpage):
    names, total = listing(client, admin_headers, f"?offset={offset}&perpage={perpage}")

    assert names == EVERYONE[offset : offset + perpage]
    assert total == len(EVERYONE)


def test_the_default_page_size_is_a_setting(app, client, crowd, admin_headers):
    app.config["IDM_USERS_PER_PAGE"] = 3

    assert listing(client, admin_headers) == (EVERYONE[:3], len(EVERYONE))
    assert listing(client, admin_headers, "?offset=&perpage=") == (EVERYONE[:3], len(EVERYONE))


def test_the_largest_page_size_is_allowed(app, client, crowd, admin_headers):
    app.config["IDM_USERS_MAX_PER_PAGE"] = 4

    assert listing(client, admin_headers, "?perpage=4") == (EVERYONE[:4], len(EVERYONE))
    assert "at most 4" in json_error(client.get("/users?perpage=5", headers=admin_headers), 400)


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("carol", ["carol@example.org"]),
        ("CAROL@EXAMPLE.ORG", ["carol@example.org"]),
        ("  carol  ", ["carol@example.org"]),
        ("example.net", ["zed@example.net"]),
        ("_", ["a_b@example.org"]),
        ("a_b", ["a_b@example.org"]),
        ("%", ["100%@example.org"]),
        ("100%", ["100%@example.org"]),
        ("0%", ["100%@example.org"]),
        ("\\", []),
        ("nobody", []),
        ("", EVERYONE),
    ],
)
def test_search(client, crowd, admin_headers, search, expected):
    assert listing(client, admin_headers, "?" + urlencode({"search": search})) == (
        expected,
        len(expected),
    )


def test_total_counts_every_match_not_the_page(client, crowd, admin_headers):
    names, total = listing(client, admin_headers, "?search=example.org&perpage=2&offset=1")

    matches = [name for name in EVERYONE if "example.org" in name]
    assert names == matches[1:3]
    assert total == len(matches)


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ("perpage=0", "perpage must be at least 1"),
        ("perpage=-1", "perpage must be at least 1"),
        ("perpage=101", "perpage must be at most 100"),
        ("perpage=99999999999999999999999", "perpage must be at most 100"),
        ("offset=-1", "offset must be at least 0"),
        ("offset=x", "offset must be a whole number"),
        ("perpage=1.5", "perpage must be a whole number"),
        ("perpage=1e3", "perpage must be a whole number"),
        ("offset=%00", "offset must be a whole number"),
        ("search=%00", "search must not contain NUL characters"),
        # Bounded as sent (the description's maxLength), not once trimmed.
        ("search=" + "a" * 254 + "%09", "search must be at most 254 characters"),
    ],
)
def test_bounds(client, admin_headers, params, reason):
    assert reason in json_error(client.get("/users?" + params, headers=admin_headers), 400)


def test_listing_needs_an_admin(client, user_headers):
    json_error(client.get("/users", headers=user_headers), 403)
    json_error(client.get("/users"), 401)
