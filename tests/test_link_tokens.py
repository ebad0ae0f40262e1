"""Link JWTs and access tokens never stand in for each other; the link secret's settings.

The app holds the link secret, so a token it could sign must open nothing
but /establish, and only for a link that exists; an access token must not
open /establish. Every forged token below is a 401 and changes nothing.
"""

import logging
import time

import jwt
import pytest
from conftest import USER, json_error, login
from study_helpers import (
    LINK_SECRET,
    STUDY_CONFIG,
    consented_subject,
    decode,
    establish,
    link_jwt,
    new_link,
    patient,
)

from idm import ConfigError, create_app
from idm.link_tokens import DEVELOPMENT_SECRET
from idm.models import Link, db
from idm.users import create_user

STRONG_KEY = "a-strong-secret-key-for-these-tests-0123456789"


@pytest.fixture
def app_config():
    return STUDY_CONFIG


@pytest.fixture
def link(client, staff):
    consented_subject(client, staff)
    made = new_link(client, staff)
    made["token"] = link_jwt(client, staff, made["_id"])
    made["claims"] = decode(made["token"])
    return made


def linked_to(app, jti):
    with app.app_context():
        return db.session.get(Link, jti).linked_to


def forged(claims, key=LINK_SECRET, algorithm="HS256", **changes):
    claims = {**claims, **changes}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm=algorithm)


def test_a_link_jwt_is_no_access_token(client, link):
    """Whatever signs access tokens (idm/tokens.py), a link JWT is not one of them."""
    for path in ("/user/me", "/subject", "/subject/S-0042", f"/link/{link['_id']}"):
        response = client.get(path, headers={"Authorization": f"Bearer {link['token']}"})
        assert json_error(response, 401).startswith("token "), path
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_an_access_token_signed_with_the_link_secret_is_refused(app, client, staff):
    """What a holder of the app's secret could mint: a well-formed access token."""
    me = client.get("/user/me", headers=staff).json["data"]
    now = int(time.time())
    claims = {"iss": "idm", "aud": "idm", "sub": me["id"], "iat": now, "exp": now + 600}
    token = jwt.encode({**claims, "jti": "x" * 32}, LINK_SECRET, algorithm="HS256")

    response = client.get("/user/me", headers={"Authorization": f"Bearer {token}"})

    assert json_error(response, 401).startswith("token ")  # signature or algorithm refused


def test_an_access_token_is_no_link_jwt(app, client, staff, link):
    access_token = staff["Authorization"].split()[1]

    # Access tokens are signed with the service's own keys (RS256 by default):
    # refused for their algorithm before any key is tried.
    assert json_error(establish(client, access_token), 401) == "link token is not signed with HS256"
    assert linked_to(app, link["_id"]) is None


EVIL = "https://evil.example/"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        # The link's very claims, signed with the service's own SECRET_KEY.
        ({"key": "SECRET_KEY"}, "link token signature is invalid"),
        ({"key": None, "algorithm": "none"}, "link token is not signed with HS256"),
        ({"key": LINK_SECRET * 2, "algorithm": "HS512"}, "link token is not signed with HS256"),
        ({"jti": "AAAAAAAAAAAAAAAAAAAAAA"}, "link token names no link"),
        ({"jti": 42}, "link token is malformed"),
        ({"aud": EVIL}, "link token is for another audience"),
        ({"aud": [EVIL]}, "link token is for another audience"),
        ({"aud": None}, "link token lacks the aud claim"),
        ({"iss": EVIL}, "link token is from another issuer"),
        ({"iss": None}, "link token lacks the iss claim"),
        ({"jti": None}, "link token lacks the jti claim"),
        ({"exp": None}, "link token lacks the exp claim"),
        ({"sub": None}, "link token lacks the sub claim"),
    ],
)
def test_forged_link_tokens_are_a_401(app, client, link, changes, message):
    changes = dict(changes)
    key = changes.pop("key", LINK_SECRET)
    key = app.config["SECRET_KEY"] if key == "SECRET_KEY" else key
    token = forged(link["claims"], key, changes.pop("algorithm", "HS256"), **changes)

    response = establish(client, token)

    assert json_error(response, 401) == message
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="idm", error="invalid_token"'
    assert linked_to(app, link["_id"]) is None


@pytest.mark.parametrize("token", ["not.a.token", "", "a.b", "x" * 5000])
def test_what_is_no_jwt_at_all_is_a_401(app, client, link, token):
    assert json_error(establish(client, token), 401) == "link token is malformed"


