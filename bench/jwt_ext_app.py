"""The baseline for GET /user/me: what people would build instead of this service.

A small Flask-JWT-Extended + Flask-SQLAlchemy app written the way its docs
suggest: ``@jwt_required()`` verifies the Bearer token and a
``user_lookup_loader`` loads the user row through the ORM on every request.

Served by gunicorn as ``bench.jwt_ext_app:create_app()``. Seeded, and a token
printed as JSON, by ``python -m bench.jwt_ext_app COUNT``. Both read
``BENCH_DB_URI`` and ``BENCH_SECRET_KEY`` from the environment.
"""

import json
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta

from flask import Flask
from flask_jwt_extended import JWTManager, create_access_token, current_user, jwt_required
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String, insert
from sqlalchemy.orm import Mapped, mapped_column

db = SQLAlchemy()
jwt = JWTManager()


class Account(db.Model):
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    admin: Mapped[bool] = mapped_column(default=False)
    created: Mapped[datetime]

    def to_json(self):
        return {
            "id": self.id,
            "username": self.username,
            "admin": self.admin,
            "created": self.created.isoformat(timespec="seconds"),
        }


@jwt.user_lookup_loader
def load_account(_header, claims):
    return db.session.get(Account, claims["sub"])


def create_app():
    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=os.environ["BENCH_DB_URI"],
        JWT_SECRET_KEY=os.environ["BENCH_SECRET_KEY"],
        # The whole benchmark run must fit in a token's life.
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(hours=1),
    )
    db.init_app(app)
    jwt.init_app(app)

    @app.get("/me")
    @jwt_required()
    def me():
        return {"data": current_user.to_json()}

    return app


def seed(count):
    """Insert *count* accounts; return a token for the first one."""
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        {
            "id": str(uuid.uuid4()),
            "username": f"user{number:06d}@bench.example",
            "password_hash": "not used by this benchmark",
            "admin": False,
            "created": now,
        }
        for number in range(count)
    ]
    db.create_all()
    with db.engine.begin() as connection:
        connection.execute(insert(Account.__table__), rows)
    return create_access_token(identity=rows[0]["id"])


if __name__ == "__main__":
    with create_app().app_context():
        print(json.dumps({"token": seed(int(sys.argv[1]))}))
