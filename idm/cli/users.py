"""``flask --app app users create|delete|list|set-password|unlock``.

Each command calls the service function the HTTP API calls (idm/users.py), so
the password policy, the last-admin rule and the audit log apply here too.
Refusals print the service's message and exit with status 1.
"""

import functools
import sys

import click
from flask.cli import AppGroup
from werkzeug.exceptions import HTTPException

from .. import users
from ..models import db, iso
from ..validation import normalize_username

command = AppGroup("users", help="Manage user accounts.")

PASSWORD_STDIN_HELP = (
    "Read the password from the first line of standard input instead of "
    "prompting (for scripts; keeps it out of the process list and shell history)."
)


def service_errors(command):
    """Turn a refusal of the service layer into a clear error and exit status 1."""

    @functools.wraps(command)
    def wrapped(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except HTTPException as error:
            db.session.rollback()
            raise click.ClickException(error.description) from None

    return wrapped


def read_password(from_stdin):
    if not from_stdin:
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    # Only the line end is stripped: spaces may be part of a password.
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.ClickException("no password on standard input")
    return password


@command.command("create")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Give the user admin rights.")
@click.option("--password-stdin", is_flag=True, help=PASSWORD_STDIN_HELP)
@service_errors
def create(username, admin, password_stdin):
    """Create a user (email address as USERNAME)."""
    username = normalize_username(username)  # complain before asking for a password
    user = users.create_user(username, read_password(password_stdin), admin=admin)
    click.echo(f"created {'admin' if user.admin else 'user'} {user.username} (id {user.id})")


@command.command("delete")
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@service_errors
def delete(username, yes):
    """Delete a user; refused for the last admin."""
    user = users.find_by_username(username)
    if not yes:
        click.confirm(f"Delete {user.username}?", abort=True)
    name = user.username  # the row is gone after the commit
    users.delete_user(user)
    click.echo(f"deleted {name}")


@command.command("list")
@click.option("--search", default="", help="Only usernames containing this text.")
def list_users(search):
    """One line per user: username, role, id, last login."""
    offset = 0
    while True:
        page, total = users.list_users(offset, 100, search)
        for user in page:
            role = "admin" if user.admin else "user"
            click.echo(f"{user.username}\t{role}\t{user.id}\t{iso(user.last_login) or '-'}")
        offset += len(page)
        if not page or offset >= total:
            break


@command.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help=PASSWORD_STDIN_HELP)
@service_errors
def set_password(username, password_stdin):
    """Set a user's password; every token issued before stops working."""
    user = users.find_by_username(username)
    users.update_user(user, password=read_password(password_stdin))
    click.echo(f"password changed for {user.username}; older tokens no longer work")


@command.command("unlock")
@click.argument("username")
@service_errors
def unlock(username):
    """Clear the lockout after failed logins of an account."""
    user = users.find_by_username(username)
    users.unlock(user)
    click.echo(f"unlocked {user.username}")
