"""Ending access tokens before their ``exp``.

One token (logout, refresh) ends by storing its ``jti`` in RevokedToken until
the token would have expired anyway; every token of a user ends by moving
``User.tokens_valid_after`` to now. Both live in the shared database and are
checked per request by auth.py, so they hold on every worker and host at once.
"""

from datetime import UTC, datetime

from sqlalchemy import delete, update

from . import clock, metrics, page_sessions
from .models import RevokedToken, User, db


def revoke_token(claims):
    """Retire the token with these verified claims; part of the caller's transaction.

    Committing raises IntegrityError when the token was retired already (two
    racing logouts or refreshes of one token): only one of them may win.
    """
    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    # Rows of expired tokens guard nothing; dropping them here keeps the
    # table small even when nobody runs `flask audit prune`.
    prune_revoked_tokens()
    metrics.TOKENS.labels("revoked").inc()
    db.session.add(RevokedToken(jti=claims["jti"], expires_at=expires_at))


def revoke_all_tokens(user):
    """Every token issued to *user* until now is refused from now on, and every
    page session of the user ends: "log out everywhere".

    *user* is a User or auth.Caller: an UPDATE by id serves both, and also
    updates a User that the session holds.
    """
    metrics.TOKENS.labels("revoked_all").inc()
    statement = update(User).where(User.id == user.id).values(tokens_valid_after=clock.now())
    db.session.execute(statement)
    page_sessions.end_all(user.id, page_sessions.SIGNED_OUT_EVERYWHERE)


def prune_revoked_tokens():
    """Delete rows of tokens that have expired; returns how many."""
    statement = delete(RevokedToken).where(RevokedToken.expires_at < clock.now())
    return db.session.execute(statement).rowcount
