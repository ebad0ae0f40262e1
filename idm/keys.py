"""Signing keys in the database: the first one, rotation, the schedule, sealing.

Access tokens are signed with a key pair of the service's own, never with
SECRET_KEY, so a resource server verifies them with the public half (the
JWKS) and holds nothing that could mint a token. The keys live in the
shared database, so every worker and host signs and verifies with the same
ones; idm/keyring.py keeps each process's prepared copy.

The schedule, and why every host agrees on it without talking to the others:

* A key's state is computed from its row and the clock, never stored:
  ``next`` before its ``activates_at``; ``active`` while it is the newest
  key that has activated (it signs); ``previous`` after a newer one has
  activated, until its ``retires_at``; ``retired`` from then on.
* ``flask keys rotate`` (or the automatic rotation, IDM_KEY_ROTATION_DAYS)
  adds a key that activates IDM_KEY_PUBLISH_AHEAD later: resource servers
  see it in the JWKS before any token carries it. The key it replaces
  retires once every token it can have signed has expired: its
  successor's activation plus IDM_ACCESS_TOKEN_LIFETIME plus CLOCK_SKEW.
* The first key, and each next one, is inserted with the next
  ``generation``, a unique column: when two workers race to make it, one
  INSERT fails and that worker uses the winner's key. No lock, no leader.
* The private half is sealed with a key derived from SECRET_KEY
  (idm/crypto.py, bound to the kid), so a database dump cannot sign, and
  is wiped once its key has retired. ``reseal`` moves the seals to a new
  SECRET_KEY; the public halves, and so every token, are untouched.
* Generation 0 stands for earlier versions of the service, which signed
  with SECRET_KEY (HMAC, no kid). The migration that introduced key pairs
  wrote it with a ``retires_at`` one token lifetime after the upgrade, so
  nobody is logged out by the upgrade and SECRET_KEY signs nothing after.
"""

import logging
import secrets
from datetime import timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from flask import current_app
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from . import audit, clock, crypto
from .models import AuditEvent, SigningKey, db

KEY_PAIR_ALGORITHMS = ("RS256", "ES256", "EdDSA")
HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
JWK_OF = {"RS256": RSAAlgorithm.to_jwk, "ES256": ECAlgorithm.to_jwk, "EdDSA": OKPAlgorithm.to_jwk}
SEAL_PURPOSE = "signing-key"
LEGACY_GENERATION = 0
# Seconds the clocks of two hosts may differ: a key retires this long after
# the last token it signed has expired, by the clock of the host that signed.
CLOCK_SKEW = 30
# Seconds a retired key is still read with the others, so that its tokens
# are told "retired" rather than "unknown".
RETIRED_KEPT = 24 * 3600
KEYS = SigningKey.__table__
log = logging.getLogger(__name__)


class KeysUnavailable(Exception):
    """Tokens cannot be signed: the active key does not open with this SECRET_KEY."""


def key_pairs_in_use():
    """Whether tokens are signed with a key pair (else HMAC with IDM_JWT_HMAC_SECRET)."""
    return current_app.config["IDM_JWT_ALGORITHM"] in KEY_PAIR_ALGORITHMS


def stored_keys(everything=False, retired_within=0):
    """The key rows that still verify (and those retired less than
    *retired_within* seconds ago; with *everything*, all of them), oldest
    generation first, read on a connection of its own.

    The newest key never retires before a newer one exists, so the rows that
    still verify always include the highest generation.
    """
    query = select(KEYS).order_by(KEYS.c.generation)
    if not everything:
        since = clock.now() - timedelta(seconds=retired_within)
        query = query.where(KEYS.c.retires_at.is_(None) | (KEYS.c.retires_at > since))
    with db.engine.connect() as connection:
        return connection.execute(query).all()


def retired(row, now):
    return row.retires_at is not None and now >= row.retires_at


def state(row, rows, now):
    """``next``, ``active``, ``previous``, ``retired`` or ``legacy`` at *now*."""
    if retired(row, now):
        return "retired"
    if row.generation == LEGACY_GENERATION:
        return "legacy"
    if now < row.activates_at:
        return "next"
    signing = signing_row(rows, now)
    return "active" if signing is not None and signing.kid == row.kid else "previous"


def signing_row(rows, now):
    """The key that signs at *now*: the newest key pair that has activated."""
    started = [
        row
        for row in rows
        if row.generation != LEGACY_GENERATION and row.activates_at <= now and not retired(row, now)
    ]
    return started[-1] if started else None


def current_keys():
    """The rows as they stand now, with the first key made or a rotation done when due.

    Read fresh from the database by everything that signs or publishes, so
    a key made or retired on another host is used at once.
    """
    rows = stored_keys(retired_within=RETIRED_KEPT)
    if not key_pairs_in_use():
        return rows
    now = clock.now()
    pairs = [row for row in rows if row.generation != LEGACY_GENERATION and not retired(row, now)]
    if not pairs:
        add_key(rows, now, immediately=True, outcome="first")
    elif rotation_due(pairs[-1], now):
        add_key(rows, now, immediately=False, outcome="automatic")
    else:
        return rows
    return stored_keys(retired_within=RETIRED_KEPT)


def rotation_due(newest, now):
    days = current_app.config["IDM_KEY_ROTATION_DAYS"]
    return bool(days) and now >= newest.created + timedelta(days=days)


def rotate(immediately=False):
    """Add the next key; returns its row. *immediately*: it signs at once and every
    older key retires now (for a key that may have leaked)."""
    while True:
        rows = stored_keys()
        first = not any(row.generation != LEGACY_GENERATION for row in rows)
        outcome = "first" if first else "rotate-now" if immediately else "rotate"
        if add_key(rows, clock.now(), immediately or first, outcome):
            return stored_keys()[-1]
        # Another process added this generation a moment ago: add the one after it.


