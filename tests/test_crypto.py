"""idm/crypto.py: what it seals opens with the same SECRET_KEY, purpose and context only."""

import pytest

from idm import crypto

KEY = "k" * 48


def test_a_sealed_value_opens_again():
    sealed = crypto.seal("outbox", b"reset link", context="7", secret_key=KEY)

    assert b"reset link" not in sealed.encode()
    assert crypto.unseal("outbox", sealed, context="7", secret_key=KEY) == b"reset link"


def test_every_seal_is_different():
    assert crypto.seal("outbox", b"x", secret_key=KEY) != crypto.seal(
        "outbox", b"x", secret_key=KEY
    )


@pytest.mark.parametrize(
    ("purpose", "context", "secret_key"),
    [("signing-key", "7", KEY), ("outbox", "8", KEY), ("outbox", "7", "another" * 8)],
)
def test_another_purpose_context_or_key_cannot_open_it(purpose, context, secret_key):
    sealed = crypto.seal("outbox", b"reset link", context="7", secret_key=KEY)

    with pytest.raises(crypto.Unreadable):
        crypto.unseal(purpose, sealed, context=context, secret_key=secret_key)


@pytest.mark.parametrize(
    "damage", [lambda s: s[:-2] + "AA", lambda s: "v2" + s[2:], lambda s: "v1.!!"]
)
def test_a_damaged_value_is_unreadable_not_garbage(damage):
    sealed = crypto.seal("outbox", b"reset link", secret_key=KEY)

    with pytest.raises(crypto.Unreadable):
        crypto.unseal("outbox", damage(sealed), secret_key=KEY)
