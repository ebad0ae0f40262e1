"""idm.tokens on its own: what a valid access token holds, and every way to forge one.

Forgeries are signed with the service's own active key wherever that makes
them stronger: then only the part under test is a lie, and a verifier that
trusted it would accept the token.
"""

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import select

import idm.clock
from idm import keyring
from idm.models import User, db
from idm.tokens import DECODER, InvalidToken, StrictJWS, decode_access_token, issue_access_token

REQUIRED = ["iss", "aud", "sub", "iat", "exp", "jti"]


@pytest.fixture
def ctx(app, admin):
    with app.app_context():
        yield app


@pytest.fixture
def user(ctx):
    """The admin's row: tokens are issued for a User."""
    return db.session.scalar(select(User))


@pytest.fixture
def signer(ctx, user):
    """The service's active key (RS256, the default), made by the first token."""
    issue_access_token(user)
    return keyring.signing_key()


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


def hand_made(header, claims, signer=None, raw_header=None, raw_claims=None):
    """A JWT built byte by byte, so any header (or any bytes) at all can be tried.

    With *signer* the signature is RS256 with the service's private key over
    exactly these bytes, whatever the header says: only the header is a lie.
    """
    header_bytes = raw_header if raw_header is not None else json.dumps(header).encode()
    claims_bytes = raw_claims if raw_claims is not None else json.dumps(claims).encode()
    signing_input = b64(header_bytes) + "." + b64(claims_bytes)
    signature = b""
    if signer is not None:
        signature = signer.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64(signature)


def signed(signer, claims, **header):
    """A well-formed token signed with the service's key, as the service signs."""
    return jwt.encode(claims, signer.key, "RS256", headers={"kid": signer.kid, **header})


def refused(token, reason=None):
    with pytest.raises(InvalidToken, match=reason):
        decode_access_token(token)


def test_round_trip(ctx, user):
    token, expires_in = issue_access_token(user)

    claims = decode_access_token(token)

    assert claims["sub"] == user.id
    assert expires_in == ctx.config["IDM_ACCESS_TOKEN_LIFETIME"]


def test_claims_and_header(ctx, user):
    before = idm.clock.now().timestamp()
    token, _ = issue_access_token(user)

    claims = jwt.decode(token, options={"verify_signature": False})

    assert claims["iss"] == ctx.config["IDM_JWT_ISSUER"]
    assert claims["aud"] == ctx.config["IDM_JWT_AUDIENCE"]
    assert isinstance(claims["sub"], str) and claims["sub"] == user.id
    assert before - 1 <= claims["iat"] <= idm.clock.now().timestamp() + 1
    assert claims["exp"] == int(claims["iat"]) + ctx.config["IDM_ACCESS_TOKEN_LIFETIME"]
    assert jwt.get_unverified_header(token) == {
        "alg": "RS256",
        "kid": keyring.signing_key().kid,
        "typ": "JWT",
    }


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


def test_alg_none_is_refused(ctx, user, signer):
    for alg in ("none", "None", "NONE"):
        for header in ({"alg": alg}, {"alg": alg, "kid": signer.kid}):
            refused(hand_made(header, valid_claims(ctx, user)), "algorithm")


def test_another_key_under_our_kid_is_refused(ctx, user, signer):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(valid_claims(ctx, user), stranger, "RS256", headers={"kid": signer.kid})

    refused(token, "signature is invalid")


def test_hmac_with_the_public_key_as_secret_is_refused(ctx, user, signer):
    # The classic confusion: a verifier that let the header choose HMAC would
    # check the signature with the public key, which everyone has.
    public_pem = signer.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "kid": signer.kid, "typ": "JWT"}
    signing_input = b64(json.dumps(header).encode()) + "."
    signing_input += b64(json.dumps(valid_claims(ctx, user)).encode())
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()

    refused(signing_input + "." + b64(mac), "algorithm")


@pytest.mark.parametrize("alg", ["RS384", "RS512", "PS256", "ES256", "EdDSA", "HS256", "rs256"])
def test_a_header_naming_another_algorithm_is_refused(ctx, user, signer, alg):
    # Correctly RS256-signed with our key: only the header's algorithm is
    # wrong, so a verifier that took the algorithm from the token would accept it.
    honest = hand_made({"alg": "RS256", "kid": signer.kid}, valid_claims(ctx, user), signer)
    assert decode_access_token(honest)["sub"] == user.id  # the forgery is sound

    refused(
        hand_made({"alg": alg, "kid": signer.kid}, valid_claims(ctx, user), signer), "algorithm"
    )


