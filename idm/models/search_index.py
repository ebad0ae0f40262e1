"""Trigram indexes for searching subjects on PostgreSQL, when pg_trgm can be had.

``GET /subject?search=`` matches any part of the sssid or the name
(``LIKE '%text%'``), which no B-tree index can serve. PostgreSQL's pg_trgm
extension gives GIN indexes that can; it ships with PostgreSQL (Debian's
postgresql package) and is a trusted extension, so the database's owner
may create it without being a superuser. Where it cannot be created (not
installed, no privilege), the indexes are left out with a warning and
search reads the whole table, as on SQLite: slower, never wrong.

Not in the models' metadata, because they may or may not exist: created
after the table by ``db.create_all()`` (here) and by the migration of the
study's tables (the same SQL, frozen there), and ignored when Alembic
compares models with a database (``IGNORED_INDEXES``, idm/schema.py).
"""

from sqlalchemy import DDL, event

IGNORED_INDEXES = frozenset({"ix_subjects_sssid_trgm", "ix_subjects_search_name_trgm"})

# One DO block: a failure to create the extension is caught (PL/pgSQL runs
# the block in a subtransaction), so the surrounding migration goes on. No
# percent sign anywhere in it: DDL strings go through Python's % formatting.
CREATE = """DO $$
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


def attach(subjects_table):
    """Create the indexes after *subjects_table* (they go with it when it is dropped)."""
    event.listen(subjects_table, "after_create", DDL(CREATE).execute_if(dialect="postgresql"))
