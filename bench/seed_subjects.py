"""Fill the service's database with COUNT study subjects, through the CSV import.

``IDM_SETTINGS=… python -m bench.seed_subjects COUNT`` builds the service
as gunicorn will (same settings file), creates the first admin
(bench/seed.py), writes a CSV file of COUNT subjects and runs
``flask subjects import`` on it, the command study staff run, so the rows
are what the service's own rules let in (and the import's speed is
measured on the way). Names are random but repeatable; a few share one
name, as people do. On PostgreSQL it then runs ``VACUUM ANALYZE``, which
autovacuum would do in a while: the planner's statistics, and the
visibility map that lets a deep page be read from the index alone.

Prints JSON for the runner: an admin token, the count, the import's seconds.
"""

import json
import random
import string
import sys
import tempfile
import time
from pathlib import Path

import flask_migrate
from sqlalchemy import text

from idm import create_app
from idm.models import db

from .seed import seed

FIRST_NAMES = ["Anna", "Ben", "Carla", "Dario", "Eva", "Felix", "Gül", "Hugo", "Ines", "Jonas"]


def write_csv(path, count):
    chance = random.Random(count)  # noqa: S311 - test data: the same file for the same count
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("sssid,name,bday,email\n")
        for number in range(count):
            family = "".join(chance.choices(string.ascii_lowercase, k=8)).title()
            name = f"{chance.choice(FIRST_NAMES)} {family}"
            year, month, day = chance.randint(30, 99), chance.randint(1, 12), chance.randint(1, 28)
            bday = f"19{year}-{month:02d}-{day:02d}"
            out.write(f"S-{number:06d},{name},{bday},p{number}@example.org\n")


def import_subjects(app, count):
    with tempfile.TemporaryDirectory(prefix="idm-bench-subjects-") as tmp:
        path = Path(tmp) / "subjects.csv"
        write_csv(path, count)
        started = time.monotonic()
        result = app.test_cli_runner().invoke(args=["subjects", "import", str(path)])
        seconds = time.monotonic() - started
    if result.exit_code != 0:
        raise SystemExit(f"the import failed: {result.output}")
    return seconds


def vacuum():
    if db.engine.dialect.name == "postgresql":
        # The session's transaction would hold back the visibility map: end it first.
        db.session.remove()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))


if __name__ == "__main__":
    count = int(sys.argv[1])
    app = create_app()
    with app.app_context():
        flask_migrate.upgrade()  # the schema as an operator makes it
        answer = seed(1)  # the admin only
        seconds = import_subjects(app, count)
        vacuum()
        db.engine.dispose()
    token = answer["admin_token"]
    print(json.dumps({"admin_token": token, "subjects": count, "import_seconds": seconds}))
