"""What a gunicorn worker imports at start: every module costs memory in every
worker (docs/performance.md, the 60 MiB per worker target).

The probe builds the app as a worker does (``import app`` with a production
settings file) and runs one round of its mail sender over an empty outbox,
as post_worker_init starts it; then it lists the modules it was told to
look for.
"""

import os
import secrets
import subprocess
import sys

from conftest import ROOT, upgrade_schema

PROBE = """
import sys
import app
from idm.mail import sender
sender.Sender(app.app).send_round()
wanted = sys.argv[1:]
print(sorted(m for m in sys.modules if any(m == w or m.startswith(w + ".") for w in wanted)))
"""


def worker_modules(tmp_path, database_uri, *packages):
    """The modules of *packages* that a freshly started worker has imported."""
    settings = tmp_path / "worker_settings.py"
    settings.write_text(
        f"SECRET_KEY = {secrets.token_hex(32)!r}\n"
        f"SQLALCHEMY_DATABASE_URI = {database_uri!r}\n"
        "IDM_PUBLIC_URL = 'https://idm.example.org'\n"
        # Production delivers to a server: the import must wait even then.
        "MAIL_SERVER = '127.0.0.1'\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env["IDM_SETTINGS"] = str(settings)
    upgrade_schema(env)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *packages], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_worker_loads_flask_mail_only_to_deliver(tmp_path, database_uri):
    """Flask-Mail and email.mime (~0.5 MiB) come with the first delivery
    (idm/mail/smtp.py); a worker with nothing to send never needs them. Its
    check of the mail server (the probe's round makes the first) needs only
    smtplib (70 KiB)."""
    heavy = ("flask_mail", "email.mime", "idm.mail.smtp")
    assert worker_modules(tmp_path, database_uri, *heavy) == "[]"


def test_a_postgresql_worker_does_not_load_sqlite(tmp_path, database_uri):
    """idm.models tunes SQLite connections without importing sqlite3 (0.9 MiB)."""
    loaded = worker_modules(tmp_path, database_uri, "sqlite3", "_sqlite3")
    if database_uri.startswith("sqlite"):
        assert loaded == "['_sqlite3', 'sqlite3', 'sqlite3.dbapi2']"  # the probe can see it
    else:
        assert loaded == "[]"
