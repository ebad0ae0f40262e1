"""GET /users' total: read from user_count, which triggers on users keep right.

The ``app`` fixture makes its tables with db.create_all(), so these are the
triggers models.py attaches; the migration's own are held to the same SQL
in test_migrations.py, and test_live.py races them through gunicorn.
"""

import pytest
from conftest import ADMIN, USER, json_error
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from bench.seed import insert_users
from idm import clock
from idm.models import User, UserCount, db, new_id
from idm.validation import username_key


def counter_and_rows(app):
    """(what user_count says, how many rows users has)."""
    with app.app_context():
        counted = db.session.scalar(select(UserCount.n))
        rows = db.session.scalar(select(func.count()).select_from(User))
        db.session.rollback()
    return counted, rows


def total(client, headers, query=""):
    response = client.get("/users" + query, headers=headers)
    assert response.status_code == 200, response.json
    return response.json["total"]


def user_rows(names):
    now = clock.now()
    return [
        {"id": new_id(), "username": name, "username_key": username_key(name)}
        | {"password_hash": "x", "admin": False, "created": now, "changed": now}
        for name in names
    ]


def test_a_new_database_counts_no_users(app):
    assert counter_and_rows(app) == (0, 0)


def test_total_follows_creates_and_deletes(app, client, admin_headers):
    assert total(client, admin_headers) == 1

    for name in ("bob@example.org", "carol@example.org"):
        new = {"username": name, "password": "a good long password"}
        assert client.post("/user", json=new, headers=admin_headers).status_code == 201
    assert total(client, admin_headers) == 3
    assert counter_and_rows(app) == (3, 3)

    gone = client.delete("/user", json={"username": "bob@example.org"}, headers=admin_headers)
    assert gone.status_code == 204
    assert total(client, admin_headers) == 2
    assert counter_and_rows(app) == (2, 2)


def test_refused_changes_leave_the_count_alone(app, client, user, admin_headers):
    before = counter_and_rows(app)
    assert before == (2, 2)

    taken = {"username": USER[0].upper(), "password": "another good password"}
    json_error(client.post("/user", json=taken, headers=admin_headers), 409)
    weak = {"username": "weak@example.org", "password": "short"}
    json_error(client.post("/user", json=weak, headers=admin_headers), 400)
    last_admin = client.delete("/user", json={"username": ADMIN[0]}, headers=admin_headers)
    json_error(last_admin, 409)
    unknown = client.delete("/user", json={"username": "nobody@example.org"}, headers=admin_headers)
    json_error(unknown, 404)

    assert counter_and_rows(app) == before
    assert total(client, admin_headers) == 2


def test_bulk_inserts_and_deletes_outside_the_service_are_counted(app, client, admin_headers):
    """bench/seed.py's bulk insert, one many-row INSERT, a plain executemany
    (one INSERT per row on psycopg), an operator's DELETE."""
    with app.app_context():
        insert_users(2_500, "not a real hash")
        with db.engine.begin() as connection:
            names = [f"extra{number}@example.net" for number in range(300)]
            connection.execute(insert(User.__table__).values(user_rows(names)))
            names = [f"extra{number}@example.com" for number in range(100)]
            connection.execute(insert(User.__table__), user_rows(names))
        assert counter_and_rows(app) == (2_901, 2_901)

        with db.engine.begin() as connection:
            connection.execute(delete(User).where(User.username.like("extra%")))
            connection.execute(text("DELETE FROM users WHERE username LIKE 'user0001%'"))

    assert counter_and_rows(app) == (2_401, 2_401)
    assert total(client, admin_headers) == 2_401


def test_search_counts_the_matches(app, client, admin_headers):
    with app.app_context():
        insert_users(1_200, "not a real hash")

    assert total(client, admin_headers, "?search=user0001") == 100  # user000100 … user000199
    assert total(client, admin_headers, "?search=USER00002") == 10
    assert total(client, admin_headers, "?search=example.org") == 1
    assert total(client, admin_headers, "?search=nobody") == 0
    assert total(client, admin_headers) == 1_201


def test_the_unfiltered_total_is_the_counter_not_a_count(app, client, user, admin_headers):
    """Pins the design: the plain list reads user_count, a search counts rows.

    With the counter set wrong on purpose, the plain total shows the wrong
    value, which a return to count(*) (a scan of the whole table on
    PostgreSQL) would not; the search, which must count, still shows the truth.
    """
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("UPDATE user_count SET n = 1000"))

    assert total(client, admin_headers) == 1000
    assert total(client, admin_headers, "?search=example.org") == 2
    assert total(client, admin_headers, "?perpage=1&offset=1") == 1000


def test_only_one_counter_row_can_exist(app):
    second_row = text("INSERT INTO user_count (id, n) VALUES (2, 0)")
    with app.app_context():
        with pytest.raises(IntegrityError, match="one_row"), db.engine.begin() as connection:
            connection.execute(second_row)
        assert counter_and_rows(app) == (0, 0)


# These two are about PostgreSQL's statement triggers; SQLite has row triggers.
postgresql_only = pytest.mark.parametrize(
    "database_uri", [pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True
)


@postgresql_only
def test_truncate_counts_zero(app, client):
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
        insert_users(50, "not a real hash")
        with db.engine.begin() as connection:
            connection.execute(text("TRUNCATE users CASCADE"))

    assert counter_and_rows(app) == (0, 0)


@postgresql_only
def test_a_statement_that_changes_no_user_does_not_lock_the_counter(app):
    """Statement triggers fire for zero rows too (a refused last-admin delete,
    an INSERT … ON CONFLICT DO NOTHING): they must not hold the counter row,
    or every user creation would wait for that transaction to end."""
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
        idle = db.engine.connect()
        idle.begin()
        idle.execute(delete(User).where(User.username == "nobody@example.org"))
        try:
            with db.engine.begin() as connection:
                connection.execute(text("SET LOCAL lock_timeout = '2s'"))
                connection.execute(insert(User.__table__).values(user_rows(["x@example.org"])))
        except OperationalError as error:
            pytest.fail(f"the insert waited for the counter row: {error}")
        finally:
            idle.rollback()
            idle.close()

    assert counter_and_rows(app) == (1, 1)
