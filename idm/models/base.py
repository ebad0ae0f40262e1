"""The SQLAlchemy extension, the column types every table uses, and SQLite's tuning."""

import uuid
from datetime import UTC

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, Engine, MetaData, TypeDecorator, event

# Every constraint and index gets a predictable name, the same on SQLite and
# PostgreSQL, so a later migration can drop or alter it by name (SQLite's
# batch mode cannot touch an unnamed constraint).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite too."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        return value.replace(tzinfo=UTC) if value is not None else None


def new_id():
    return str(uuid.uuid4())


def iso(moment):
    return moment.isoformat(timespec="seconds") if moment is not None else None


@event.listens_for(Engine, "connect")
def tune_sqlite(dbapi_connection, _record):
    """WAL lets readers work while one worker writes; wait for locks; zero freed data."""
    # By module name: importing sqlite3 to ask would load it (0.9 MiB) into
    # PostgreSQL workers too.
    if type(dbapi_connection).__module__ == "sqlite3":
        cursor = dbapi_connection.cursor()
        # The timeout first: switching to WAL takes a lock, and a worker that
        # starts while another creates the schema must wait for it, not fail.
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")
        # SQLite's advice for WAL: a commit no longer waits for the disk (the
        # fsync comes at checkpoints), which was most of a login's time
        # besides the hash. The database stays intact whatever happens, and a
        # crash of the service loses nothing; a power cut or OS crash can
        # undo the last commits before it. Hosts that cannot accept that
        # run PostgreSQL (DEPLOY.md).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Freed pages and cells are overwritten with zeros, so a deleted or
        # wiped row (a delivered email, a used reset link's hash) does not
        # linger in the file or its WAL for a copy of them to find.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()
