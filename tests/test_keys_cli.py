"""``flask keys list|rotate|reseal|client-secret`` and what they change, through Flask's runner."""

import logging
import re
import secrets

import jwt
import pytest
from conftest import ADMIN, json_error, login
from sqlalchemy import update

from idm import keys
from idm.introspection import secret_digest
from idm.models import AuditEvent, db


def kid_of(headers):
    return jwt.get_unverified_header(headers["Authorization"].split()[1])["kid"]


def table(output):
    """The rows of `keys list` as {kid: (algorithm, state, created, signs from, retires at)}."""
    lines = [line.split("\t") for line in output.splitlines() if "\t" in line]
    assert lines[0] == ["kid", "algorithm", "state", "created", "signs from", "retires at"]
    return {line[0]: tuple(line[1:]) for line in lines[1:]}


def test_list_before_the_first_token(runner, admin):
    result = runner.invoke(args=["keys", "list"])

    assert result.exit_code == 0, result.output
    assert "no key yet: the first is made when the first token is signed" in result.output


def test_rotate_and_list(runner, client, admin):
    first = kid_of(login(client, *ADMIN))

    rotated = runner.invoke(args=["keys", "rotate"])

    assert rotated.exit_code == 0, rotated.output
    new = re.search(
        r"^new key (\S+) \(RS256\): in the JWKS now, signs from \S+", rotated.output, re.M
    )
    assert new, rotated.output
    assert f"key {first} verifies until " in rotated.output
    listed = table(runner.invoke(args=["keys", "list"]).output)
    assert listed[first][:2] == ("RS256", "active")
    assert listed[new.group(1)][:2] == ("RS256", "next")
    assert listed[first][4] != "-" and listed[new.group(1)][4] == "-"


def test_rotate_makes_the_first_key_when_there_is_none(runner, client, admin):
    result = runner.invoke(args=["keys", "rotate"])

    assert result.exit_code == 0, result.output
    (kid,) = table(runner.invoke(args=["keys", "list"]).output)
    assert kid_of(login(client, *ADMIN)) == kid  # it signs at once: nothing signed before


def test_rotate_now(runner, client, admin):
    headers = login(client, *ADMIN)
    old = kid_of(headers)

    result = runner.invoke(args=["keys", "rotate", "--now"])

    assert result.exit_code == 0, result.output
    assert "every older key is retired" in result.output
    listed = table(runner.invoke(args=["keys", "list"]).output)
    assert listed[old][1] == "retired"
    assert kid_of(login(client, *ADMIN)) != old


def test_list_says_when_the_setting_and_the_keys_disagree(make_app, admin):
    make_app().test_client().post("/auth", json={"username": ADMIN[0], "password": ADMIN[1]})

    result = make_app(IDM_JWT_ALGORITHM="EdDSA").test_cli_runner().invoke(args=["keys", "list"])

    assert "IDM_JWT_ALGORITHM is EdDSA but the newest key is RS256" in result.output


def new_secret_key():
    return "k-" + secrets.token_urlsafe(48)


def test_after_a_new_secret_key_reseal_keeps_every_token(make_app, admin, caplog, monkeypatch):
    before = make_app()
    headers = login(before.test_client(), *ADMIN)
    old_secret = before.config["SECRET_KEY"]
    after = make_app(SECRET_KEY=new_secret_key())  # settings changed, service restarted
    client = after.test_client()

    # Tokens verify with the public half, which is not sealed.
    assert client.get("/user/me", headers=headers).status_code == 200
    with caplog.at_level(logging.ERROR, "idm"):
        refused = client.post("/auth", json={"username": ADMIN[0], "password": ADMIN[1]})
    assert "tokens cannot be issued right now" in json_error(refused, 503)
    assert "does not open with this SECRET_KEY" in caplog.text
    assert "keys reseal" in caplog.text

    monkeypatch.setenv("IDM_OLD_SECRET_KEY", old_secret)
    result = after.test_cli_runner().invoke(args=["keys", "reseal"])

    assert result.exit_code == 0, result.output
    assert "resealed 1 private key(s) with the current SECRET_KEY (0 already were)" in result.output
    assert kid_of(login(client, *ADMIN)) == kid_of(headers)
    assert client.get("/user/me", headers=headers).status_code == 200
    again = after.test_cli_runner().invoke(args=["keys", "reseal"])
    assert "resealed 0 private key(s) with the current SECRET_KEY (1 already were)" in again.output
    with after.app_context():
        actions = [event.action for event in db.session.query(AuditEvent)]
    assert actions.count("key.reseal") == 1


def test_reseal_asks_for_the_old_key_and_refuses_a_wrong_one(make_app, admin):
    before = make_app()
    login(before.test_client(), *ADMIN)
    after = make_app(SECRET_KEY=new_secret_key())
    runner = after.test_cli_runner()
    with after.app_context():
        sealed = [row.private_key for row in keys.stored_keys()]

    wrong = runner.invoke(args=["keys", "reseal"], input="not the old key\n")
    current = runner.invoke(args=["keys", "reseal"], input=after.config["SECRET_KEY"] + "\n")

    assert wrong.exit_code == 1
    assert "open with neither SECRET_KEY; nothing was changed" in wrong.output
    assert "not the old key" not in wrong.output  # the prompt hides what is typed
    assert current.exit_code == 1
    assert "that is the current SECRET_KEY" in current.output
    with after.app_context():
        assert [row.private_key for row in keys.stored_keys()] == sealed
    right = runner.invoke(args=["keys", "reseal"], input=before.config["SECRET_KEY"] + "\n")
    assert right.exit_code == 0, right.output


def test_client_secret_prints_a_secret_and_its_digest(runner):
    result = runner.invoke(args=["keys", "client-secret", "reports-api"])

    assert result.exit_code == 0, result.output
    secret = re.search(r"client secret: (\S+)", result.output).group(1)
    assert len(secret) >= 43
    assert f"'reports-api': '{secret_digest(secret)}'," in result.output
    refused = runner.invoke(args=["keys", "client-secret", "a:b"])
    assert refused.exit_code == 1


def test_audit_prune_wipes_the_private_halves_of_retired_keys(runner, app, client, admin):
    login(client, *ADMIN)
    with app.app_context():
        (first,) = keys.stored_keys()
    runner.invoke(args=["keys", "rotate", "--now"])
    # As if the rotation had not wiped it: an older version, or a crash.
    with app.app_context(), db.engine.begin() as connection:
        restore = update(keys.KEYS).where(keys.KEYS.c.kid == first.kid).values(private_key="x")
        connection.execute(restore)

    result = runner.invoke(args=["audit", "prune"])

    assert result.exit_code == 0, result.output
    assert "1 private keys of retired signing keys" in result.output
    with app.app_context():
        rows = {row.kid: row for row in keys.stored_keys(everything=True)}
    assert rows[first.kid].private_key is None
    assert all(row.private_key for kid, row in rows.items() if kid != first.kid)


@pytest.mark.parametrize("command", [["keys", "list"], ["keys", "rotate"]])
def test_commands_answer_with_an_hmac_secret(make_app, command):
    app = make_app(IDM_JWT_ALGORITHM="HS256", IDM_JWT_HMAC_SECRET=secrets.token_urlsafe(48))

    result = app.test_cli_runner().invoke(args=command)

    assert "tokens are signed with IDM_JWT_HMAC_SECRET" in result.output
