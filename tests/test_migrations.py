"""The schema comes from migrations/: it builds from nothing and matches the models.

The ``app`` fixture creates tables straight from the models (fast); these
tests prove that ``flask db upgrade`` builds the same schema on SQLite and
PostgreSQL. After a change to idm/models.py they fail until
``make migration m="…"`` has written the revision that goes with it.
"""

import logging
import os
import secrets

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import FAST_HASH, upgrade_schema
from sqlalchemy import inspect, text

from idm import create_app, schema
from idm.models import db


def bare_app(database_uri):
    """An app on *database_uri* with no tables made for it."""
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-" + secrets.token_hex(16),
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "IDM_PASSWORD_HASH_METHOD": FAST_HASH,
        }
    )


def pending_changes(app):
    """What autogenerate would write into a new revision: [] when in agreement."""
    options = dict(app.extensions["migrate"].configure_args, target_metadata=db.metadata)
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=options)
        return compare_metadata(context, db.metadata)


def assert_models_match_migrations(app):
    changes = pending_changes(app)
    assert changes == [], (
        "idm/models.py and migrations/ disagree; write the missing revision with "
        f'make migration m="what changed" (autogenerate would write: {changes})'
    )


def table_names():
    with db.engine.connect() as connection:
        return set(inspect(connection).get_table_names())


def test_upgrade_from_empty_matches_the_models(database_uri):
    app = bare_app(database_uri)
    with app.app_context():
        assert not table_names() & set(db.metadata.tables)

        flask_migrate.upgrade()

        assert set(db.metadata.tables) <= table_names()
        assert_models_match_migrations(app)
        with db.engine.connect() as connection:
            assert schema.applied_revisions(connection) == schema.expected_revisions()
        db.engine.dispose()


def test_downgrade_to_nothing_and_up_again(database_uri):
    app = bare_app(database_uri)
    with app.app_context():
        flask_migrate.upgrade()
        flask_migrate.downgrade(revision="base")
        assert not table_names() & set(db.metadata.tables)

        flask_migrate.upgrade()
        assert_models_match_migrations(app)
        db.engine.dispose()


def test_compare_notices_a_model_the_migrations_lack(database_uri):
    """The agreement check above can fail: a table only in the models is found."""
    app = bare_app(database_uri)
    with app.app_context():
        flask_migrate.upgrade()
        with db.engine.begin() as connection:
            connection.execute(text("DROP TABLE setup"))
        changes = pending_changes(app)
        db.engine.dispose()
    added = [change[1].name for change in changes if change[0] == "add_table"]
    assert added == ["setup"]


def test_flask_db_upgrade_command_builds_the_schema(database_uri, tmp_path):
    """What the operator runs, as a separate process with a settings file."""
    settings = tmp_path / "settings.py"
    settings.write_text(
        f"SECRET_KEY = {secrets.token_hex(32)!r}\nSQLALCHEMY_DATABASE_URI = {database_uri!r}\n"
        "IDM_PUBLIC_URL = 'https://idm.example.org'\n"
    )
    upgrade_schema(dict(os.environ, IDM_SETTINGS=str(settings)))

    app = bare_app(database_uri)
    with app.app_context():
        assert_models_match_migrations(app)
        db.engine.dispose()


def test_start_up_without_schema_says_what_to_run(database_uri, caplog):
    with caplog.at_level(logging.WARNING, logger="idm"):
        app = bare_app(database_uri)
    lines = [r.getMessage() for r in caplog.records if "flask --app app db upgrade" in r.message]
    assert lines == ["database schema missing: " + schema.UPGRADE_HINT]
    with app.app_context():
        db.engine.dispose()


def test_start_up_on_an_old_revision_says_what_to_run(database_uri, caplog):
    with bare_app(database_uri).app_context():
        flask_migrate.upgrade()
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'older'"))
        db.engine.dispose()

    with caplog.at_level(logging.WARNING, logger="idm"):
        app = bare_app(database_uri)
    (line,) = [r.getMessage() for r in caplog.records if "revision" in r.message]
    head = ", ".join(sorted(schema.expected_revisions()))
    assert line.startswith(f"database schema is at revision older, this code expects {head}")
    with app.app_context():
        db.engine.dispose()


def test_start_up_with_the_database_down_still_builds_the_app(caplog, tmp_path):
    """/status then answers 503, which is what a load balancer must see."""
    unreachable = f"sqlite:///{tmp_path / 'no-such-dir' / 'idm.sqlite'}"
    with caplog.at_level(logging.ERROR, logger="idm"):
        app = bare_app(unreachable)
    assert any("database unreachable at start-up" in r.message for r in caplog.records)
    assert app.test_client().get("/status").status_code == 503