def add_key(rows, now, immediately, outcome):
    """Insert the key after *rows*, schedule the retirement of the one it
    replaces, and audit it, in one transaction. False when another process
    inserted this generation first (its key stands; nothing was changed)."""
    config = current_app.config
    generation = max((row.generation for row in rows), default=LEGACY_GENERATION) + 1
    ahead = 0 if immediately else config["IDM_KEY_PUBLISH_AHEAD"]
    activates_at = now + timedelta(seconds=ahead)
    values = new_key(config["IDM_JWT_ALGORITHM"], generation, now, activates_at)
    retire, when = retirement(generation, activates_at, immediately and outcome != "first")
    try:
        with db.engine.begin() as connection:
            connection.execute(insert(KEYS).values(values))
            connection.execute(
                update(KEYS).where(retire, KEYS.c.retires_at.is_(None)).values(retires_at=when)
            )
            connection.execute(
                update(KEYS).where(retire, KEYS.c.retires_at > when).values(retires_at=when)
            )
            wipe_retired(connection, now)
            if outcome != "first":  # the first key is part of the install, not an action
                event = audit.event_values("key.create", outcome=outcome)
                connection.execute(insert(AuditEvent.__table__).values(event))
    except IntegrityError:
        log.info("key generation %d was made by another process first; using it", generation)
        return False
    log.info(
        "made signing key %s (%s, generation %d): %s",
        values["kid"],
        values["algorithm"],
        generation,
        outcome,
    )
    return True


def retirement(generation, activates_at, at_once):
    """(which older keys, when) they retire once the key *generation* exists.

    At once: every older key, SECRET_KEY's included, now. Otherwise the key
    pairs (SECRET_KEY's generation keeps the time the upgrade gave it) when
    the last token they can sign has expired.
    """
    older = KEYS.c.generation < generation
    if at_once:
        return older, activates_at
    lifetime = timedelta(seconds=current_app.config["IDM_ACCESS_TOKEN_LIFETIME"] + CLOCK_SKEW)
    return older & (KEYS.c.generation != LEGACY_GENERATION), activates_at + lifetime


def new_key(algorithm, generation, now, activates_at):
    """The row of a freshly generated key pair."""
    private_key = generate_private_key(algorithm)
    kid = secrets.token_urlsafe(16)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "kid": kid,
        "generation": generation,
        "algorithm": algorithm,
        "public_key": public_pem.decode("ascii"),
        "private_key": crypto.seal(SEAL_PURPOSE, pem, context=kid),
        "created": now,
        "activates_at": activates_at,
        "retires_at": None,
    }


def generate_private_key(algorithm):
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"no key pair for {algorithm}")


def wipe_retired(connection, now):
    """A retired key signs nothing and verifies nothing: its private half goes.

    Done with every new key and by ``flask audit prune``; returns how many."""
    statement = update(KEYS).where(KEYS.c.retires_at <= now, KEYS.c.private_key.is_not(None))
    return connection.execute(statement.values(private_key=None)).rowcount


def wipe_retired_keys():
    with db.engine.begin() as connection:
        return wipe_retired(connection, clock.now())


def private_key_pem(row):
    """The PEM of *row*'s private half, or ``KeysUnavailable``."""
    try:
        return crypto.unseal(SEAL_PURPOSE, row.private_key or "", context=row.kid)
    except crypto.Unreadable:
        raise KeysUnavailable(
            f"the private half of signing key {row.kid} does not open with this SECRET_KEY;"
            " after changing SECRET_KEY run: flask --app app keys reseal"
        ) from None


def reseal(old_secret_key):
    """Seal every stored private half with the current SECRET_KEY; returns
    (resealed, already current). Raises ``KeysUnavailable`` naming the keys that
    open with neither key, and then changes nothing."""
    resealed, current, lost = [], 0, []
    for row in stored_keys(everything=True):
        if row.private_key is None:
            continue
        try:
            crypto.unseal(SEAL_PURPOSE, row.private_key, context=row.kid)
            current += 1
            continue
        except crypto.Unreadable:
            pass
        try:
            pem = crypto.unseal(
                SEAL_PURPOSE, row.private_key, context=row.kid, secret_key=old_secret_key
            )
        except crypto.Unreadable:
            lost.append(row.kid)
            continue
        resealed.append((row.kid, crypto.seal(SEAL_PURPOSE, pem, context=row.kid)))
    if lost:
        raise KeysUnavailable(
            f"key(s) {', '.join(lost)} open with neither SECRET_KEY; nothing was changed"
        )
    with db.engine.begin() as connection:
        for kid, sealed in resealed:
            connection.execute(update(KEYS).where(KEYS.c.kid == kid).values(private_key=sealed))
        if resealed:
            event = audit.event_values("key.reseal")
            connection.execute(insert(AuditEvent.__table__).values(event))
    return len(resealed), current


def public_jwks(rows, now):
    """The JWK of every key pair that verifies at *now* (next, active, previous)."""
    found = []
    for row in rows:
        if row.generation == LEGACY_GENERATION or row.public_key is None:
            continue
        if retired(row, now):
            continue
        public_key = serialization.load_pem_public_key(row.public_key.encode("ascii"))
        jwk = JWK_OF[row.algorithm](public_key, as_dict=True)
        # "use" says what the key is for; RFC 7517 4.3: not with "key_ops" too.
        jwk.pop("key_ops", None)
        found.append(jwk | {"kid": row.kid, "alg": row.algorithm, "use": "sig"})
    return found
