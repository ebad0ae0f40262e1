"""Signing keys: the first one, rotation on schedule, and what each worker's copy notices.

Two apps made by one test share its database, like two workers (or hosts)
of one service; ``fake_clock`` moves the schedule along.
"""

import jwt
import pytest
from conftest import ADMIN, login
from cryptography.hazmat.primitives import serialization
from sqlalchemy import event, func, select

from idm import clock, keyring, keys
from idm.models import AuditEvent, SigningKey, db
from idm.tokens import decode_access_token

HOUR = 3600


@pytest.fixture
def app_config():
    return {"IDM_KEY_PUBLISH_AHEAD": HOUR, "IDM_ACCESS_TOKEN_LIFETIME": 2 * HOUR}


def kid_of(headers):
    return jwt.get_unverified_header(headers["Authorization"].split()[1])["kid"]


def rows(app):
    with app.app_context():
        return keys.stored_keys(everything=True)


def states(app, now):
    found = rows(app)
    return {row.kid: keys.state(row, found, now) for row in found}


def jwks_kids(client):
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return {key["kid"] for key in response.json["keys"]}


def key_events(app):
    with app.app_context():
        query = select(AuditEvent.outcome).where(AuditEvent.action == "key.create")
        return list(db.session.scalars(query.order_by(AuditEvent.id)))


def rotate(app, immediately=False):
    with app.app_context():
        return keys.rotate(immediately).kid


def forged(app, kid):
    """A token signed with *kid*'s private key that lives for a year: only
    the key's retirement can stop it."""
    with app.app_context():
        row = next(row for row in keys.stored_keys(everything=True) if row.kid == kid)
        private_key = serialization.load_pem_private_key(keys.private_key_pem(row), None)
        now = clock.now().timestamp()
        payload = {
            "iss": app.config["IDM_JWT_ISSUER"],
            "aud": app.config["IDM_JWT_AUDIENCE"],
            "sub": "x",
            "iat": now,
            "exp": int(now) + 365 * 24 * HOUR,
            "jti": "forged",
        }
        return jwt.encode(payload, private_key, row.algorithm, headers={"kid": kid})


def verdict(app, token):
    with app.app_context():
        try:
            decode_access_token(token)
        except Exception as error:  # InvalidToken: its message is the verdict
            return str(error)
        return "ok"


def test_the_first_token_makes_the_first_key(app, client, admin, fake_clock):
    assert rows(app) == []

    headers = login(client, *ADMIN)

    (row,) = rows(app)
    assert (row.generation, row.algorithm, kid_of(headers)) == (1, "RS256", row.kid)
    assert states(app, fake_clock()) == {row.kid: "active"}
    assert jwks_kids(client) == {row.kid}
    assert key_events(app) == []  # part of the install: logged, not audited
    assert client.get("/user/me", headers=headers).status_code == 200


def test_the_private_half_is_sealed_and_the_public_half_is_pem(app, client, admin):
    login(client, *ADMIN)
    (row,) = rows(app)

    assert row.private_key.startswith("v1.") and "PRIVATE KEY" not in row.private_key
    assert row.public_key.startswith("-----BEGIN PUBLIC KEY-----")


def test_two_workers_making_the_first_key_at_once_end_with_one(app, make_app, admin, fake_clock):
    other = make_app()  # a second worker on the same database
    with app.app_context():
        seen_by_first = keys.stored_keys()
    with other.app_context():
        seen_by_second = keys.stored_keys()
    assert seen_by_first == seen_by_second == []

    with app.app_context():
        first_won = keys.add_key(seen_by_first, fake_clock(), True, "first")
    with other.app_context():
        second_won = keys.add_key(seen_by_second, fake_clock(), True, "first")  # too late
        signer = keyring.signing_key()

    assert (first_won, second_won) == (True, False)
    (row,) = rows(app)
    assert signer.kid == row.kid
    assert len(rows(app)) == 1


def test_a_rotation_publishes_first_signs_later_and_retires_the_old_key(
    app, client, admin, fake_clock
):
    old = kid_of(login(client, *ADMIN))
    long_lived = forged(app, old)
    new = rotate(app)

    # Published at once, for max-age seconds; the old key still signs.
    response = client.get("/.well-known/jwks.json")
    assert response.headers["Cache-Control"] == f"public, max-age={HOUR}"
    assert jwks_kids(client) == {old, new}
    assert states(app, fake_clock()) == {old: "active", new: "next"}
    assert kid_of(login(client, *ADMIN)) == old

    fake_clock.advance(HOUR)
    assert states(app, fake_clock()) == {old: "previous", new: "active"}
    assert kid_of(login(client, *ADMIN)) == new
    assert verdict(app, long_lived) == "ok"  # a token of the old key may live 2 h more

    fake_clock.advance(2 * HOUR + keys.CLOCK_SKEW - 1)
    assert verdict(app, long_lived) == "ok"
    fake_clock.advance(1)
    assert states(app, fake_clock()) == {old: "retired", new: "active"}
    assert verdict(app, long_lived) == "token is signed with a retired key"
    assert jwks_kids(client) == {new}
    assert key_events(app) == ["rotate"]


