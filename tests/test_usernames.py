"""Usernames are what they look like: the rules, the stored form, and look-alikes as one account."""

import pytest
from conftest import ADMIN, USER, json_error
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from test_reset import ask_for_link, deliver

from idm import confusables
from idm.models import Attempt, User, db
from idm.validation import comparable_username, normalize_username, username_key

# Spellings of ADMIN[0] that a reader takes for it.
LOOK_ALIKES = [
    ("fullwidth a", "\uff41dmin@example.org"),
    ("dotless i", "adm\u0131n@example.org"),
    ("Cyrillic a", "\u0430dmin@example.org"),
    ("Greek capital alpha", "\u0391DMIN@example.org"),
    ("upper case", "ADMIN@EXAMPLE.ORG"),
    ("mathematical bold m", "ad\U0001d426in@example.org"),
]
INVISIBLE = [
    ("zero-width space", "ad\u200bmin@example.org"),
    ("zero-width joiner", "admin\u200d@example.org"),
    ("right-to-left override", "\u202eadmin@example.org"),
    ("left-to-right mark", "admin@example.org\u200e"),
    ("byte order mark", "\ufeffadmin@example.org"),
    ("soft hyphen", "ad\u00admin@example.org"),
    ("Hangul filler", "ad\u3164min@example.org"),
]


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("  Alice@Example.ORG ", "alice@example.org"),
        ("\uff21lice@example.org", "alice@example.org"),
        ("STRASSE@example.org", "strasse@example.org"),
        ("stra\u00dfe@example.org", "strasse@example.org"),
        ("user@xn--mnchen-3ya.de", "user@m\u00fcnchen.de"),
        ("user@M\u00dcNCHEN.de", "user@m\u00fcnchen.de"),
        ("e\u0301cole@example.org", "\u00e9cole@example.org"),  # NFC
    ],
)
def test_the_stored_form_is_the_normalized_address(raw, stored):
    assert normalize_username(raw) == stored
    assert normalize_username(stored) == stored  # stable: stored again, it stays


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("Admin <admin@example.org>", "display name"),
        ("admin@example.org (the boss)", "invalid characters"),
        ('"admin"@example.org', "Quoting the part before the @-sign"),
        ('"a b"@example.org', "Quoting the part before the @-sign"),
        ("admin@[127.0.0.1]", "bracketed IP address"),
        ("admin@[IPv6:::1]", "bracketed IP address"),
        ("admin@example.org.", "cannot end with a period"),
        ("admin@localhost", "It should have a period"),
        ("admin@mail.invalid", "special-use or reserved name"),
    ],
)
def test_addresses_that_are_not_plain_mailboxes_are_refused(raw, reason):
    with pytest.raises(Exception) as refused:
        normalize_username(raw)
    message = refused.value.description
    assert message.startswith("username must be an email address, like name@example.org: ")
    assert reason in message


@pytest.mark.parametrize(("what", "raw"), INVISIBLE)
def test_invisible_characters_are_refused_with_their_own_message(what, raw):
    with pytest.raises(Exception) as refused:
        normalize_username(raw)
    assert refused.value.description == (
        "username must not contain invisible characters"
        " (zero-width spaces, direction marks and the like)"
    )


@pytest.mark.parametrize(
    ("what", "raw"),
    [*LOOK_ALIKES, *INVISIBLE, ("trailing dot", "admin@example.org."), ("padded", " admin@x")],
)
def test_look_alikes_have_the_key_of_the_original(what, raw):
    if what == "padded":
        raw = " " + ADMIN[0] + " "
    assert username_key(raw) == username_key(ADMIN[0])


@pytest.mark.parametrize(
    "other", ["admins@example.org", "admin@example.com", "admin@exarnple.org.uk", "b@example.org"]
)
def test_different_addresses_have_different_keys(other):
    assert username_key(other) != username_key(ADMIN[0])


