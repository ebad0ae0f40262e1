"""``flask --app app …`` commands for operators on the host.

``users …`` lives in cli_users.py; ``audit prune`` and ``init-code`` here.
Commands call the same service functions as the HTTP API, so every rule
holds on the command line too.
"""

import click
from flask import current_app
from flask.cli import AppGroup

from . import audit, throttle
from .cli_users import users_cli
from .models import db
from .pages import setup_code
from .revocation import prune_revoked_tokens

audit_cli = AppGroup("audit", help="The audit log.")

# Throttle rows younger than this are kept even if every login window is
# shorter: other features (password reset) count in windows of their own.
KEEP_ATTEMPTS_AT_LEAST = 24 * 3600


def register(app):
    @app.cli.command("init-code")
    def init_code():
        """Print the one-time code that /init asks for (IDM_INIT_REQUIRE_CODE)."""
        click.echo(setup_code())

    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)


@audit_cli.command("prune")
def prune():
    """Delete audit rows past IDM_AUDIT_RETENTION_DAYS, old throttle counts
    and the records of logged-out tokens that have expired anyway."""
    config = current_app.config
    events = audit.prune(config["IDM_AUDIT_RETENTION_DAYS"])
    # Attempts older than the login window no longer count towards any lock.
    attempts = throttle.prune(max(config["IDM_LOGIN_WINDOW"], KEEP_ATTEMPTS_AT_LEAST))
    tokens = prune_revoked_tokens()
    db.session.commit()
    click.echo(
        f"deleted {events} audit events older than {config['IDM_AUDIT_RETENTION_DAYS']} days, "
        f"{attempts} old login/throttle attempts, {tokens} expired revoked tokens"
    )