def test_rotate_now_retires_every_older_key_at_once(app, client, admin, fake_clock):
    headers = login(client, *ADMIN)
    old = kid_of(headers)

    new = rotate(app, immediately=True)  # as `flask keys rotate --now` on the host

    fake_clock.advance(app.config["IDM_KEY_CACHE_SECONDS"])  # every worker has read it by now
    assert client.get("/user/me", headers=headers).json["error"]["message"] == (
        "token is signed with a retired key"
    )
    assert jwks_kids(client) == {new}
    assert kid_of(login(client, *ADMIN)) == new
    retired = next(row for row in rows(app) if row.kid == old)
    assert retired.private_key is None  # wiped: it will never sign again
    assert key_events(app) == ["rotate-now"]


def test_keys_rotate_themselves_when_the_setting_says_so(app, client, admin, fake_clock):
    app.config["IDM_KEY_ROTATION_DAYS"] = 1
    first = kid_of(login(client, *ADMIN))
    fake_clock.advance(24 * HOUR - 1)
    assert kid_of(login(client, *ADMIN)) == first
    assert len(rows(app)) == 1

    fake_clock.advance(1)
    assert kid_of(login(client, *ADMIN)) == first  # the new key is only published
    (second,) = jwks_kids(client) - {first}
    assert key_events(app) == ["automatic"]

    fake_clock.advance(HOUR)
    assert kid_of(login(client, *ADMIN)) == second
    assert len(rows(app)) == 2  # one rotation per period, however many requests


def test_a_worker_notices_a_key_made_on_another(app, make_app, client, admin, fake_clock):
    other = make_app()
    old_token = login(client, *ADMIN)["Authorization"].split()[1]
    assert verdict(other, old_token) == "ok"  # the other worker has a copy of the keys now

    rotate(app, immediately=True)
    new_token = login(client, *ADMIN)["Authorization"].split()[1]

    assert verdict(other, new_token) == "ok"  # an unknown kid: it read the keys again


def test_a_copy_is_trusted_for_the_cache_time_only(app, make_app, client, admin, fake_clock):
    other = make_app()
    token = login(client, *ADMIN)["Authorization"].split()[1]
    assert verdict(other, token) == "ok"

    rotate(app, immediately=True)  # on this worker; the other still has its copy

    assert verdict(other, token) == "ok"
    fake_clock.advance(other.config["IDM_KEY_CACHE_SECONDS"])
    assert verdict(other, token) == "token is signed with a retired key"


def test_made_up_kids_cost_at_most_one_query_a_second(app, client, admin, fake_clock):
    token = login(client, *ADMIN)["Authorization"].split()[1]
    queries = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: queries.append(args[2]))
        assert verdict(app, token) == "ok"
        queries.clear()

        for number in range(50):
            bogus = jwt.encode({"x": number}, "k" * 32, "HS256", headers={"kid": f"bogus{number}"})
            assert "does not know" in verdict(app, bogus)
        assert len(queries) == 1
        fake_clock.advance(keyring.UNKNOWN_KID_RELOAD)
        assert "does not know" in verdict(app, bogus)
        assert len(queries) == 2


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA"])
def test_another_algorithm_takes_effect_with_the_next_key(make_app, admin, fake_clock, algorithm):
    app = make_app()
    client = app.test_client()
    first = kid_of(login(client, *ADMIN))
    changed = make_app(IDM_JWT_ALGORITHM=algorithm)  # the setting changed, workers restarted

    assert kid_of(login(changed.test_client(), *ADMIN)) == first  # RS256 still signs
    new = rotate(changed, immediately=True)

    token = login(changed.test_client(), *ADMIN)["Authorization"].split()[1]
    assert jwt.get_unverified_header(token) == {"alg": algorithm, "kid": new, "typ": "JWT"}
    assert verdict(app, token) == "ok"  # every worker verifies it, whatever its setting


def test_the_signing_key_is_unsealed_once_per_process(app, client, admin):
    login(client, *ADMIN)
    with app.app_context():
        holder = keyring.ring()
        first = holder.private_keys[keyring.signing_key().kid]
        assert keyring.signing_key().key is first

        (count,) = db.session.execute(select(func.count()).select_from(SigningKey)).one()
    assert count == 1
