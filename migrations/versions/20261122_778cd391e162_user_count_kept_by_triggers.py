"""user count kept by triggers

Revision ID: 778cd391e162
Revises: a334d3494b43
Create Date: 2026-11-22 06:58:51.201677

``user_count`` holds the number of rows in ``users`` in one row, kept by
triggers on ``users`` (idm/user_count.py says why). The SQL is written out
here rather than imported: a revision must not change when the app's code
does. tests/test_migrations.py checks that it matches what the models make.

For authors of later revisions: on SQLite a batch migration of ``users``
(``op.batch_alter_table("users")`` whenever it has to rebuild the table:
altering or dropping a column, most constraint changes) drops these
triggers silently, and ``user_count`` then stops following ``users``. Such a
revision must create them again after the batch block, with this SQL.
tests/test_migrations.py fails when, at head, they are missing.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "778cd391e162"
down_revision = "a334d3494b43"
branch_labels = None
depends_on = None

# SQLite: row-level triggers, one counter update per row.
SQLITE = [
    """CREATE TRIGGER user_count_insert AFTER INSERT ON users
BEGIN UPDATE user_count SET n = n + 1 WHERE id = 1; END""",
    """CREATE TRIGGER user_count_delete AFTER DELETE ON users
BEGIN UPDATE user_count SET n = n - 1 WHERE id = 1; END""",
]

# PostgreSQL: statement-level triggers with transition tables, one counter
# update per statement however many rows it touched, none when it touched none.
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


def triggers():
    dialect = op.get_bind().dialect.name
    if dialect not in DROP:
        raise NotImplementedError(f"no user_count triggers written for {dialect}")
    return {"sqlite": SQLITE, "postgresql": POSTGRESQL}[dialect], DROP[dialect]


def upgrade():
    create, _ = triggers()
    op.create_table(
        "user_count",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_user_count_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_count")),
    )
    for statement in create:
        op.execute(statement)
    # Counted after the triggers exist: on PostgreSQL CREATE TRIGGER locks
    # users against writes until this migration commits, so no user added by
    # a running service meanwhile is missed or counted twice.
    op.execute("INSERT INTO user_count (id, n) SELECT 1, count(*) FROM users")


def downgrade():
    _, drop = triggers()
    for statement in drop:
        op.execute(statement)
    op.drop_table("user_count")
