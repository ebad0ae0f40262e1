"""The database schema comes from migrations (Flask-Migrate/Alembic) only.

``flask --app app db upgrade`` creates or upgrades it; the service never
creates tables itself, so production has exactly one way to get a schema
and every change to it is a reviewed revision in ``migrations/``. At
start-up the service only checks, and tells the operator what to run.
"""

import ast
import logging
import os
import sys
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.exc import SQLAlchemyError

from .config import ROOT
from .models import User, db
from .models.search_index import IGNORED_INDEXES

log = logging.getLogger(__name__)

MIGRATIONS = os.path.join(ROOT, "migrations")
UPGRADE_HINT = "run `flask --app app db upgrade` with this service's settings"
# Alembic records the applied revision(s) in this table (one column, version_num).
VERSION_TABLE = "alembic_version"


def init_app(app):
    """Register Flask-Migrate where migrations can run, and only there.

    Alembic (with Mako and Pygments) is about 10 MiB per process, and a
    gunicorn worker never migrates. Whatever does migrate has imported
    flask_migrate before it builds the app: the flask command loads
    Flask-Migrate's ``db`` command group first, and a script or test calls
    ``flask_migrate.upgrade()``, so it imported it.
    """
    if "flask_migrate" in sys.modules or os.environ.get("FLASK_RUN_FROM_CLI") == "true":
        from flask_migrate import Migrate

        # compare_type: autogenerate notices changed column types, not only new columns.
        # render_as_batch: ALTERs work on SQLite too (copy-and-move of the table).
        # include_object: indexes that exist only where the database allows
        # them (pg_trgm) are no difference between models and migrations.
        Migrate(
            app,
            db,
            directory=MIGRATIONS,
            compare_type=True,
            render_as_batch=True,
            include_object=include_object,
        )


def include_object(_object, name, type_, _reflected, _compare_to):
    """Whether Alembic's autogenerate compares this object (optional indexes: no)."""
    return not (type_ == "index" and name in IGNORED_INDEXES)


def expected_revisions():
    """The head revision(s) of migrations/: what this code needs.

    Read from the revision files' ``revision``/``down_revision`` lines, not
    through Alembic, so the start-up check does not load Alembic into every
    worker: a head is a revision that no other revision revises.
    """
    revisions, revised = set(), set()
    for path in Path(MIGRATIONS, "versions").glob("*.py"):
        names = revision_names(path)
        revisions.add(names["revision"])
        down = names.get("down_revision")
        revised.update(down if isinstance(down, tuple | list) else [down])
    return revisions - revised


def revision_names(path):
    """The module-level literal assignments of one revision file."""
    names = {}
    for node in ast.parse(path.read_text()).body:
        # `revision = "…"`, or `revision: str = "…"` as newer templates write it.
        if isinstance(node, ast.Assign):
            target = node.targets[0]
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target = node.target
        else:
            continue
        if isinstance(target, ast.Name):
            try:
                names[target.id] = ast.literal_eval(node.value)
            except ValueError:
                continue  # not a literal: not one of the revision identifiers
    return names


def applied_revisions(connection):
    """The revision(s) recorded in the database's alembic_version table."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return set()
    return set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


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
