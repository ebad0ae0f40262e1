"""``flask --app app audit prune``: the audit log and the other tables that only grow."""

import click
from flask import current_app
from flask.cli import AppGroup

from .. import audit, keys, page_sessions, throttle
from ..models import db
from ..revocation import prune_revoked_tokens

command = AppGroup("audit", help="The audit log.")

# Throttle rows younger than this are kept even if every login window is
# shorter: other features (password reset) count in windows of their own.
KEEP_ATTEMPTS_AT_LEAST = 24 * 3600


@command.command("prune")
def prune():
    """Delete audit rows past IDM_AUDIT_RETENTION_DAYS, old throttle counts,
    the records of logged-out tokens that have expired anyway, page sessions
    past their limits, and the private halves of retired signing keys."""
    config = current_app.config
    events = audit.prune(config["IDM_AUDIT_RETENTION_DAYS"])
    # Attempts older than the login window no longer count towards any lock.
    attempts = throttle.prune(max(config["IDM_LOGIN_WINDOW"], KEEP_ATTEMPTS_AT_LEAST))
    tokens = prune_revoked_tokens()
    sessions = page_sessions.prune()
    db.session.commit()
    wiped = keys.wipe_retired_keys()
    click.echo(
        f"deleted {events} audit events older than {config['IDM_AUDIT_RETENTION_DAYS']} days, "
        f"{attempts} old login/throttle attempts, {tokens} expired revoked tokens, "
        f"{sessions} ended page sessions, {wiped} private keys of retired signing keys"
    )
