"""page sessions kept in the database

Revision ID: ff4c774f5c79
Revises: 79f102aab640
Create Date: 2026-12-04 22:40:42.856678

The pages' sessions move from the signed cookie into this table
(idm/page_sessions.py). Cookies of the earlier kind hold no session secret,
so whoever was signed in to the admin pages signs in once more.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "ff4c774f5c79"
down_revision = "79f102aab640"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "page_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("expires", sa.DateTime(), nullable=False),
        sa.Column("ended_reason", sa.String(length=100), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_page_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_page_sessions")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_page_sessions_secret_hash")),
    )
    with op.batch_alter_table("page_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_page_sessions_expires"), ["expires"], unique=False)
        batch_op.create_index(batch_op.f("ix_page_sessions_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("page_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_page_sessions_user_id"))
        batch_op.drop_index(batch_op.f("ix_page_sessions_expires"))

    op.drop_table("page_sessions")