@pytest.mark.parametrize("kid", ["no-such-key", "", "hs-" + "A" * 16])
def test_an_unknown_kid_is_refused(ctx, user, signer, kid):
    refused(signed(signer, valid_claims(ctx, user), kid=kid), "key this service does not know")


@pytest.mark.parametrize("kid", [1, None, ["a"], {"kid": "x"}])
def test_a_kid_that_is_not_text_is_refused(ctx, user, signer, kid):
    header = {"alg": "RS256", "kid": kid}
    refused(hand_made(header, valid_claims(ctx, user), signer), "malformed|does not know")


def test_a_token_without_kid_is_refused_where_secret_key_never_signed(ctx, user, signer):
    # A fresh database has no SECRET_KEY generation (tests/test_keys.py has the upgrade).
    legacy = jwt.encode(valid_claims(ctx, user), ctx.config["SECRET_KEY"], "HS256")

    refused(legacy, "key this service does not know")
    refused(hand_made({"alg": "RS256"}, valid_claims(ctx, user), signer), "does not know")


@pytest.mark.parametrize("claim", REQUIRED)
def test_each_required_claim_is_required(ctx, user, signer, claim):
    claims = valid_claims(ctx, user)
    del claims[claim]

    refused(signed(signer, claims), claim)


@pytest.mark.parametrize(
    ("claim", "value", "reason"),
    [
        ("iss", "someone-else", "issuer"),
        ("aud", "another-service", "audience"),
        ("aud", ["another-service"], "audience"),
        ("exp", "9999999999", "exp must be a number"),
        ("iat", "0", "iat must be a number"),
        ("exp", True, "exp must be a number"),
        ("nbf", "0", "nbf must be a number"),
        ("auth_time", [1], "auth_time must be a number"),
        ("jti", "j" * 65, "jti is too long"),
    ],
)
def test_wrong_claim_values_are_refused(ctx, user, signer, claim, value, reason):
    claims = dict(valid_claims(ctx, user), **{claim: value})

    refused(signed(signer, claims), reason)


def test_one_audience_among_several_is_enough(ctx, user, signer):
    claims = dict(valid_claims(ctx, user), aud=["another-service", ctx.config["IDM_JWT_AUDIENCE"]])

    assert decode_access_token(signed(signer, claims))["sub"] == user.id


def test_iat_in_the_future_is_refused(ctx, user, signer):
    claims = valid_claims(ctx, user)
    claims["iat"] += 3600
    claims["exp"] += 7200

    refused(signed(signer, claims), "future")


def test_nbf_is_honoured(ctx, user, signer):
    now = idm.clock.now().timestamp()
    later = dict(valid_claims(ctx, user), nbf=now + 600)
    earlier = dict(valid_claims(ctx, user), nbf=now - 600)

    refused(signed(signer, later), "not valid yet")
    assert decode_access_token(signed(signer, earlier))["sub"] == user.id


ABSURD = [1e308, 10**30, 2**63, -1, -0.5, -1e308, 253402300800]


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf", "auth_time"])
@pytest.mark.parametrize("value", ABSURD, ids=str)
def test_absurd_times_are_refused(ctx, user, signer, claim, value):
    claims = dict(valid_claims(ctx, user), **{claim: value})

    refused(signed(signer, claims), f"{claim} is out of range|expired")


@pytest.mark.parametrize("literal", [b"1e999", b"-1e999", b"1" + b"0" * 400])
def test_numbers_json_reads_as_infinite_or_huge_are_refused(ctx, user, signer, literal):
    claims = valid_claims(ctx, user)
    del claims["exp"]
    payload = json.dumps(claims).encode()[:-1] + b', "exp": ' + literal + b"}"
    header = {"alg": "RS256", "kid": signer.kid}

    refused(hand_made(header, None, signer, raw_claims=payload), "exp is out of range")


@pytest.mark.parametrize(
    "garbage",
    ["", "garbage", "a.b.c", "..", "...", "e30.e30.", "ü.ü.ü", "Bearer x", "x" * 5000],
)
def test_garbage_is_refused(ctx, garbage):
    refused(garbage)


