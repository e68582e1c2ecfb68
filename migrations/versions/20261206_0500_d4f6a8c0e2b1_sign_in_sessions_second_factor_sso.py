"""sign-in: server-side sessions, recovery codes, TOTP, single sign-on identity, temporary passwords

Revision ID: d4f6a8c0e2b1
Revises: d4f6b8a0c2e3
Create Date: 2026-12-06 05:00:00

user_session is the server-side half of every session cookie (checked in the same statement
that reads the signed-in person); recovery_code holds one-use codes for a lost phone (hashed).
app_user gains whether the password must change at next sign-in, the identity provider's
name for the person, and the TOTP secret once enrolled.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import service.core.db

revision = "d4f6a8c0e2b1"
down_revision = "d4f6b8a0c2e3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(
            sa.Column(
                "password_must_change", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(sa.Column("sso_identity", sa.String(255), nullable=True))
        batch.add_column(sa.Column("totp_secret", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("totp_enabled_at", service.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
        batch.create_unique_constraint(op.f("uq_app_user_sso_identity"), ["sso_identity"])
    op.create_table(
        "user_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("second_factor", sa.Boolean(), nullable=False),
        sa.Column("user_agent", sa.String(255), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("created_at", service.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", service.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", service.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_user_session_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_session")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_user_session_key_hash")),
    )
    op.create_index(op.f("ix_user_session_user_id"), "user_session", ["user_id"])
    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", service.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", service.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_recovery_code_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_code")),
        sa.UniqueConstraint(
            "user_id", "code_hash", name=op.f("uq_recovery_code_user_id_code_hash")
        ),
    )
    op.create_index(op.f("ix_recovery_code_user_id"), "recovery_code", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_recovery_code_user_id"), table_name="recovery_code")
    op.drop_table("recovery_code")
    op.drop_index(op.f("ix_user_session_user_id"), table_name="user_session")
    op.drop_table("user_session")
    with op.batch_alter_table("app_user") as batch:
        batch.drop_constraint(op.f("uq_app_user_sso_identity"), type_="unique")
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_enabled_at")
        batch.drop_column("totp_secret")
        batch.drop_column("sso_identity")
        batch.drop_column("password_must_change")
