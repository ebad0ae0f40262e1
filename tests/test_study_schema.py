"""The study's schema from migrations: the subjects' counter, the trigram indexes, and /metrics.

tests/test_migrations.py proves that models and migrations agree on tables,
columns and indexes; triggers and the optional trigram indexes are outside
what Alembic compares, so they are compared here.
"""

import secrets

import flask_migrate
import pytest
from sqlalchemy import text
from study_helpers import STUDY_CONFIG, consented_subject, create_subject, establish, link_jwt
from study_helpers import new_link as make_link
from test_metrics import scrape, value
from test_migrations import bare_app

from idm.models import db
from idm.study import listing

STUDY_REVISION = "875840b4ef97"
BEFORE_STUDY = "79f102aab640"


@pytest.fixture
def app_config():
    return STUDY_CONFIG


def triggers_on_subjects():
    if db.engine.dialect.name == "sqlite":
        query = (
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'subjects'"
        )
    else:
        query = (
            "SELECT t.tgname, pg_get_triggerdef(t.oid) || ' ' || p.prosrc"
            " FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid"
            " WHERE t.tgrelid = 'subjects'::regclass AND NOT t.tgisinternal"
        )
    with db.engine.connect() as connection:
        return {name: " ".join(sql.split()) for name, sql in connection.execute(text(query))}


def trigram_indexes():
    with db.engine.connect() as connection:
        query = (
            "SELECT indexname FROM pg_indexes"
            " WHERE tablename = 'subjects' AND indexdef LIKE '%USING gin%'"
        )
        return set(connection.scalars(text(query)))


def insert_subjects(count, start=0):
    rows = [
        {"sssid": f"S-{n}", "name": f"Person {n}", "folded": f"person {n}"}
        for n in range(start, start + count)
    ]
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO subjects (sssid, name, search_name, bday, created, changed)"
                " VALUES (:sssid, :name, :folded, '1980-01-01', '2026-11-24', '2026-11-24')"
            ),
            rows,
        )


def counted():
    with db.engine.connect() as connection:
        return (
            connection.scalar(text("SELECT n FROM subject_count")),
            connection.scalar(text("SELECT count(*) FROM subjects")),
        )


def test_migrations_and_models_make_the_same_counter_triggers(database_uri):
    app = bare_app(database_uri)
    with app.app_context():
        flask_migrate.upgrade()
        from_migrations = triggers_on_subjects()
        insert_subjects(3)
        assert counted() == (3, 3)
        flask_migrate.downgrade(revision="base")

        db.create_all()

        assert triggers_on_subjects() == from_migrations
        assert len(from_migrations) == (2 if db.engine.dialect.name == "sqlite" else 3)
        insert_subjects(2)
        assert counted() == (2, 2)
        db.engine.dispose()


def test_downgrade_removes_the_study(database_uri):
    app = bare_app(database_uri)
    with app.app_context():
        flask_migrate.upgrade()
        flask_migrate.downgrade(revision=BEFORE_STUDY)

        with db.engine.connect() as connection:
            tables = set(db.inspect(connection).get_table_names())
            columns = {c["name"] for c in db.inspect(connection).get_columns("audit_events")}
        assert not tables & {"subjects", "links", "subject_count"}
        assert not columns & {"subject", "detail"}
        flask_migrate.upgrade()
        assert counted() == (0, 0)
        db.engine.dispose()


@pytest.mark.postgresql
def test_the_migration_makes_trigram_indexes_that_search_uses(postgres):
    """As DEPLOY.md has it: the database belongs to the service's role, no superuser."""
    role, password = "idm_" + secrets.token_hex(4), secrets.token_hex(16)
    postgres.create_role(role, password)
    name = postgres.create_database(owner=role)
    app = bare_app(postgres.uri(name, user=role, password=password))
    try:
        with app.app_context():
            flask_migrate.upgrade()

            assert trigram_indexes() == {"ix_subjects_sssid_trgm", "ix_subjects_search_name_trgm"}
            query = listing.page_query(listing.conditions("jane", None), "name", False, 0, 50)
            plan = explain(query)
            assert "Bitmap Index Scan on ix_subjects_sssid_trgm" in plan, plan
            assert "Bitmap Index Scan on ix_subjects_search_name_trgm" in plan, plan
            db.engine.dispose()
    finally:
        postgres.drop_database(name)
        postgres.drop_role(role)


@pytest.mark.postgresql
def test_without_pg_trgm_the_migration_goes_on_and_search_still_works(postgres):
    """A role that may create tables but not extensions: a warning, no index, same answers."""
    role, password = "idm_" + secrets.token_hex(4), secrets.token_hex(16)
    postgres.create_role(role, password)
    name = postgres.create_database()
    with postgres.admin_connection() as connection:
        connection.execute(f"GRANT CONNECT ON DATABASE {name} TO {role}")
    superuser = bare_app(postgres.uri(name))
    with superuser.app_context(), db.engine.begin() as connection:
        connection.execute(text(f"GRANT USAGE, CREATE ON SCHEMA public TO {role}"))
        db.engine.dispose()
    app = bare_app(postgres.uri(name, user=role, password=password))
    try:
        with app.app_context():
            flask_migrate.upgrade()

            assert trigram_indexes() == set()
            insert_subjects(2)
            views, total = listing.list_subjects(0, 50, "name", False, search="SON 1")
            assert [view.subject.sssid for view in views] == ["S-1"] and total == 1
            db.engine.dispose()
    finally:
        postgres.drop_database(name)
        postgres.drop_role(role)


def explain(statement):
    sql = str(statement.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
    with db.engine.connect() as connection:
        connection.execute(text("SET enable_seqscan = off"))
        return "\n".join(row[0] for row in connection.execute(text("EXPLAIN " + sql)))


def test_metrics_count_subjects_by_status(client, user_headers):
    consented_subject(client, user_headers)
    create_subject(client, user_headers, sssid="S-2", date_invited="2026-11-20")
    create_subject(client, user_headers, sssid="S-3")
    create_subject(client, user_headers, sssid="S-4")
    jti = make_link(client, user_headers)["_id"]
    assert establish(client, link_jwt(client, user_headers, jti)).status_code == 204

    text_ = scrape(client)

    counts = {
        status: value(text_, "idm_subjects", status=status) for status in listing.state.STATUSES
    }
    assert counts == {"pending": 2, "invited": 1, "consented": 0, "enrolled": 1, "withdrawn": 0}
