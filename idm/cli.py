"""``flask --app app …`` commands for operators on the host."""

import click

from .pages import setup_code


def register(app):
    @app.cli.command("init-code")
    def init_code():
        """Print the one-time code that /init asks for (IDM_INIT_REQUIRE_CODE)."""
        click.echo(setup_code())
