"""The triggers that keep ``user_count.n`` equal to the number of rows in ``users``.

``GET /users`` promises an exact ``total``. PostgreSQL keeps no row count:
``count(*)`` must check every row's visibility, a sequential scan that took
13 ms at 100,000 users and grows with the table. So the database counts
instead, in triggers: every way of adding or removing users is counted, the
service layer, the CLI, bench/seed.py's bulk Core inserts and an operator's
SQL alike, which no counter kept in Python could promise.

- SQLite has row-level triggers only: one counter update per row.
- PostgreSQL uses statement-level triggers with transition tables, so an
  ``INSERT … SELECT`` of 100,000 rows updates the counter once, not 100,000
  times. A statement that touched no row leaves the counter row alone, so it
  does not lock it either. ``TRUNCATE`` fires no delete trigger; its own
  trigger sets the count to 0.

Bulk loads on PostgreSQL should therefore be multi-row statements
(``INSERT … VALUES (…), (…)``, ``INSERT … SELECT``, ``COPY``): a loader that
sends one INSERT per row, as psycopg's executemany does, updates the counter
once per row, and updating one row again and again in one transaction costs
more each time (100,000 such INSERTs: 105 s instead of 4; bench/seed.py).

The price: the counter row is locked from a user's insert or delete until
that transaction ends, so on PostgreSQL concurrent creations and deletions
of users commit one after the other. No deadlock with ``users.lock_admins``:
nothing that holds the counter row then waits for an admin row (a create
locks no admin row; a delete takes the admin rows first, the counter last).

The same SQL is written again, frozen, in the migration that brought it
(migrations/versions/*_user_count_kept_by_triggers.py); tests compare what
``db.create_all()`` and ``flask db upgrade`` leave behind. SQLite drops a
table's triggers when a batch migration rebuilds it: see migrations/README.
"""

from sqlalchemy import DDL, event

SQLITE = [
    """CREATE TRIGGER user_count_insert AFTER INSERT ON users
BEGIN UPDATE user_count SET n = n + 1 WHERE id = 1; END""",
    """CREATE TRIGGER user_count_delete AFTER DELETE ON users
BEGIN UPDATE user_count SET n = n - 1 WHERE id = 1; END""",
]

POSTGRESQL = [
    """CREATE FUNCTION user_count_add() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE added bigint;
BEGIN
    SELECT count(*) INTO added FROM added_users;
    IF added > 0 THEN
        UPDATE user_count SET n = n + added WHERE id = 1;
    END IF;
    RETURN NULL;
END $$""",
    """CREATE FUNCTION user_count_subtract() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE removed bigint;
BEGIN
    SELECT count(*) INTO removed FROM removed_users;
    IF removed > 0 THEN
        UPDATE user_count SET n = n - removed WHERE id = 1;
    END IF;
    RETURN NULL;
END $$""",
    """CREATE FUNCTION user_count_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE user_count SET n = 0 WHERE id = 1;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER user_count_insert AFTER INSERT ON users
REFERENCING NEW TABLE AS added_users
FOR EACH STATEMENT EXECUTE FUNCTION user_count_add()""",
    """CREATE TRIGGER user_count_delete AFTER DELETE ON users
REFERENCING OLD TABLE AS removed_users
FOR EACH STATEMENT EXECUTE FUNCTION user_count_subtract()""",
    """CREATE TRIGGER user_count_truncate AFTER TRUNCATE ON users
FOR EACH STATEMENT EXECUTE FUNCTION user_count_reset()""",
]

# After the triggers, so that (with the table locked by CREATE TRIGGER on
# PostgreSQL) no user added meanwhile is missed or counted twice.
FILL = "INSERT INTO user_count (id, n) SELECT 1, count(*) FROM users"

DROP = {
    "sqlite": ["DROP TRIGGER user_count_insert", "DROP TRIGGER user_count_delete"],
    "postgresql": [
        "DROP TRIGGER user_count_insert ON users",
        "DROP TRIGGER user_count_delete ON users",
        "DROP TRIGGER user_count_truncate ON users",
        "DROP FUNCTION user_count_add()",
        "DROP FUNCTION user_count_subtract()",
        "DROP FUNCTION user_count_reset()",
    ],
}


def attach(counter_table, users_table):
    """Create the triggers and the row with *counter_table*; drop them with it.

    For ``db.create_all()`` and ``drop_all()``; migrations run the same SQL
    themselves. The counter table is made to depend on ``users``, so that
    ``users`` exists when the triggers are created on it.
    """
    counter_table.add_is_dependent_on(users_table)
    for dialect, statements in (("sqlite", SQLITE), ("postgresql", POSTGRESQL)):
        for statement in [*statements, FILL]:
            event.listen(counter_table, "after_create", DDL(statement).execute_if(dialect=dialect))
        for statement in DROP[dialect]:
            event.listen(counter_table, "before_drop", DDL(statement).execute_if(dialect=dialect))
