"""Triggers that keep a one-row counter table equal to the number of rows of a table.

``GET /users`` and ``GET /subject`` promise an exact ``total``. PostgreSQL
keeps no row count: ``count(*)`` must check every row's visibility, a
sequential scan that took 13 ms at 100,000 users and grows with the table.
So the database counts instead, in triggers: every way of adding or
removing rows is counted, the service layer, the CLI, bench/seed.py's bulk
Core inserts and an operator's SQL alike, which no counter kept in Python
could promise. ``user_count`` counts ``users``, ``subject_count`` counts
``subjects``: the same SQL with other names.

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

The price: the counter row is locked from an insert or delete until that
transaction ends, so on PostgreSQL concurrent creations and deletions of
rows of one table commit one after the other. No deadlock with
``users.lock_admins``: nothing that holds the counter row then waits for an
admin row (a create locks no admin row; a delete takes the admin rows
first, the counter last).

The same SQL is written again, frozen, in the migrations that brought each
counter (migrations/versions/*_user_count_kept_by_triggers.py and the
revision of the study's tables); tests compare what ``db.create_all()`` and
``flask db upgrade`` leave behind. SQLite drops a table's triggers when a
batch migration rebuilds it: see migrations/README.
"""

# The SQL is built from the models' table names, never from input.
# ruff: noqa: S608

from sqlalchemy import DDL, event


def sqlite_triggers(counter, counted):
    return [
        f"""CREATE TRIGGER {counter}_insert AFTER INSERT ON {counted}
BEGIN UPDATE {counter} SET n = n + 1 WHERE id = 1; END""",
        f"""CREATE TRIGGER {counter}_delete AFTER DELETE ON {counted}
BEGIN UPDATE {counter} SET n = n - 1 WHERE id = 1; END""",
    ]


def postgresql_triggers(counter, counted):
    return [
        f"""CREATE FUNCTION {counter}_add() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE added bigint;
BEGIN
    SELECT count(*) INTO added FROM added_{counted};
    IF added > 0 THEN
        UPDATE {counter} SET n = n + added WHERE id = 1;
    END IF;
    RETURN NULL;
END $$""",
        f"""CREATE FUNCTION {counter}_subtract() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE removed bigint;
BEGIN
    SELECT count(*) INTO removed FROM removed_{counted};
    IF removed > 0 THEN
        UPDATE {counter} SET n = n - removed WHERE id = 1;
    END IF;
    RETURN NULL;
END $$""",
        f"""CREATE FUNCTION {counter}_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {counter} SET n = 0 WHERE id = 1;
    RETURN NULL;
END $$""",
        f"""CREATE TRIGGER {counter}_insert AFTER INSERT ON {counted}
REFERENCING NEW TABLE AS added_{counted}
FOR EACH STATEMENT EXECUTE FUNCTION {counter}_add()""",
        f"""CREATE TRIGGER {counter}_delete AFTER DELETE ON {counted}
REFERENCING OLD TABLE AS removed_{counted}
FOR EACH STATEMENT EXECUTE FUNCTION {counter}_subtract()""",
        f"""CREATE TRIGGER {counter}_truncate AFTER TRUNCATE ON {counted}
FOR EACH STATEMENT EXECUTE FUNCTION {counter}_reset()""",
    ]


def fill(counter, counted):
    # After the triggers, so that (with the table locked by CREATE TRIGGER on
    # PostgreSQL) no row added meanwhile is missed or counted twice.
    return f"INSERT INTO {counter} (id, n) SELECT 1, count(*) FROM {counted}"


def drops(counter, counted):
    return {
        "sqlite": [f"DROP TRIGGER {counter}_insert", f"DROP TRIGGER {counter}_delete"],
        "postgresql": [
            f"DROP TRIGGER {counter}_insert ON {counted}",
            f"DROP TRIGGER {counter}_delete ON {counted}",
            f"DROP TRIGGER {counter}_truncate ON {counted}",
            f"DROP FUNCTION {counter}_add()",
            f"DROP FUNCTION {counter}_subtract()",
            f"DROP FUNCTION {counter}_reset()",
        ],
    }


def attach(counter_table, counted_table):
    """Create the triggers and the row with *counter_table*; drop them with it.

    For ``db.create_all()`` and ``drop_all()``; migrations run the same SQL
    themselves. The counter table is made to depend on the counted one, so
    that it exists when the triggers are created on it.
    """
    counter, counted = counter_table.name, counted_table.name
    counter_table.add_is_dependent_on(counted_table)
    create = {
        "sqlite": sqlite_triggers(counter, counted),
        "postgresql": postgresql_triggers(counter, counted),
    }
    for dialect, statements in create.items():
        for statement in [*statements, fill(counter, counted)]:
            event.listen(counter_table, "after_create", DDL(statement).execute_if(dialect=dialect))
        for statement in drops(counter, counted)[dialect]:
            event.listen(counter_table, "before_drop", DDL(statement).execute_if(dialect=dialect))
