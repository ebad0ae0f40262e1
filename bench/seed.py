"""Fill the service's database for a benchmark: COUNT users in seconds.

``IDM_SETTINGS=… python -m bench.seed COUNT`` builds the service exactly as
gunicorn will (same settings file), creates the first admin through the
service layer, then bulk-inserts the other users with SQLAlchemy Core
executemany, sent as multi-row INSERTs (see insert_users). Hashing 100,000
passwords with scrypt would take hours, so every bulk user shares one hash
made once by the service's own ``hash_password`` (the production method):
logging in as any of them costs a real check.

Prints JSON for the runner: an admin token, a bulk user's credentials and
the shared hash (the POST /auth ceiling checks the very same hash).
"""

import json
import secrets
import sys

import flask_migrate
from sqlalchemy import insert

from idm import clock, create_app
from idm.models import User, db, new_id
from idm.tokens import issue_access_token
from idm.users import create_first_admin, hash_password
from idm.validation import username_key

ADMIN = "admin@bench.example"
BATCH = 10_000  # rows per executemany: bounded memory, few round trips


def bulk_user_name(number):
    # Zero-padded so that ordering by username is ordering by number.
    return f"user{number:06d}@bench.example"


def insert_users(count, password_hash):
    now = clock.now()
    with db.engine.begin() as connection:
        for start in range(0, count, BATCH):
            rows = [
                {
                    "id": new_id(),
                    "username": bulk_user_name(number),
                    "username_key": username_key(bulk_user_name(number)),
                    "password_hash": password_hash,
                    "admin": False,
                    "created": now,
                    "changed": now,
                }
                for number in range(start, min(count, start + BATCH))
            ]
            # RETURNING makes SQLAlchemy send multi-row INSERTs of 1,000 rows
            # ("insertmanyvalues"); without it psycopg sends one INSERT per
            # row, and PostgreSQL's user_count trigger (idm/models/user_count.py)
            # would update its one row 100,000 times in this transaction:
            # 105 s instead of 5.
            connection.execute(insert(User.__table__).returning(User.id), rows).all()


def seed(count):
    """*count* users in all: the admin plus count - 1 bulk users."""
    password = "bench password " + secrets.token_hex(8)
    admin = create_first_admin(ADMIN, password)
    shared_hash = hash_password(password)
    insert_users(count - 1, shared_hash)
    token, _ = issue_access_token(admin)
    return {
        "admin_token": token,
        "login": {"username": bulk_user_name(0), "password": password},
        "password_hash": shared_hash,
    }


if __name__ == "__main__":
    with create_app().app_context():
        flask_migrate.upgrade()  # the schema as an operator makes it
        print(json.dumps(seed(int(sys.argv[1]))))
