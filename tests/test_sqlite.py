"""How the service sets up each SQLite connection (idm.models.tune_sqlite)."""

import sqlite3

from idm.models import tune_sqlite


def test_each_sqlite_connection_is_tuned_for_several_workers(tmp_path):
    connection = sqlite3.connect(tmp_path / "idm.sqlite")

    tune_sqlite(connection, None)

    def pragma(name):
        return connection.execute(f"PRAGMA {name}").fetchone()[0]

    assert pragma("journal_mode") == "wal"  # readers go on while one worker writes
    assert pragma("busy_timeout") == 10_000  # wait for a lock, do not fail
    assert pragma("foreign_keys") == 1
    # NORMAL (1), not FULL (2): a commit does not wait for the disk (models.py).
    assert pragma("synchronous") == 1
    connection.close()
