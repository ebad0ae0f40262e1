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


# --- Held to PyJWT: idm/tokens.py writes its own JWS code (see its docstring) ---


def pyjwt_claims(app, token):
    """What PyJWT makes of *token*, verifying it as strictly as the service does."""
    return jwt.decode(
        token,
        app.config["SECRET_KEY"],
        algorithms=[app.config["IDM_JWT_ALGORITHM"]],
        audience=app.config["IDM_JWT_AUDIENCE"],
        issuer=app.config["IDM_JWT_ISSUER"],
        options={"require": ["iss", "aud", "sub", "iat", "exp", "jti"]},
    )


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_pyjwt_and_the_service_read_each_others_tokens(make_app, algorithm):
    app = make_app(IDM_JWT_ALGORITHM=algorithm)
    with app.app_context():
        user = User(id="4b0c9f0e-0000-4000-8000-000000000001", username="x@example.org")
        ours, _ = issue_access_token(user)
        claims = valid_claims(app, user)
        theirs = jwt.encode(claims, app.config["SECRET_KEY"], algorithm)

        assert pyjwt_claims(app, ours) == decode_access_token(ours)
        assert jwt.get_unverified_header(ours) == {"alg": algorithm, "typ": "JWT"}
        assert decode_access_token(theirs) == claims


def other_low_bits(signature):
    """The same signature bytes spelled differently: the last character of 43
    carries 4 unused bits, which a lenient decoder ignores."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(signature[-1])
    return signature[:-1] + alphabet[index ^ 1]


MANGLED = {
    "non-canonical signature": lambda h, p, s: f"{h}.{p}.{other_low_bits(s)}",
    "reversed signature": lambda h, p, s: f"{h}.{p}.{s[::-1]}",
    "no signature": lambda h, p, s: f"{h}.{p}.",
    "four segments": lambda h, p, s: f"{h}.{p}.{s}.{s}",
    "two segments": lambda h, p, s: f"{h}.{p}",
    "space inside": lambda h, p, s: f"{h}.{p} .{s}",
    "standard base64": lambda h, p, s: f"{h}.{p}.{s.replace('_', '/').replace('-', '+')}+",
    "non-ASCII": lambda h, p, s: f"{h}.{p}.{s}é",
    "too long": lambda h, p, s: f"{h}.{p}.{s}{'A' * 4096}",
}


@pytest.mark.parametrize("how", MANGLED)
def test_a_mangled_token_is_refused_by_both(ctx, user, how):
    token, _ = issue_access_token(user)
    assert pyjwt_claims(ctx, token) == decode_access_token(token)
    variant = MANGLED[how](*token.split("."))

    with pytest.raises(jwt.InvalidTokenError):
        pyjwt_claims(ctx, variant)
    refused(variant)


def test_padding_is_refused_although_pyjwt_allows_it(ctx, user):
    # Some issuers pad; the service's tokens never are, so a padded one is not ours.
    token, _ = issue_access_token(user)

    refused(token + "=", "malformed")


@pytest.mark.parametrize(
    ("header", "claims_override", "reason"),
    [
        ({"alg": "HS256", "crit": ["exp"]}, {}, "malformed"),
        ({"alg": "HS256", "b64": False, "crit": ["b64"]}, {}, "malformed"),
        ({"alg": "HS256"}, {"exp": float("nan")}, "malformed"),
        ({"alg": "HS256"}, {"exp": float("inf")}, "malformed"),
        ({"alg": "HS256"}, {"sub": 42}, "sub must be a string"),
        ({"alg": "HS256"}, {"jti": ["a"]}, "jti must be a string"),
    ],
)
def test_signed_but_unacceptable_tokens_are_refused(ctx, user, header, claims_override, reason):
    # Correctly signed with the service's key: only the content is wrong.
    claims = dict(valid_claims(ctx, user), **claims_override)
    refused(hand_made(header, claims, ctx.config["SECRET_KEY"]), reason)


@pytest.mark.parametrize("segment", ["W10", "Im5vIg", "bnVsbA", "W1tbW1tbW1tbXV1dXV1dXV1d"])
def test_segments_that_are_not_json_objects_are_refused(ctx, segment):
    # [] / "no" / null / deep arrays, as the header.
    refused(f"{segment}.e30.AAAA", "malformed")


def test_a_deeply_nested_header_is_refused_not_a_crash(ctx):
    # Deeper than Python's recursion limit, short enough to be parsed at all.
    deep = b64(b"[" * 1400 + b"]" * 1400)
    assert len(deep) < 4000
    refused(f"{deep}.e30.AAAA", "malformed")
