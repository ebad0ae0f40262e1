"""Alembic's entry point, run by ``flask --app app db …`` (Flask-Migrate).

The database URL and the models' metadata come from the Flask app, so a
migration runs against exactly the database the service is configured for
(settings.py, IDM_SETTINGS, FLASK_SQLALCHEMY_DATABASE_URI).
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app
from sqlalchemy import TypeDecorator

config = context.config
log = logging.getLogger("alembic.env")

# Log to stderr when run from the command line; leave logging alone when a
# host (pytest, the app) has configured it already.
if config.config_file_name and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def render_item(kind, obj, _context):
    """Write our column types (UTCDateTime) as their plain SQLAlchemy type.

    A revision must not import the app's code: that code changes after the
    revision is written, the revision must not.
    """
    if kind == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def skip_empty_revision(_context, _revision, directives):
    """`db migrate` with nothing to do writes no empty revision file."""
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        log.info("No changes in schema detected.")


def run_migrations_offline():
    """`db upgrade --sql`: print the SQL instead of running it."""
    migrate = current_app.extensions["migrate"]
    url = migrate.db.engine.url.render_as_string(hide_password=False)
    context.configure(
        url=url, target_metadata=migrate.db.metadata, literal_binds=True, render_item=render_item
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    migrate = current_app.extensions["migrate"]
    options = dict(migrate.configure_args)
    options.setdefault("process_revision_directives", skip_empty_revision)
    options.setdefault("render_item", render_item)
    with migrate.db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=migrate.db.metadata, **options)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
