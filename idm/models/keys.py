"""The signing keys of access tokens (idm/keys.py decides what to do with them)."""

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .. import clock
from .base import UTCDateTime, db


class SigningKey(db.Model):
    """One key pair that signs access tokens, or the SECRET_KEY of earlier versions.

    A key's state (next, active, previous, retired) is never stored: it
    follows from the times below and the clock, so every worker and host
    reads the same state from the same rows without telling each other.
    ``generation`` numbers the keys in the order they were made; its unique
    index is what lets two workers race to make the first (or the next) key
    and end with one: the second INSERT fails, and its worker reads the
    winner's key instead.
    """

    __tablename__ = "signing_keys"

    # The JWS "kid" header of the tokens it signs.
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    # 0: tokens of earlier versions (HMAC with SECRET_KEY, no kid), verified
    # for one token lifetime after the upgrade; 1, 2, …: key pairs.
    generation: Mapped[int] = mapped_column(unique=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    # SubjectPublicKeyInfo PEM; None for generation 0.
    public_key: Mapped[str | None] = mapped_column(Text)
    # PKCS#8 PEM sealed with a key derived from SECRET_KEY (idm/crypto.py),
    # so a copy of the database cannot sign; None once the key is retired.
    private_key: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    # From then on it signs, until a newer key's activates_at. Generation 0:
    # the last moment SECRET_KEY may have signed (the upgrade, plus a margin
    # for the restart); a token it says was issued later is refused.
    activates_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # From then on tokens it signed are refused and it leaves the JWKS; set
    # when its successor is made (every token it signed has expired by then).
    retires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