@pytest.mark.parametrize("junk", ["", " ", "x" * 100_000, "\ud800@example.org", "\x00", "@@@"])
def test_the_key_never_raises(junk):
    assert len(username_key(junk)) == 64
    comparable_username(junk)


def test_the_skeleton_follows_unicodes_table():
    assert confusables.data_version() is not None
    assert confusables.skeleton("\u0430") == confusables.skeleton("a") == "a"
    assert confusables.skeleton("m") == "rn"  # UTS #39: "m" looks like "rn"
    assert confusables.skeleton("a\u200bb") == "ab"  # default-ignorables go
    assert confusables.skeleton("\u0131") == "i"
    assert len(confusables.prototypes()) > 4000


@pytest.mark.parametrize(("what", "raw"), LOOK_ALIKES)
def test_a_look_alike_cannot_sit_beside_an_account(client, admin_headers, what, raw):
    response = client.post(
        "/user", json={"username": raw, "password": "a good long password"}, headers=admin_headers
    )
    message = json_error(response, 409)
    if normalize_username(raw) == ADMIN[0]:
        assert message == f"username {ADMIN[0]} is already taken"
    else:
        assert message.startswith(f"username {normalize_username(raw)} looks like an existing")
        assert ADMIN[0] not in message  # the other account is not named
    dry = client.post("/user?dry_run=1", json={"username": raw}, headers=admin_headers)
    assert json_error(dry, 409) == message


@pytest.mark.parametrize(("what", "raw"), [*INVISIBLE, ("trailing dot", "admin@example.org.")])
def test_invisible_and_trailing_dot_variants_are_refused(client, admin_headers, what, raw):
    response = client.post(
        "/user", json={"username": raw, "password": "a good long password"}, headers=admin_headers
    )
    json_error(response, 400)


def test_the_database_decides_a_look_alike_even_without_the_service(app, admin):
    """The unique index, not a SELECT before the INSERT: also under a race."""
    with app.app_context():
        twin = User(
            username="\u0430dmin@example.org",
            username_key=username_key("\u0430dmin@example.org"),
            password_hash="x",
        )
        db.session.add(twin)
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


@pytest.mark.parametrize("typed", ["\u0430dmin@example.org", "ad\u200bmin@example.org"])
def test_a_look_alike_at_sign_in_finds_the_account_it_imitates(client, admin, user, typed):
    response = client.post("/auth", json={"username": typed, "password": ADMIN[1]})
    assert response.status_code == 200
    me = client.get(
        "/user/me", headers={"Authorization": "Bearer " + response.json["access_token"]}
    )
    assert me.json["data"]["username"] == ADMIN[0]
    wrong = client.post("/auth", json={"username": typed, "password": USER[1]})
    assert wrong.status_code == 401


@pytest.fixture
def app_config(smtp_server):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port}


def test_reset_mail_goes_to_the_stored_address_never_to_the_typed_one(
    app, client, user, smtp_server
):
    typed = "us\u0435r@example.org"  # Cyrillic ie: "user@example.org" to a reader
    page = ask_for_link(client, typed)

    assert page.status_code == 200
    assert f"If an account exists for {typed}" in page.text  # as typed: says nothing
    assert deliver(app) == (1, 0)
    [email] = smtp_server.messages
    assert email["To"] == USER[0]
    assert email.get_all("To") == [USER[0]]


def test_look_alikes_share_the_reset_limit_of_the_account(app, client, user):
    spellings = [USER[0], "USER@example.org", "u\u0455er@example.org", "us\u0435r@example.org"]
    for spelling in spellings:
        ask_for_link(client, spelling, environ_base={"REMOTE_ADDR": f"10.1.0.{len(spelling)}"})
    with app.app_context():
        keys = db.session.scalars(select(Attempt.key).where(Attempt.kind == "reset.account"))
        assert set(keys) == {username_key(USER[0])}
    assert deliver(app) == (3, 0)  # IDM_RESET_MAX_PER_ACCOUNT_PER_HOUR, not four
