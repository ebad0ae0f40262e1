"""The database schema comes from migrations (Flask-Migrate/Alembic) only.

``flask --app app db upgrade`` creates or upgrades it; the service never
creates tables itself, so production has exactly one way to get a schema
and every change to it is a reviewed revision in ``migrations/``. At
start-up the service only checks, and tells the operator what to run.
"""

import logging
import os

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import Migrate
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from . import ROOT
from .models import User, db

log = logging.getLogger(__name__)

MIGRATIONS = os.path.join(ROOT, "migrations")
UPGRADE_HINT = "run `flask --app app db upgrade` with this service's settings"

# compare_type: autogenerate notices changed column types, not only new columns.
# render_as_batch: ALTERs work on SQLite too (copy-and-move of the table).
migrate = Migrate(directory=MIGRATIONS, compare_type=True, render_as_batch=True)


def init_app(app):
    migrate.init_app(app, db)


def expected_revisions():
    """The head revision(s) of migrations/: what this code needs."""
    return set(ScriptDirectory(MIGRATIONS).get_heads())


def applied_revisions(connection):
    """The revision(s) recorded in the database's alembic_version table."""
    return set(MigrationContext.configure(connection).get_current_heads())


def check_at_start():
    """Log one line saying what to do when the schema is missing or stale.

    Returns True when the tables exist, so that start-up code may query them.
    Never raises: a service whose database is down still starts and answers
    503 on /status, which is what a load balancer needs to see.
    """
    try:
        with db.engine.connect() as connection:
            has_tables = inspect(connection).has_table(User.__tablename__)
            applied = applied_revisions(connection)
    except SQLAlchemyError as error:
        reason = str(error).splitlines()[0]
        log.error("database unreachable at start-up (%s: %s)", type(error).__name__, reason)
        return False
    if os.environ.get("FLASK_RUN_FROM_CLI") == "true":
        # Under the flask command the operator is most likely running
        # `db upgrade` right now; telling them to run it would only confuse.
        return has_tables
    if not has_tables:
        log.error("database schema missing: %s", UPGRADE_HINT)
    elif applied and applied != expected_revisions():
        log.warning(
            "database schema is at revision %s, this code expects %s: %s",
            ", ".join(sorted(applied)),
            ", ".join(sorted(expected_revisions())),
            UPGRADE_HINT,
        )
    return has_tables