def test_a_token_claiming_a_later_exp_does_not_extend_the_link(app, client, link, fake_clock):
    """The database says when a link expires, not the token."""
    token = forged(link["claims"], exp=link["claims"]["exp"] + 7 * 24 * 3600)
    fake_clock.advance(2 * 24 * 3600)

    assert json_error(establish(client, token), 403) == "link has expired"


def test_in_development_an_empty_link_secret_is_the_public_development_value(make_app):
    app = make_app()  # TESTING, IDM_LINK_SECRET left empty
    client = app.test_client()
    with app.app_context():
        create_user(*USER)
    staff = login(client, *USER)
    consented_subject(client, staff)
    token = link_jwt(client, staff, new_link(client, staff)["_id"])

    assert decode(token, DEVELOPMENT_SECRET)["sub"] == "Jane Roe"


def test_outside_development_the_link_routes_wait_for_the_secret(make_app):
    """Links made while a secret was set; then the service runs without one."""
    with_secret = make_app(**STUDY_CONFIG)
    client = with_secret.test_client()
    with with_secret.app_context():
        create_user(*USER)
    staff = login(client, *USER)
    consented_subject(client, staff)
    jti = new_link(client, staff)["_id"]
    token = link_jwt(client, staff, jti)
    settings = {"IDM_PUBLIC_URL": "https://idm.example.org", "IDM_LINK_SECRET": ""}
    client = make_app(TESTING=False, **settings).test_client()  # the same database and key

    for response in (
        client.post("/subject/S-0042/links", headers=staff),
        client.get(f"/link/{jti}/jwt", headers=staff),
        client.post("/establish", json=patient(), headers={"Authorization": f"Bearer {token}"}),
    ):
        message = json_error(response, 503)
        assert message.startswith("study links are disabled: set IDM_LINK_SECRET"), message
    assert client.get(f"/link/{jti}", headers=staff).status_code == 200  # the rest works
    assert client.get("/subject/S-0042", headers=staff).status_code == 200


def production(**settings):
    config = {
        "SECRET_KEY": STRONG_KEY,
        "IDM_PUBLIC_URL": "https://idm.example.org",
        "SQLALCHEMY_DATABASE_URI": "sqlite://",
        "IDM_MAIL_SENDER_THREAD": False,
    }
    return create_app({**config, **settings})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"IDM_LINK_SECRET": "super-duper-secret"}, "IDM_LINK_SECRET is a publicly known value"),
        ({"IDM_LINK_SECRET": DEVELOPMENT_SECRET}, "IDM_LINK_SECRET is a publicly known value"),
        ({"IDM_LINK_SECRET": STRONG_KEY}, "IDM_LINK_SECRET must not be SECRET_KEY"),
        ({"IDM_LINK_AUDIENCE": "https://idm.example.org"}, 'IDM_LINK_AUDIENCE must end with "/"'),
        ({"IDM_LINK_ISSUER": "https://idm.example.org"}, 'IDM_LINK_ISSUER must end with "/"'),
        ({"IDM_LINK_LIFETIME": 0}, "IDM_LINK_LIFETIME must be a positive number of seconds"),
        ({"IDM_LINK_LIFETIME": "86400"}, "IDM_LINK_LIFETIME must be a positive number"),
    ],
)
def test_unsafe_link_settings_refuse_to_start(settings, message):
    with pytest.raises(ConfigError, match="refusing to start: " + message):
        production(**settings)


def test_secret_key_as_link_secret_is_refused_in_development_too():
    with pytest.raises(ConfigError, match="must not be SECRET_KEY"):
        create_app({"TESTING": True, "SECRET_KEY": "k" * 40, "IDM_LINK_SECRET": "k" * 40})


def test_a_short_link_secret_starts_with_a_warning(caplog):
    """The app may be built with it already: said loudly, not refused."""
    with caplog.at_level(logging.WARNING, logger="idm.config"):
        app = production(IDM_LINK_SECRET="short-but-the-apps")

    assert app.config["IDM_LINK_SECRET"] == "short-but-the-apps"
    assert "IDM_LINK_SECRET is shorter than 32 characters" in caplog.text


def test_an_empty_link_secret_starts_outside_development():
    assert production(IDM_LINK_SECRET="").config["IDM_LINK_SECRET"] == ""
