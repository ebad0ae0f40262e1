"""GET /.well-known/jwks.json and /.well-known/openid-configuration."""

import secrets

import jwt
import pytest
from conftest import ADMIN, login

from idm import keys

PUBLIC_URL = "https://idm.example.org/prefix"


@pytest.fixture
def app_config():
    return {"IDM_PUBLIC_URL": PUBLIC_URL, "IDM_KEY_PUBLISH_AHEAD": 1800}


# kty, crv, the members that carry the public key (RFC 7518 section 6, RFC 8037).
EXPECTED = {
    "RS256": ("RSA", None, {"n", "e"}),
    "ES256": ("EC", "P-256", {"x", "y"}),
    "EdDSA": ("OKP", "Ed25519", {"x"}),
}


def test_the_first_fetch_makes_the_first_key_and_later_tokens_carry_it(client, admin):
    response = client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=1800"
    (key,) = response.json["keys"]
    assert (key["alg"], key["use"], key["kty"]) == ("RS256", "sig", "RSA")
    assert set(key) == {"kty", "kid", "alg", "use", "n", "e"}  # nothing private
    token = login(client, *ADMIN)["Authorization"].split()[1]
    assert jwt.get_unverified_header(token)["kid"] == key["kid"]


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
def test_each_key_pair_is_published_as_a_jwk_that_verifies_its_tokens(make_app, admin, algorithm):
    client = make_app(IDM_JWT_ALGORITHM=algorithm).test_client()
    token = login(client, *ADMIN)["Authorization"].split()[1]

    (jwk,) = client.get("/.well-known/jwks.json").json["keys"]

    kty, crv, public_members = EXPECTED[algorithm]
    assert (jwk["alg"], jwk["kty"], jwk.get("crv")) == (algorithm, kty, crv)
    assert set(jwk) == {"kid", "alg", "use", "kty"} | public_members | ({"crv"} if crv else set())
    key = jwt.PyJWK(jwk)
    assert jwt.decode(token, key, [algorithm], audience="idm")["iss"] == "idm"


def test_the_discovery_document(client, admin):
    response = client.get("/.well-known/openid-configuration")

    assert response.status_code == 200
    assert response.json == {
        "issuer": "idm",
        "jwks_uri": f"{PUBLIC_URL}/.well-known/jwks.json",
        "token_endpoint": f"{PUBLIC_URL}/auth",
        "introspection_endpoint": f"{PUBLIC_URL}/auth/introspect",
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["iss", "aud", "sub", "iat", "exp", "jti", "auth_time"],
    }
    assert response.headers["Cache-Control"] == "public, max-age=1800"


def test_the_document_lists_the_algorithms_of_every_key_that_verifies(make_app, admin):
    make_app().test_client().get("/.well-known/jwks.json")  # an RS256 key
    changed = make_app(IDM_JWT_ALGORITHM="EdDSA", IDM_PUBLIC_URL=PUBLIC_URL)
    with changed.app_context():
        keys.rotate()

    document = changed.test_client().get("/.well-known/openid-configuration").json

    assert document["id_token_signing_alg_values_supported"] == ["EdDSA", "RS256"]


def test_with_an_hmac_secret_nothing_is_published(make_app, admin):
    app = make_app(IDM_JWT_ALGORITHM="HS256", IDM_JWT_HMAC_SECRET=secrets.token_urlsafe(48))
    client = app.test_client()

    assert client.get("/.well-known/jwks.json").json == {"keys": []}
    document = client.get("/.well-known/openid-configuration").json
    assert document["id_token_signing_alg_values_supported"] == ["HS256"]


def test_without_a_public_url_development_uses_the_request_host(make_app, admin):
    app = make_app()  # testing: no IDM_PUBLIC_URL needed

    document = app.test_client().get("/.well-known/openid-configuration").json

    assert document["jwks_uri"] == "http://localhost/.well-known/jwks.json"


def test_unknown_query_parameters_are_refused(client, admin):
    assert client.get("/.well-known/jwks.json?kid=x").status_code == 400
