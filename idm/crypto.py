"""Secrets at rest, sealed with a key derived from SECRET_KEY.

What the service must keep but a copy of its database must not reveal
(the body of a queued reset email, the private half of a signing key) is
stored sealed: AES-256-GCM from ``cryptography``, authenticated encryption,
so a sealed value can neither be read nor changed without the key.

Why this is safe:

* The key is never stored: HKDF-SHA256 derives it from SECRET_KEY, which
  lives in settings.py, not in the database. A database dump alone opens
  nothing.
* Each use has its own key (``purpose`` goes into HKDF's info), and the
  purpose plus the caller's ``context`` (e.g. a row id) are authenticated
  as associated data: a sealed value cannot be moved to another row or
  another use and still open.
* A fresh 96-bit random nonce per seal, as AES-GCM requires.
* A value that does not open raises ``Unreadable``, never returns garbage.
"""

import base64
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

VERSION = "v1"
NONCE_BYTES = 12


class Unreadable(Exception):
    """A sealed value that this SECRET_KEY cannot open (another key, or tampered)."""


@lru_cache(maxsize=32)
def cipher(secret_key, purpose):
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"idm/" + purpose.encode()
    ).derive(secret_key.encode())
    return AESGCM(key)


def associated_data(purpose, context):
    return f"{VERSION}\x00{purpose}\x00{context}".encode()


def seal(purpose, data, context="", secret_key=None):
    """*data* (bytes) sealed as ASCII text, to store in a column."""
    secret_key = secret_key or current_app.config["SECRET_KEY"]
    nonce = os.urandom(NONCE_BYTES)
    sealed = cipher(secret_key, purpose).encrypt(nonce, data, associated_data(purpose, context))
    return VERSION + "." + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(purpose, text, context="", secret_key=None):
    """The bytes *text* was sealed from, or ``Unreadable``."""
    secret_key = secret_key or current_app.config["SECRET_KEY"]
    version, _, payload = text.partition(".")
    if version != VERSION:
        raise Unreadable(f"not a sealed value of version {VERSION}")
    try:
        raw = base64.urlsafe_b64decode(payload)
        nonce, sealed = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
        return cipher(secret_key, purpose).decrypt(nonce, sealed, associated_data(purpose, context))
    except (InvalidTag, ValueError):
        raise Unreadable("the sealed value does not open with this SECRET_KEY") from None
