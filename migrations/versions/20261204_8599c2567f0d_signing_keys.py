"""signing keys

Revision ID: 8599c2567f0d
Revises: ff4c774f5c79
Create Date: 2026-12-04 22:43:01.819802

The table ``signing_keys`` (idm/models/keys.py): access tokens are signed
with key pairs of their own from now on, no longer with SECRET_KEY.

Tokens that the earlier version signed (HMAC with SECRET_KEY, no ``kid``)
must keep working until they expire, or the upgrade would log everyone out.
On a database that has users, this revision therefore writes generation 0,
which stands for SECRET_KEY: such tokens verify if they were issued before
its ``activates_at`` (the upgrade plus RESTART_MARGIN, for workers of the
earlier version that still run until the restart that follows the
upgrade), and not after its ``retires_at``, one token lifetime (and the
clock skew the keys allow) later. A fresh database has no such tokens and
gets no generation 0: SECRET_KEY never verifies a token there.
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import context, op
from flask import current_app

# revision identifiers, used by Alembic.
revision = "8599c2567f0d"
down_revision = "ff4c774f5c79"
branch_labels = None
depends_on = None

# Seconds between `flask db upgrade` and the restart of every worker (DEPLOY.md,
# "Upgrades"): old workers sign with SECRET_KEY until then.
RESTART_MARGIN = 600
CLOCK_SKEW = 30  # idm/keys.py
LEGACY_KID = "secret-key"


def upgrade():
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=True),
        sa.Column("private_key", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("activates_at", sa.DateTime(), nullable=False),
        sa.Column("retires_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
        sa.UniqueConstraint("generation", name=op.f("uq_signing_keys_generation")),
    )
    if context.is_offline_mode():
        raise RuntimeError("revision 8599c2567f0d reads the users table: run it online")
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM users LIMIT 1")).first() is None:
        return
    # Stored as naive UTC, as idm.models.UTCDateTime does.
    now = datetime.now(UTC).replace(tzinfo=None)
    last_signed = now + timedelta(seconds=RESTART_MARGIN)
    lifetime = current_app.config["IDM_ACCESS_TOKEN_LIFETIME"]
    keys = sa.table(
        "signing_keys",
        sa.column("kid", sa.String),
        sa.column("generation", sa.Integer),
        sa.column("algorithm", sa.String),
        sa.column("created", sa.DateTime),
        sa.column("activates_at", sa.DateTime),
        sa.column("retires_at", sa.DateTime),
    )
    bind.execute(
        keys.insert().values(
            kid=LEGACY_KID,
            generation=0,
            algorithm="HS256",
            created=now,
            activates_at=last_signed,
            retires_at=last_signed + timedelta(seconds=lifetime + CLOCK_SKEW),
        )
    )


def downgrade():
    op.drop_table("signing_keys")
