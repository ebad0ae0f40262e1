"""Moving between ways of signing without logging anyone out.

From earlier versions (HMAC with SECRET_KEY, no kid) to key pairs: the
revision that adds the keys table writes generation 0 on a database with
users, and such tokens verify for one token lifetime after the upgrade.
From an HMAC secret of its own (IDM_JWT_HMAC_SECRET) to a key pair: the
secret stays set for one lifetime.
"""

import secrets
from datetime import timedelta

import flask_migrate
import jwt
import pytest
from conftest import USER
from sqlalchemy import select, text
from test_migrations import bare_app

from idm import clock, keys
from idm.models import User, db, new_id
from idm.tokens import LEEWAY, decode_access_token, issue_access_token
from idm.validation import username_key

BEFORE_KEYS = "79f102aab640"
RESTART_MARGIN = 600  # the revision's


def add_user(name):
    """A user row as the earlier version's schema holds it."""
    now = clock.now().replace(tzinfo=None)
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, username, username_key, password_hash, admin, created,"
                " changed) VALUES (:id, :name, :key, 'x', false, :now, :now)"
            ),
            {"id": new_id(), "name": name, "key": username_key(name), "now": now},
        )


def upgraded_app(database_uri, with_users=True):
    """An app on a database that ran the earlier version, then `flask db upgrade`."""
    app = bare_app(database_uri)
    with app.app_context():
        flask_migrate.upgrade(revision=BEFORE_KEYS)
        if with_users:
            add_user(USER[0])
        flask_migrate.upgrade()
    return app


def old_token(app, issued_at=None, algorithm="HS256"):
    """A token as the earlier version signed it: SECRET_KEY, no kid."""
    with app.app_context():
        user = db.session.scalar(select(User))
        now = issued_at or clock.now().timestamp()
        claims = {
            "iss": app.config["IDM_JWT_ISSUER"],
            "aud": app.config["IDM_JWT_AUDIENCE"],
            "sub": user.id,
            "iat": round(now, 6),
            "exp": int(now) + app.config["IDM_ACCESS_TOKEN_LIFETIME"],
            "jti": secrets.token_hex(16),
            "auth_time": int(now),
        }
        return jwt.encode(claims, app.config["SECRET_KEY"], algorithm)


def verdict(app, token):
    with app.app_context():
        try:
            decode_access_token(token)
        except Exception as error:  # InvalidToken
            return str(error)
        return "ok"


@pytest.fixture
def dispose():
    apps = []
    yield apps.append
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_the_upgrade_keeps_old_tokens_working_for_one_lifetime(database_uri, dispose, fake_clock):
    app = upgraded_app(database_uri)
    dispose(app)
    lifetime = app.config["IDM_ACCESS_TOKEN_LIFETIME"]
    issued_before_upgrade = old_token(app, issued_at=clock.now().timestamp() - 60)
    with app.app_context():
        (legacy,) = keys.stored_keys()
    assert (legacy.generation, legacy.public_key, legacy.private_key) == (0, None, None)

    assert verdict(app, issued_before_upgrade) == "ok"
    assert verdict(app, old_token(app, algorithm="HS512")) == "ok"  # any HMAC of old
    with app.app_context():  # the new version signs with a key pair from the start
        user = db.session.scalar(select(User))
        assert jwt.get_unverified_header(issue_access_token(user)[0])["alg"] == "RS256"

    # Old workers sign until the restart after the upgrade; later, nothing signs so.
    # (The revision read the real clock: the times come from its row.)
    fake_clock.moment = legacy.activates_at - timedelta(seconds=1)
    last_old_token = old_token(app)
    assert verdict(app, last_old_token) == "ok"
    fake_clock.advance(1)
    assert verdict(app, old_token(app)) == "token is signed with a retired key"
    assert legacy.activates_at - legacy.created == timedelta(seconds=RESTART_MARGIN)

    fake_clock.moment = legacy.retires_at - timedelta(seconds=1)  # the last old token expired
    assert verdict(app, last_old_token) == "token has expired"
    assert legacy.retires_at - legacy.activates_at == timedelta(seconds=lifetime + keys.CLOCK_SKEW)
    fake_clock.advance(1)
    assert verdict(app, last_old_token) == "token is signed with a retired key"
    with app.app_context():
        assert keys.state(legacy, [legacy], clock.now()) == "retired"


