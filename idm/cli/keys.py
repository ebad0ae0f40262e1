"""``flask --app app keys list|rotate|reseal|client-secret``: the keys that sign tokens.

The commands change the shared database, so one run on any host holds on
every host (idm/keys.py says how the schedule needs no coordination).
"""

import os

import click
from flask import current_app
from flask.cli import AppGroup

from .. import clock, introspection, keyring, keys
from ..models import iso

command = AppGroup("keys", help="The keys that sign access tokens.")

HMAC_IN_USE = (
    "IDM_JWT_ALGORITHM is {algorithm}: tokens are signed with IDM_JWT_HMAC_SECRET"
    " (kid {kid}), not with the keys below"
)


@command.command("list")
def list_keys():
    """Every key: kid, algorithm, state, made, signs from, retires at."""
    config = current_app.config
    if not keys.key_pairs_in_use():
        kid = keyring.hmac_kid(config["IDM_JWT_HMAC_SECRET"])
        click.echo(HMAC_IN_USE.format(algorithm=config["IDM_JWT_ALGORITHM"], kid=kid))
    rows = keys.stored_keys(everything=True)
    if not rows:
        click.echo("no key yet: the first is made when the first token is signed")
        return
    now = clock.now()
    click.echo("kid\talgorithm\tstate\tcreated\tsigns from\tretires at")
    for row in rows:
        kid = "(SECRET_KEY, no kid)" if row.generation == keys.LEGACY_GENERATION else row.kid
        click.echo(
            f"{kid}\t{row.algorithm}\t{keys.state(row, rows, now)}\t{iso(row.created)}"
            f"\t{iso(row.activates_at)}\t{iso(row.retires_at) or '-'}"
        )
    newest = rows[-1]
    if keys.key_pairs_in_use() and newest.algorithm != config["IDM_JWT_ALGORITHM"]:
        click.echo(
            f"IDM_JWT_ALGORITHM is {config['IDM_JWT_ALGORITHM']} but the newest key is"
            f" {newest.algorithm}: `keys rotate` makes a key of the configured algorithm"
        )


@command.command("rotate")
@click.option(
    "--now",
    "immediately",
    is_flag=True,
    help="The new key signs at once and every older key retires at once, so every"
    " token signed before is refused: for a key that may have leaked.",
)
def rotate(immediately):
    """Make the next key: published at once, signing after IDM_KEY_PUBLISH_AHEAD."""
    config = current_app.config
    if not keys.key_pairs_in_use():
        raise click.ClickException(
            f"IDM_JWT_ALGORITHM is {config['IDM_JWT_ALGORITHM']}: tokens are signed with"
            " IDM_JWT_HMAC_SECRET; to change that secret, see DEPLOY.md"
        )
    row = keys.rotate(immediately)
    click.echo(
        f"new key {row.kid} ({row.algorithm}): in the JWKS now, signs from {iso(row.activates_at)}"
    )
    rows = keys.stored_keys(everything=True)
    for other in rows[:-1]:
        if other.retires_at is not None and other.retires_at > clock.now():
            click.echo(f"key {other.kid} verifies until {iso(other.retires_at)}")
    if immediately:
        click.echo("every older key is retired: tokens they signed are refused from now on")


@command.command("reseal")
def reseal():
    """Seal the private keys with the current SECRET_KEY after it changed.

    The previous SECRET_KEY comes from the environment variable
    IDM_OLD_SECRET_KEY, or is asked for. No token is invalidated.
    """
    old = os.environ.get("IDM_OLD_SECRET_KEY") or click.prompt(
        "The previous SECRET_KEY", hide_input=True
    )
    if old == current_app.config["SECRET_KEY"]:
        raise click.ClickException(
            "that is the current SECRET_KEY: set the new one in the settings first"
        )
    try:
        resealed, current = keys.reseal(old)
    except keys.KeysUnavailable as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"resealed {resealed} private key(s) with the current SECRET_KEY ({current} already were)"
    )


@command.command("client-secret")
@click.argument("client_id")
def client_secret(client_id):
    """Make a secret for a resource server that calls POST /auth/introspect."""
    if not client_id or ":" in client_id or not client_id.isprintable():
        raise click.ClickException("a client id is printable text without ':'")
    secret, digest = introspection.new_client_secret()
    click.echo(f"client id:     {client_id}")
    click.echo(f"client secret: {secret}   (for the resource server; it is not kept here)")
    click.echo("in the settings of every host, add to IDM_INTROSPECTION_CLIENTS:")
    click.echo(f"    {client_id!r}: {digest!r},")
