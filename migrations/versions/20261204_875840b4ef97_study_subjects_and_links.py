"""study subjects and links, subject events in the audit log

Revision ID: 875840b4ef97
Revises: 8599c2567f0d
Create Date: 2026-12-04 22:45:33.088956

A study's tables (idm/models/study.py):

* ``subjects``, one per ``sssid`` (unique), with an index per order of
  ``GET /subject`` (the column, then ``id``);
* ``links``, a subject's one-time links to the study's app, indexed by
  subject;
* ``subject_count``, the number of subjects in one row, kept by triggers on
  ``subjects`` exactly as ``user_count`` counts users (revision
  778cd391e162; idm/models/row_count.py says why);
* ``audit_events.subject`` and ``.detail``: subject and link events are
  named by the sssid and say what changed;
* on PostgreSQL, trigram indexes for searching subjects, when the pg_trgm
  extension can be created (it ships with PostgreSQL and is trusted, so the
  database's owner may); otherwise a warning, and search reads the table.

The SQL of the triggers and of the trigram indexes is written out here
rather than imported, so this revision does not change when the app's
code does; tests/test_migrations.py compares it with what the models make.
The downgrade drops the tables, the columns and the triggers; it leaves the
pg_trgm extension, which other databases' objects may use.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "875840b4ef97"
down_revision = "8599c2567f0d"
branch_labels = None
depends_on = None

COUNT_TRIGGERS = {
    "sqlite": [
        """CREATE TRIGGER subject_count_insert AFTER INSERT ON subjects
BEGIN UPDATE subject_count SET n = n + 1 WHERE id = 1; END""",
        """CREATE TRIGGER subject_count_delete AFTER DELETE ON subjects
BEGIN UPDATE subject_count SET n = n - 1 WHERE id = 1; END""",
    ],
    "postgresql": [
        """CREATE FUNCTION subject_count_add() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE added bigint;
BEGIN
    SELECT count(*) INTO added FROM added_subjects;
    IF added > 0 THEN
        UPDATE subject_count SET n = n + added WHERE id = 1;
    END IF;
    RETURN NULL;
END $$""",
        """CREATE FUNCTION subject_count_subtract() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE removed bigint;
BEGIN
    SELECT count(*) INTO removed FROM removed_subjects;
    IF removed > 0 THEN
        UPDATE subject_count SET n = n - removed WHERE id = 1;
    END IF;
    RETURN NULL;
END $$""",
        """CREATE FUNCTION subject_count_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE subject_count SET n = 0 WHERE id = 1;
    RETURN NULL;
END $$""",
        """CREATE TRIGGER subject_count_insert AFTER INSERT ON subjects
REFERENCING NEW TABLE AS added_subjects
FOR EACH STATEMENT EXECUTE FUNCTION subject_count_add()""",
        """CREATE TRIGGER subject_count_delete AFTER DELETE ON subjects
REFERENCING OLD TABLE AS removed_subjects
FOR EACH STATEMENT EXECUTE FUNCTION subject_count_subtract()""",
        """CREATE TRIGGER subject_count_truncate AFTER TRUNCATE ON subjects
FOR EACH STATEMENT EXECUTE FUNCTION subject_count_reset()""",
    ],
}
DROP_COUNT_TRIGGERS = {
    "sqlite": ["DROP TRIGGER subject_count_insert", "DROP TRIGGER subject_count_delete"],
    "postgresql": [
        "DROP TRIGGER subject_count_insert ON subjects",
        "DROP TRIGGER subject_count_delete ON subjects",
        "DROP TRIGGER subject_count_truncate ON subjects",
        "DROP FUNCTION subject_count_add()",
        "DROP FUNCTION subject_count_subtract()",
        "DROP FUNCTION subject_count_reset()",
    ],
}
# A failure to create the extension is caught inside the block, so the
# migration goes on without the indexes. The same text as idm/models/search_index.py.
TRIGRAM_INDEXES = """DO $$
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING USING MESSAGE =
            'pg_trgm unavailable, subject search reads the whole table: ' || SQLERRM;
    END;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX ix_subjects_sssid_trgm ON subjects USING gin (lower(sssid) gin_trgm_ops);
        CREATE INDEX ix_subjects_search_name_trgm ON subjects USING gin (search_name gin_trgm_ops);
    END IF;
END $$"""


def dialect():
    name = op.get_bind().dialect.name
    if name not in COUNT_TRIGGERS:
        raise NotImplementedError(f"no subject_count triggers written for {name}")
    return name


def upgrade():
    database = dialect()
    op.create_table(
        "subjects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sssid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("search_name", sa.String(length=400), nullable=False),
        sa.Column("bday", sa.Date(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("date_invited", sa.DateTime(), nullable=True),
        sa.Column("date_consented", sa.DateTime(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("changed", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subjects")),
    )
    with op.batch_alter_table("subjects", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subjects_sssid", ["sssid"], unique=True, postgresql_include=["id"]
        )
        batch_op.create_index("ix_subjects_bday_id", ["bday", "id"], unique=False)
        batch_op.create_index("ix_subjects_changed_id", ["changed", "id"], unique=False)
        batch_op.create_index("ix_subjects_created_id", ["created", "id"], unique=False)
        batch_op.create_index(
            "ix_subjects_date_consented_id", ["date_consented", "id"], unique=False
        )
        batch_op.create_index("ix_subjects_date_invited_id", ["date_invited", "id"], unique=False)
        batch_op.create_index("ix_subjects_name_id", ["name", "id"], unique=False)

    op.create_table(
        "links",
        sa.Column("jti", sa.String(length=43), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("iss", sa.Text(), nullable=False),
        sa.Column("aud", sa.Text(), nullable=False),
        sa.Column("exp", sa.DateTime(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("changed", sa.DateTime(), nullable=False),
        sa.Column("linked_to", sa.String(length=255), nullable=True),
        sa.Column("linked_system", sa.String(length=500), nullable=True),
        sa.Column("linked_on", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_on", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_links_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_links")),
    )
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.create_index(
            "ix_links_subject_id_created", ["subject_id", "created"], unique=False
        )

    op.create_table(
        "subject_count",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_subject_count_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_count")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("detail", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_events_subject"), ["subject"], unique=False)

    for statement in COUNT_TRIGGERS[database]:
        op.execute(statement)
    op.execute("INSERT INTO subject_count (id, n) SELECT 1, count(*) FROM subjects")
    if database == "postgresql":
        op.execute(TRIGRAM_INDEXES)


def downgrade():
    for statement in DROP_COUNT_TRIGGERS[dialect()]:
        op.execute(statement)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_subject"))
        batch_op.drop_column("detail")
        batch_op.drop_column("subject")

    op.drop_table("subject_count")
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.drop_index("ix_links_subject_id_created")

    op.drop_table("links")
    with op.batch_alter_table("subjects", schema=None) as batch_op:
        batch_op.drop_index("ix_subjects_name_id")
        batch_op.drop_index("ix_subjects_date_invited_id")
        batch_op.drop_index("ix_subjects_date_consented_id")
        batch_op.drop_index("ix_subjects_created_id")
        batch_op.drop_index("ix_subjects_changed_id")
        batch_op.drop_index("ix_subjects_bday_id")
        batch_op.drop_index("ix_subjects_sssid")

    # The trigram indexes, when there are any, go with the table.
    op.drop_table("subjects")