def test_a_token_of_another_deployment_is_refused(ctx, user, make_app, tmp_path):
    other = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'other.sqlite'}")
    with other.app_context():
        theirs, _ = issue_access_token(User(id=user.id, username=user.username))

    refused(theirs, "key this service does not know")


def test_tokens_do_not_depend_on_secret_key(ctx, user, make_app):
    """Changing SECRET_KEY logs nobody out: tokens verify with the public key."""
    token, _ = issue_access_token(user)

    with make_app(SECRET_KEY="a different secret key, long and varied 0123456789").app_context():
        assert decode_access_token(token)["sub"] == user.id


# --- Held to PyJWT: what a resource server with only the public key makes of them ---


def resource_server_claims(app, token):
    """What PyJWT makes of *token* with nothing but the JWKS, as strictly as the service."""
    jwks = app.test_client().get("/.well-known/jwks.json").json
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    return jwt.decode(
        token,
        key,
        algorithms=[key.algorithm_name],
        audience=app.config["IDM_JWT_AUDIENCE"],
        issuer=app.config["IDM_JWT_ISSUER"],
        options={"require": REQUIRED},
    )


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
def test_a_resource_server_reads_the_tokens_of_every_key_pair(make_app, algorithm):
    app = make_app(IDM_JWT_ALGORITHM=algorithm)
    with app.app_context():
        user = User(id="4b0c9f0e-0000-4000-8000-000000000001", username="x@example.org")
        ours, _ = issue_access_token(user)
        signer = keyring.signing_key()
        theirs = jwt.encode(valid_claims(app, user), signer.key, algorithm, {"kid": signer.kid})

        assert resource_server_claims(app, ours) == decode_access_token(ours)
        assert jwt.get_unverified_header(ours)["alg"] == algorithm
        assert decode_access_token(theirs)["sub"] == user.id


def other_low_bits(signature):
    """The same signature bytes spelled differently: the last character
    carries unused bits, which a lenient decoder ignores."""
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
    assert resource_server_claims(ctx, token) == decode_access_token(token)
    variant = MANGLED[how](*token.split("."))

    with pytest.raises(jwt.InvalidTokenError):
        resource_server_claims(ctx, variant)
    refused(variant)


def test_the_signature_of_a_token_has_unused_bits_to_mangle(ctx, user):
    # RS256 signatures are 256 bytes: 342 characters, the last carrying 4
    # unused bits, so "non-canonical signature" above is a real respelling.
    token, _ = issue_access_token(user)
    signature = token.split(".")[2]
    assert len(signature) % 4 != 0
    assert base64.urlsafe_b64decode(other_low_bits(signature) + "==") == base64.urlsafe_b64decode(
        signature + "=="
    )


SEGMENTS = [
    "",
    "A",
    "AA",
    "AAA",
    "AAAA",
    "QQ",
    "QR",
    "QUI",
    "QUJ",
    "A_-z",
    "a+b/",
    "!!!!",
    "é",
    "e30",
]


@pytest.mark.parametrize("segment", SEGMENTS)
def test_the_segment_reader_agrees_with_pyjwts_own(segment):
    """StrictJWS replaces PyJWT's loop over each character with a regex: same answers."""

    def outcome(reader):
        try:
            return reader(segment.encode(), "header")
        except jwt.DecodeError:
            return "refused"

    assert outcome(StrictJWS._decode_base64url_segment) == outcome(
        jwt.PyJWS._decode_base64url_segment
    )


def test_the_decoder_reads_segments_with_the_strict_reader(ctx, user):
    # If PyJWT stopped calling the method StrictJWS overrides, padding would pass here.
    token, _ = issue_access_token(user)
    padded = token + "=" * (-len(token.split(".")[2]) % 4)
    key = keyring.verifying_key(jwt.get_unverified_header(token)["kid"]).key

    with pytest.raises(jwt.DecodeError):
        DECODER.decode(padded, key, algorithms=["RS256"], audience="idm", issuer="idm")
    assert jwt.PyJWS().decode(padded, key, algorithms=["RS256"])  # PyJWT alone takes it


def test_padding_is_refused_although_pyjwt_allows_it(ctx, user):
    # Some issuers pad; the service's tokens never are, so a padded one is not ours.
    token, _ = issue_access_token(user)
    padded = token + "=" * (-len(token.split(".")[2]) % 4)

    resource_server_claims(ctx, padded)
    refused(padded, "malformed")


