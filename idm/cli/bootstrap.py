"""``flask --app app init-code``: the one-time code that /init asks for."""

import click
from flask.cli import with_appcontext

from ..bootstrap import setup_code


@click.command("init-code")
@with_appcontext
def command():
    """Print the one-time code that /init asks for (IDM_INIT_REQUIRE_CODE)."""
    click.echo(setup_code())
