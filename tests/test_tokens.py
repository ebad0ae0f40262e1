"""idm.tokens on its own: what a valid access token holds, and every way to forge one."""

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import select

import idm.clock
from idm.models import User, db
from idm.tokens import InvalidToken, decode_access_token, issue_access_token


@pytest.fixture
def ctx(app, admin):
    with app.app_context():
        yield app


@pytest.fixture
def user(ctx):
    """The admin's row: tokens are issued for a User."""
    return db.session.scalar(select(User))


def valid_claims(app, user):
    now = idm.clock.now().timestamp()
    return {
        "iss": app.config["IDM_JWT_ISSUER"],
        "aud": app.config["IDM_JWT_AUDIENCE"],
        "sub": user.id,
        "iat": now,
        "exp": int(now) + 60,
        "jti": "a1b2c3",
    }


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header, claims, key=None):
    """A JWT built byte by byte, so any header at all can be tried.

    With *key* the signature is HMAC-SHA256 over the token, whatever the
    header claims: only the header is a lie.
    """
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    signature = b""
    if key is not None:
        signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


def refused(token, reason=None):
    with pytest.raises(InvalidToken, match=reason):
        decode_access_token(token)


def test_round_trip(ctx, user):
    token, expires_in = issue_access_token(user)

    claims = decode_access_token(token)

    assert claims["sub"] == user.id
    assert expires_in == ctx.config["IDM_ACCESS_TOKEN_LIFETIME"]


def test_claims(ctx, user):
    before = idm.clock.now().timestamp()
    token, _ = issue_access_token(user)

    claims = jwt.decode(token, options={"verify_signature": False})

    assert claims["iss"] == ctx.config["IDM_JWT_ISSUER"]
    assert claims["aud"] == ctx.config["IDM_JWT_AUDIENCE"]
    assert isinstance(claims["sub"], str) and claims["sub"] == user.id
    assert before - 1 <= claims["iat"] <= idm.clock.now().timestamp() + 1
    assert claims["exp"] == int(claims["iat"]) + ctx.config["IDM_ACCESS_TOKEN_LIFETIME"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_every_token_has_its_own_jti(ctx, user):
    tokens = [issue_access_token(user)[0] for _ in range(3)]

    assert len({decode_access_token(token)["jti"] for token in tokens}) == 3


def test_a_token_lives_until_its_lifetime_ends(ctx, user, monkeypatch):
    token, lifetime = issue_access_token(user)
    issued = idm.clock.now()

    monkeypatch.setattr(idm.clock, "now", lambda: issued + timedelta(seconds=lifetime - 2))
    assert decode_access_token(token)["sub"] == user.id

    monkeypatch.setattr(idm.clock, "now", lambda: issued + timedelta(seconds=lifetime + 1))
    refused(token, "expired")


def test_alg_none_is_refused(ctx, user):
    for alg in ("none", "None", "NONE"):
        refused(hand_made({"alg": alg, "typ": "JWT"}, valid_claims(ctx, user)), "algorithm")


def test_another_key_is_refused(ctx, user):
    token = jwt.encode(valid_claims(ctx, user), "some other key, long enough for HS256", "HS256")

    refused(token, "signature is invalid")


def test_another_hmac_algorithm_with_the_right_key_is_refused(ctx, user):
    token = jwt.encode(valid_claims(ctx, user), ctx.config["SECRET_KEY"], "HS512")

    refused(token, "algorithm")


@pytest.mark.parametrize("alg", ["RS256", "ES256", "PS256", "EdDSA", "hs256"])
def test_a_header_naming_another_algorithm_is_refused(ctx, user, alg):
    # Correctly HMAC-signed: only the header's algorithm is wrong, so a
    # verifier that took the algorithm from the token would accept it.
    key = ctx.config["SECRET_KEY"]
    honest = hand_made({"alg": "HS256", "typ": "JWT"}, valid_claims(ctx, user), key)
    assert decode_access_token(honest)["sub"] == user.id  # the forgery is sound

    refused(hand_made({"alg": alg, "typ": "JWT"}, valid_claims(ctx, user), key), "algorithm")


@pytest.mark.parametrize("claim", ["iss", "aud", "sub", "iat", "exp", "jti"])
def test_each_required_claim_is_required(ctx, user, claim):
    claims = valid_claims(ctx, user)
    del claims[claim]

    refused(jwt.encode(claims, ctx.config["SECRET_KEY"], "HS256"), claim)


@pytest.mark.parametrize(
    ("claim", "value", "reason"),
    [
        ("iss", "someone-else", "issuer"),
        ("aud", "another-service", "audience"),
        ("aud", ["another-service"], "audience"),
        ("exp", "9999999999", "exp must be a number"),
        ("iat", "0", "iat must be a number"),
        ("exp", True, "exp must be a number"),
    ],
)
def test_wrong_claim_values_are_refused(ctx, user, claim, value, reason):
    claims = dict(valid_claims(ctx, user), **{claim: value})

    refused(jwt.encode(claims, ctx.config["SECRET_KEY"], "HS256"), reason)


def test_iat_in_the_future_is_refused(ctx, user):
    claims = valid_claims(ctx, user)
    claims["iat"] += 3600
    claims["exp"] += 7200

    refused(jwt.encode(claims, ctx.config["SECRET_KEY"], "HS256"), "future")


@pytest.mark.parametrize(
    "garbage",
    ["", "garbage", "a.b.c", "..", "...", "e30.e30.", "ü.ü.ü", "Bearer x", "x" * 5000],
)
def test_garbage_is_refused(ctx, garbage):
    refused(garbage)


def test_a_token_is_bound_to_the_secret_key(ctx, user, make_app):
    token, _ = issue_access_token(user)

    with make_app(SECRET_KEY="a different deployment's own secret key").app_context():
        refused(token, "signature")