@pytest.mark.parametrize(
    ("header", "claims_override", "reason"),
    [
        ({"crit": ["exp"]}, {}, "malformed"),
        ({"b64": False, "crit": ["b64"]}, {}, "malformed"),
        ({}, {"exp": float("nan")}, "malformed"),
        ({}, {"exp": float("inf")}, "malformed"),
        ({}, {"sub": 42}, "sub must be a string"),
        ({}, {"jti": ["a"]}, "jti must be a string"),
    ],
)
def test_signed_but_unacceptable_tokens_are_refused(
    ctx, user, signer, header, claims_override, reason
):
    claims = dict(valid_claims(ctx, user), **claims_override)
    header = {"alg": "RS256", "kid": signer.kid, **header}

    refused(hand_made(header, claims, signer), reason)


def test_duplicate_names_are_refused_in_the_header(ctx, user, signer):
    # A parser that keeps the first "kid" and one that keeps the last would
    # pick different keys for the same token.
    honest = b'{"alg": "RS256", "kid": "%s"}' % signer.kid.encode()
    twice = b'{"alg": "RS256", "kid": "elsewhere", "kid": "%s"}' % signer.kid.encode()
    claims = valid_claims(ctx, user)

    assert decode_access_token(hand_made(None, claims, signer, raw_header=honest))
    refused(hand_made(None, claims, signer, raw_header=twice), "malformed")


@pytest.mark.parametrize("claim", ["sub", "exp", "aud"])
def test_duplicate_names_are_refused_in_the_payload(ctx, user, signer, claim):
    claims = valid_claims(ctx, user)
    payload = json.dumps(claims).encode()
    repeated = payload[:-1] + b", " + json.dumps({claim: claims[claim]}).encode()[1:]
    header = {"alg": "RS256", "kid": signer.kid}

    assert decode_access_token(hand_made(header, claims, signer))
    refused(hand_made(header, None, signer, raw_claims=repeated), "malformed")


def test_duplicate_names_are_refused_in_nested_objects(ctx, user, signer):
    payload = json.dumps(valid_claims(ctx, user)).encode()[:-1] + b', "x": {"a": 1, "a": 2}}'

    refused(hand_made({"alg": "RS256", "kid": signer.kid}, None, signer, raw_claims=payload))


def encodings(document):
    """*document* in bytes that are not UTF-8, but that json.loads(bytes) would read."""
    text = json.dumps(document)
    return {
        "UTF-16": text.encode("utf-16"),
        "UTF-16-LE": text.encode("utf-16-le"),
        "UTF-32": text.encode("utf-32"),
        "UTF-8 with BOM": text.encode("utf-8-sig"),
        "Latin-1": text.replace('"', '"\xe9', 1).encode("latin-1"),
    }


@pytest.mark.parametrize("encoding", ["UTF-16", "UTF-16-LE", "UTF-32", "UTF-8 with BOM", "Latin-1"])
def test_segments_that_are_not_utf8_are_refused(ctx, user, signer, encoding):
    header = {"alg": "RS256", "kid": signer.kid}
    claims = valid_claims(ctx, user)
    raw_header = encodings(header)[encoding]
    raw_claims = encodings(claims)[encoding]

    refused(hand_made(None, claims, signer, raw_header=raw_header), "malformed")
    refused(hand_made(header, None, signer, raw_claims=raw_claims), "malformed")


def test_a_surrogate_encoded_as_bytes_is_refused(ctx, user, signer):
    # CESU-8 bytes of U+D800: json.loads(bytes) lets them through ("surrogatepass").
    payload = json.dumps(valid_claims(ctx, user)).encode()[:-1] + b', "x": "\xed\xa0\x80"}'

    refused(hand_made({"alg": "RS256", "kid": signer.kid}, None, signer, raw_claims=payload))


@pytest.mark.parametrize("segment", ["W10", "Im5vIg", "bnVsbA", "W1tbW1tbW1tbXV1dXV1dXV1d"])
def test_segments_that_are_not_json_objects_are_refused(ctx, segment):
    # [] / "no" / null / deep arrays, as the header.
    refused(f"{segment}.e30.AAAA", "malformed")


def test_a_deeply_nested_header_is_refused_not_a_crash(ctx):
    # Deeper than Python's recursion limit, short enough to be parsed at all.
    deep = b64(b"[" * 1400 + b"]" * 1400)
    assert len(deep) < 4000
    refused(f"{deep}.e30.AAAA", "malformed")
