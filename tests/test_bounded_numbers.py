"""Every integer query parameter of every route has bounds: never a 500.

The routes are read from the app itself, so a new route or parameter is
covered without editing this file: every GET route is probed with each
parameter it declares (JSON views, ``@query_parameters``) and with the usual
names of pages (``page``, ``offset`` …); the ones that answer "must be a
whole number" to a word are integers, and those must refuse a huge, a
negative and a far too large number with a 400 that names them.

The numbers inside a token too: a correctly signed token whose times are
absurd is a 401 on every route that takes a token.
"""

import re

import jwt
import pytest
from admin_helpers import sign_in
from conftest import ADMIN, UNKNOWN_ID

from idm import keyring
from idm.blueprints import ApiBlueprint

USUAL_NAMES = ("page", "offset", "perpage", "limit", "count", "size", "n")
# What the probe must find: if this changes, so did a route.
EXPECTED = {
    ("/users", "offset"),
    ("/users", "perpage"),
    ("/audit", "offset"),
    ("/audit", "perpage"),
    ("/subject", "offset"),
    ("/subject", "perpage"),
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


# --- Numbers inside tokens ----------------------------------------------------------

ABSURD_CLAIMS = [
    ("exp", 1e308),  # once a 500 on /auth/logout and /auth/refresh: no datetime holds it
    ("exp", 10**30),
    ("exp", -1),
    ("iat", -1e308),
    ("iat", 2**64),
    ("nbf", 1e308),
    ("auth_time", 1e308),  # refresh adds IDM_REFRESH_LIMIT to it
    ("jti", "j" * 65),  # longer than the column a logout stores it in (PostgreSQL: a 500)
]


def json_routes(app):
    """(method, path) of every JSON route, variables filled in."""
    routes = []
    for rule in app.url_map.iter_rules():
        blueprint = app.blueprints.get(rule.endpoint.rpartition(".")[0])
        if isinstance(blueprint, ApiBlueprint):
            path = re.sub(r"<[^>]+>", UNKNOWN_ID, rule.rule)
            routes += [(method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return routes


def signed_like(app, token, **changes):
    """*token* with *changes* to its claims, signed with the service's own key."""
    with app.app_context():
        signer = keyring.signing_key()
    claims = jwt.decode(token, options={"verify_signature": False}) | changes
    return jwt.encode(claims, signer.key, signer.algorithm, headers={"kid": signer.kid})


@pytest.mark.parametrize(("claim", "value"), ABSURD_CLAIMS, ids=lambda v: str(v)[:12])
def test_absurd_numbers_in_a_token_are_a_401_on_every_route(
    app, client, admin_headers, claim, value
):
    token = signed_like(app, admin_headers["Authorization"].split()[1], **{claim: value})
    refused = 0
    for method, path in json_routes(app):
        anonymous = client.open(path, method=method)
        answer = client.open(path, method=method, headers={"Authorization": "Bearer " + token})

        assert answer.status_code < 500, (method, path, answer.data)
        if anonymous.status_code == 401:
            assert answer.status_code == 401, (method, path, answer.data)
            if path == "/establish":
                continue  # a link JWT's route: an access token is no link token at all
            message = answer.json["error"]["message"]
            assert message in (
                f"token claim {claim} is out of range",
                "token claim jti is too long",
            )
            refused += 1
    assert refused >= 10  # /auth/logout, /auth/refresh, /user/me, … all took part
