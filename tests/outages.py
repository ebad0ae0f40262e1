"""Outages on purpose: the test's database made unreachable, and back again."""

from pathlib import Path

import pytest
from psycopg import sql

from idm.models import db


class SQLiteOutage:
    """The SQLite file replaced by a directory, which SQLite cannot open
    (also as root, unlike a chmod); removing the directory ends the outage."""

    def __init__(self, url):
        self.path = Path(url.database)
        self.secret = str(self.path)
        for leftover in self.path.parent.glob(self.path.name + "*"):
            leftover.unlink()
        self.path.mkdir()

    def end(self):
        self.path.rmdir()  # SQLite makes a fresh file: reachable again


class PostgresOutage:
    """The database refuses every connection, as a dead server would."""

    def __init__(self, url, cluster):
        self.name, self.cluster = url.database, cluster
        self.secret = f"{url.host}:{url.port}"
        self.allow(False)
        with cluster.admin_connection() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                [self.name],
            )

    def allow(self, allowed):
        statement = sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
            sql.Identifier(self.name), sql.Literal(allowed)
        )
        with self.cluster.admin_connection() as conn:
            conn.execute(statement)

    def end(self):
        self.allow(True)


@pytest.fixture
def database_gone(request, app):
    """Make the app's database unreachable; pooled connections go first."""
    with app.app_context():
        db.engine.dispose()
        url = db.engine.url
    if url.get_backend_name() == "sqlite":
        outage = SQLiteOutage(url)
    else:
        outage = PostgresOutage(url, request.getfixturevalue("postgres"))
    yield outage
    if isinstance(outage, PostgresOutage):
        outage.end()  # so that the database can be dropped
