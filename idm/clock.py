"""The one place that reads the time, so tests can move it (monkeypatch ``now``)."""

from datetime import UTC, datetime


def now():
    return datetime.now(UTC)
