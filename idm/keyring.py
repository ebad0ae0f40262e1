"""This process's prepared keys: what verifies a token, and what signs the next one.

Verifying is on every authenticated request, so it must not read the
database each time: every process keeps a copy of the keys that verify, as
prepared key objects (parsing a PEM costs more than checking a signature),
and reads the table again

* when its copy is older than IDM_KEY_CACHE_SECONDS, so that a key retired
  on another host (``flask keys rotate --now``) is refused everywhere
  within that time;
* when a token names a kid the copy does not know (a key made on another
  host), at most once per UNKNOWN_KID_RELOAD seconds, so a flood of
  made-up kids costs one query a second, not one per request.

Whether a key has retired is decided per token against its ``retires_at``,
so an old copy never lets a retired key verify past its time.

Signing reads the table every time (keys.current_keys): it is rare (a login
already costs a password hash) and must follow the newest schedule, or a
worker with an old copy could sign with a key that retires before the
token expires. Each private half is unsealed once per process.
"""

import base64
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from flask import current_app

from . import clock, keys

EXTENSION = "idm.keyring"
UNKNOWN_KID_RELOAD = 1.0  # seconds


@dataclass(frozen=True, slots=True)
class VerifyingKey:
    kid: str | None
    algorithms: tuple  # the only algorithms a token verified with this key may name
    key: object  # a public key object, or the bytes of an HMAC secret
    retires_at: float | None  # a timestamp: tokens are refused from then on
    issued_before: float | None  # SECRET_KEY's tokens: only those issued before the upgrade


@dataclass(frozen=True, slots=True)
class Signer:
    kid: str
    algorithm: str
    key: object  # a private key object, or the bytes of an HMAC secret


@dataclass(frozen=True, slots=True)
class Copy:
    """The verifying keys as read at ``loaded_at``; replaced whole, never changed."""

    by_kid: dict
    legacy: VerifyingKey | None
    loaded_at: float
    rows: tuple | None


class Ring:
    """One app's keys in this process (``app.extensions``)."""

    def __init__(self):
        self.copy = Copy({}, None, float("-inf"), None)  # never read: prepared at first use
        self.unknown_reload_at = float("-inf")
        self.private_keys = {}


def ring():
    extensions = current_app.extensions
    return extensions.get(EXTENSION) or extensions.setdefault(EXTENSION, Ring())


def verifying_key(kid):
    """The key that verifies tokens naming *kid* (None: no kid), or None."""
    holder = ring()
    now = clock.now().timestamp()
    copy = holder.copy
    if not 0 <= now - copy.loaded_at < current_app.config["IDM_KEY_CACHE_SECONDS"]:
        copy = reload(holder, now)
    key = copy.legacy if kid is None else copy.by_kid.get(kid)
    if key is None and kid is not None and now - holder.unknown_reload_at >= UNKNOWN_KID_RELOAD:
        holder.unknown_reload_at = now
        key = reload(holder, now).by_kid.get(kid)
    return key


def reload(holder, now, rows=None):
    if rows is None:
        rows = keys.stored_keys(retired_within=keys.RETIRED_KEPT)
    rows = tuple(rows)
    if rows != holder.copy.rows:
        holder.copy = prepared(rows, now)
    else:
        holder.copy = Copy(holder.copy.by_kid, holder.copy.legacy, now, rows)
    return holder.copy


def prepared(rows, now):
    config = current_app.config
    by_kid, legacy = {}, None
    for row in rows:
        retires_at = row.retires_at.timestamp() if row.retires_at is not None else None
        if row.generation == keys.LEGACY_GENERATION:
            secret = config["SECRET_KEY"].encode()
            # Earlier versions let IDM_JWT_ALGORITHM choose any HMAC; an HMAC
            # secret verifies nothing else, so the family is safe to accept.
            # Its activates_at is the last moment SECRET_KEY may have signed.
            issued_before = row.activates_at.timestamp()
            legacy = VerifyingKey(None, keys.HMAC_ALGORITHMS, secret, retires_at, issued_before)
        elif keys.key_pairs_in_use():
            public_key = serialization.load_pem_public_key(row.public_key.encode("ascii"))
            by_kid[row.kid] = VerifyingKey(row.kid, (row.algorithm,), public_key, retires_at, None)
    secret = config["IDM_JWT_HMAC_SECRET"]
    if secret:
        kid = hmac_kid(secret)
        # Signing with it: exactly the configured algorithm. Moved on to a key
        # pair: the tokens it signed, with whichever HMAC, until they expire.
        chosen = config["IDM_JWT_ALGORITHM"]
        algorithms = (chosen,) if chosen in keys.HMAC_ALGORITHMS else keys.HMAC_ALGORITHMS
        by_kid[kid] = VerifyingKey(kid, algorithms, secret.encode(), None, None)
    return Copy(by_kid, legacy, now, rows)


def hmac_kid(secret):
    """The kid of IDM_JWT_HMAC_SECRET: names it without telling anything about it."""
    digest = hashlib.sha256(b"idm/hmac-kid\x00" + secret.encode()).digest()
    return "hs-" + base64.urlsafe_b64encode(digest[:12]).decode("ascii")


def signing_key():
    """The Signer of the next token; ``keys.KeysUnavailable`` when there is none."""
    config = current_app.config
    if not keys.key_pairs_in_use():
        secret = config["IDM_JWT_HMAC_SECRET"]
        return Signer(hmac_kid(secret), config["IDM_JWT_ALGORITHM"], secret.encode())
    rows = keys.current_keys()
    now = clock.now()
    reload(ring(), now.timestamp(), rows)  # read just now: the copy may as well be it
    row = keys.signing_row(rows, now)
    if row is None:
        raise keys.KeysUnavailable("no signing key is active; see flask --app app keys list")
    private_keys = ring().private_keys
    private_key = private_keys.get(row.kid)
    if private_key is None:
        private_key = serialization.load_pem_private_key(keys.private_key_pem(row), None)
        private_keys[row.kid] = private_key
    return Signer(row.kid, row.algorithm, private_key)
