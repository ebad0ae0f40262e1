"""Every integer query parameter of every route has bounds: never a 500.

The routes are read from the app itself, so a new route or parameter is
covered without editing this file: every GET route is probed with each
parameter it declares (JSON views, ``@query_parameters``) and with the usual
names of pages (``page``, ``offset`` …); the ones that answer "must be a
whole number" to a word are integers, and those must refuse a huge, a
negative and a far too large number with a 400 that names them.
"""

import re

import pytest
from admin_helpers import sign_in
from conftest import ADMIN, UNKNOWN_ID

USUAL_NAMES = ("page", "offset", "perpage", "limit", "count", "size", "n")
# What the probe must find: if this changes, so did a route.
EXPECTED = {
    ("/users", "offset"),
    ("/users", "perpage"),
    ("/audit", "offset"),
    ("/audit", "perpage"),
    ("/admin", "page"),
    ("/admin", "perpage"),
    ("/admin/audit", "page"),
}
BAD_VALUES = [
    "9223372036854775808",  # one past the largest 64-bit integer: once a 500 on /audit
    "1" + "0" * 100,
    "-1",
    "-9223372036854775809",
    "1e3",
    "½",
    "٣",  # an Arabic-Indic three: int() takes it; still in bounds or refused, never a 500
    "0x10",
    " ",
]


def get_routes(app):
    """(path, declared parameter names) of every GET route, variables filled in."""
    routes = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        path = re.sub(r"<[^>]+>", UNKNOWN_ID, rule.rule)
        declared = getattr(app.view_functions[rule.endpoint], "query_parameters", frozenset())
        routes.append((path, sorted(set(declared) | set(USUAL_NAMES))))
    return routes


@pytest.fixture
def signed_in_client(client, admin_headers):
    assert sign_in(client, *ADMIN).status_code == 302
    return client


def integer_parameters(app, client, headers):
    found = set()
    for path, names in get_routes(app):
        for name in names:
            response = client.get(f"{path}?{name}=many", headers=headers)
            assert response.status_code < 500, (path, name, response.data[:300])
            if f"{name} must be a whole number".encode() in response.data:
                found.add((path, name))
    return found


def test_the_probe_finds_every_integer_parameter(app, signed_in_client, admin_headers):
    assert integer_parameters(app, signed_in_client, admin_headers) == EXPECTED


@pytest.mark.parametrize(("path", "name"), sorted(EXPECTED))
@pytest.mark.parametrize("value", BAD_VALUES)
def test_out_of_range_and_odd_numbers_are_a_400_naming_the_parameter(
    signed_in_client, admin_headers, path, name, value
):
    response = signed_in_client.get(path, query_string={name: value}, headers=admin_headers)

    assert response.status_code in (200, 400), response.data[:300]
    if response.status_code == 400:
        assert name.encode() in response.data
    if value.lstrip("-").isdigit() and len(value) > 15:
        assert response.status_code == 400
        assert b"must be at" in response.data  # at least / at most: the bound is named
