"""The schema comes from migrations/: it builds from nothing and matches the models.

The ``app`` fixture creates tables straight from the models (fast); these
tests prove that ``flask db upgrade`` builds the same schema on SQLite and
PostgreSQL. After a change to idm/models/ they fail until
``make migration m="…"`` has written the revision that goes with it.
"""

import logging
import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from conftest import FAST_HASH, ROOT, upgrade_schema
from sqlalchemy import inspect, text

from idm import create_app, schema
from idm.models import db, new_id
from idm.validation import username_key


def bare_app(database_uri):
    """An app on *database_uri* with no tables made for it."""
    return create_app(
        {
            "TESTING": True,
            # Long enough for any HMAC (HS512 wants 64 bytes).
            "SECRET_KEY": "test-" + secrets.token_hex(32),
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "IDM_PASSWORD_HASH_METHOD": FAST_HASH,
            "IDM_MAIL_SENDER_THREAD": False,
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
        "idm/models/ and migrations/ disagree; write the missing revision with "
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


REVISION = """\"\"\"{name}\"\"\"
from alembic import op

revision{annotation} = {revision!r}
down_revision{annotation} = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    op.execute("SELECT 1")


def downgrade():
    op.execute("SELECT 1")
"""


def test_expected_revisions_are_alembics_heads(tmp_path, monkeypatch):
    """The start-up check reads heads without Alembic; Alembic must agree,
    for plain and annotated revision files, a branch and a merge."""
    versions = tmp_path / "versions"
    versions.mkdir()
    (tmp_path / "script.py.mako").write_text("")
    layout = [("base", None, ""), ("left", "base", ""), ("right", "base", ": str")]
    layout += [("merged", ("left", "right"), ""), ("tip", "merged", ": str | None")]
    for name, down, annotation in layout:
        text_ = REVISION.format(name=name, revision=name, down=down, annotation=annotation)
        (versions / f"{name}.py").write_text(text_)
    monkeypatch.setattr(schema, "MIGRATIONS", str(tmp_path))

    assert schema.expected_revisions() == {"tip"} == set(ScriptDirectory(str(tmp_path)).get_heads())
    (versions / "tip.py").unlink()
    (versions / "other.py").write_text(
        REVISION.format(name="o", revision="other", down="left", annotation="")
    )
    assert schema.expected_revisions() == {"merged", "other"}
    assert set(ScriptDirectory(str(tmp_path)).get_heads()) == {"merged", "other"}


def test_the_shipped_migrations_heads(tmp_path):
    assert schema.expected_revisions() == set(ScriptDirectory(schema.MIGRATIONS).get_heads())


def test_a_worker_does_not_load_alembic(tmp_path):
    """gunicorn imports app:app and never migrates: Alembic's ~10 MiB stay out."""
    settings = tmp_path / "settings.py"
    settings.write_text(
        f"SECRET_KEY = {secrets.token_hex(32)!r}\n"
        f"SQLALCHEMY_DATABASE_URI = 'sqlite:///{tmp_path / 'idm.sqlite'}'\n"
        "IDM_PUBLIC_URL = 'https://idm.example.org'\n"
    )
    heavy = ("alembic", "flask_migrate", "mako")
    probe = f"import sys, app; print(sorted(m for m in sys.modules if m.startswith({heavy})))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env["IDM_SETTINGS"] = str(settings)
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# The user_count triggers (idm/models/user_count.py). Autogenerate compares no
# triggers, so these tests compare them: present at head, the same SQL as
# db.create_all() makes, and gone after a downgrade.
INITIAL = "a334d3494b43"
COUNT_TRIGGERS = {
    "sqlite": {"user_count_insert", "user_count_delete"},
    "postgresql": {"user_count_insert", "user_count_delete", "user_count_truncate"},
}


def count_triggers():
    """{trigger name: its SQL, and its function's body on PostgreSQL}, whitespace folded."""
    if db.engine.dialect.name == "sqlite":
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'users'"
    else:
        query = (
            "SELECT t.tgname, pg_get_triggerdef(t.oid) || ' ' || p.prosrc"
            " FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid"
            " WHERE t.tgrelid = 'users'::regclass AND NOT t.tgisinternal"
        )
    with db.engine.connect() as connection:
        rows = connection.execute(text(query)).all()
    return {name: " ".join(sql.split()) for name, sql in rows}


def counter_and_rows():
    with db.engine.connect() as connection:
        counted = connection.scalar(text("SELECT n FROM user_count WHERE id = 1"))
        return counted, connection.scalar(text("SELECT count(*) FROM users"))


def insert_user_rows(names):
    """Users as plain SQL adds them, with a username_key from the revision that has one."""
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [{"id": new_id(), "name": name, "now": now, "key": username_key(name)} for name in names]
    with db.engine.connect() as connection:
        keyed = "username_key" in {c["name"] for c in inspect(connection).get_columns("users")}
    columns, values = ("username_key, ", ":key, ") if keyed else ("", "")
    with db.engine.begin() as connection:
        connection.execute(
            text(
                f"INSERT INTO users (id, username, {columns}password_hash, admin, created, changed)"
                f" VALUES (:id, :name, {values}'x', false, :now, :now)"
            ),
            rows,
        )


def test_upgrade_to_head_counts_existing_users_and_keeps_counting(database_uri):
    """Users made before the counter are counted; later ones by the triggers."""
    app = bare_app(database_uri)
    with app.app_context():
        flask_migrate.upgrade(revision=INITIAL)
        insert_user_rows(["early1@example.org", "early2@example.org", "early3@example.org"])

        flask_migrate.upgrade()

        assert set(count_triggers()) == COUNT_TRIGGERS[db.engine.dialect.name]
        assert counter_and_rows() == (3, 3)
        insert_user_rows(["late@example.org"])
        with db.engine.begin() as connection:
            connection.execute(text("DELETE FROM users WHERE username LIKE 'early%'"))
        assert counter_and_rows() == (1, 1)
        db.engine.dispose()


def test_migrations_and_models_make_the_same_triggers(database_uri):
    app = bare_app(database_uri)
    with app.app_context():
        flask_migrate.upgrade()
        from_migrations = count_triggers()
        flask_migrate.downgrade(revision="base")

        db.create_all()

        assert count_triggers() == from_migrations
        assert counter_and_rows() == (0, 0)
        db.engine.dispose()


def test_downgrade_removes_the_counter_and_its_triggers(database_uri):
    app = bare_app(database_uri)
    with app.app_context():
        flask_migrate.upgrade()
        flask_migrate.downgrade(revision=INITIAL)

        assert "user_count" not in table_names()
        assert count_triggers() == {}
        insert_user_rows(["after@example.org"])  # no trigger left that needs the table
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as connection:
                functions = "SELECT count(*) FROM pg_proc WHERE proname LIKE 'user_count%'"
                assert connection.scalar(text(functions)) == 0
        db.engine.dispose()


def test_a_batch_rebuild_of_users_drops_the_triggers_on_sqlite(tmp_path):
    """Why migrations/README warns: SQLite's copy-and-move loses the triggers,
    and count_triggers(), which the head test above relies on, notices."""
    app = bare_app(f"sqlite:///{tmp_path / 'idm.sqlite'}")
    with app.app_context():
        flask_migrate.upgrade()
        with db.engine.begin() as connection:
            operations = Operations(MigrationContext.configure(connection))
            with operations.batch_alter_table("users", recreate="always"):
                pass

        assert count_triggers() == {}
        db.engine.dispose()