def test_old_tokens_reach_the_api_during_the_window(database_uri, dispose):
    app = upgraded_app(database_uri)
    dispose(app)
    token = old_token(app)

    response = app.test_client().get("/user/me", headers={"Authorization": "JWT " + token})

    assert response.status_code == 200
    assert response.json["data"]["username"] == USER[0]


def test_a_fresh_database_never_accepts_secret_key_tokens(database_uri, dispose):
    app = upgraded_app(database_uri, with_users=False)
    dispose(app)
    with app.app_context():
        assert keys.stored_keys(everything=True) == []
        add_user(USER[0])

    assert verdict(app, old_token(app)) == "token is signed with a key this service does not know"


def hmac_app(make_app, secret, **settings):
    return make_app(IDM_JWT_ALGORITHM="HS256", IDM_JWT_HMAC_SECRET=secret, **settings)


def test_hmac_tokens_name_their_secret_and_publish_no_key(make_app, user):
    secret = secrets.token_urlsafe(48)
    app = hmac_app(make_app, secret)
    with app.app_context():
        account = db.session.scalar(select(User).where(User.username == USER[0]))
        token, _ = issue_access_token(account)

    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256" and header["kid"].startswith("hs-")
    assert secret[:8] not in header["kid"]
    assert jwt.decode(token, secret, ["HS256"], audience="idm")["sub"] == account.id
    assert app.test_client().get("/.well-known/jwks.json").json == {"keys": []}
    with app.app_context():
        assert keys.stored_keys(everything=True) == []  # no key pair is made
    assert verdict(app, token) == "ok"


def test_hmac_is_pinned_to_the_configured_algorithm(make_app, user):
    secret = secrets.token_urlsafe(48)
    app = hmac_app(make_app, secret)
    with app.app_context():
        account = db.session.scalar(select(User).where(User.username == USER[0]))
        token, _ = issue_access_token(account)
    claims = jwt.decode(token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(token)["kid"]

    other_hmac = jwt.encode(claims, secret, "HS512", headers={"kid": kid})
    with_secret_key = jwt.encode(claims, app.config["SECRET_KEY"], "HS256", headers={"kid": kid})

    assert "algorithm" in verdict(app, other_hmac)
    assert verdict(app, with_secret_key) == "token signature is invalid"


def test_moving_from_hmac_to_a_key_pair_keeps_hmac_tokens_for_their_lifetime(make_app, user):
    secret = secrets.token_urlsafe(48)
    before = hmac_app(make_app, secret)
    with before.app_context():
        account = db.session.scalar(select(User).where(User.username == USER[0]))
        hmac_token, _ = issue_access_token(account)

    after = make_app(IDM_JWT_HMAC_SECRET=secret)  # RS256, the secret kept for a while
    much_later = make_app()  # the secret removed

    assert verdict(after, hmac_token) == "ok"
    with after.app_context():
        assert jwt.get_unverified_header(issue_access_token(account)[0])["alg"] == "RS256"
    assert verdict(much_later, hmac_token) == (
        "token is signed with a key this service does not know"
    )


def test_rotate_is_refused_with_an_hmac_secret(make_app):
    app = hmac_app(make_app, secrets.token_urlsafe(48))

    result = app.test_cli_runner().invoke(args=["keys", "rotate"])

    assert result.exit_code == 1
    assert "tokens are signed with IDM_JWT_HMAC_SECRET" in result.output


def test_the_revision_needs_no_users_table_rows_to_run_twice(database_uri, dispose):
    """Down and up again on a database with users: generation 0 is written anew."""
    app = upgraded_app(database_uri)
    dispose(app)
    with app.app_context():
        flask_migrate.downgrade(revision=BEFORE_KEYS)
        flask_migrate.upgrade()
        (legacy,) = keys.stored_keys()
        lifetime = app.config["IDM_ACCESS_TOKEN_LIFETIME"]
        expected = clock.now() + timedelta(seconds=RESTART_MARGIN + lifetime + keys.CLOCK_SKEW)
    assert abs(legacy.retires_at - expected) < timedelta(seconds=LEEWAY)
