"""totp_secret encrypted: each TOTP secret kept as a Fernet token, not base32

Revision ID: e7a1c3b5d9f2
Revises: d4f6a8c0e2b3
Create Date: 2026-12-06 06:40:00

app_user.totp_secret held the base32 secret itself: anyone with a copy of the database could
make every enrolled person's codes. It now holds the secret encrypted with a key derived from
SECRET_KEY by HKDF (as service/auth/second_factor.secret_box does; the derivation is copied
here so that this revision keeps working whatever that module becomes). The column widens to
hold the token; downgrade decrypts.
"""

from __future__ import annotations

import base64

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

revision = "e7a1c3b5d9f2"
down_revision = "d4f6a8c0e2b3"
branch_labels = None
depends_on = None

_users = sa.table("app_user", sa.column("id", sa.Integer), sa.column("totp_secret", sa.String))


def _box() -> Fernet:
    from flask import current_app, has_app_context

    if has_app_context():
        secret_key = current_app.config["SECRET_KEY"]
    else:  # alembic run by hand: the deployment's own configuration
        from service import create_app

        secret_key = create_app().config["SECRET_KEY"]
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"tidtam.totp-secret.v1"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _rewrite(change: str) -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_users.c.id, _users.c.totp_secret).where(_users.c.totp_secret.is_not(None))
    ).all()
    if not rows:
        return  # a new deployment: no key needed
    box = _box()
    for user_id, value in rows:
        if change == "seal":
            new = box.encrypt(value.encode()).decode()
        else:
            new = box.decrypt(value.encode()).decode()  # InvalidToken: another SECRET_KEY
        conn.execute(sa.update(_users).where(_users.c.id == user_id).values(totp_secret=new))


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.alter_column(
            "totp_secret", existing_type=sa.String(64), type_=sa.String(255), existing_nullable=True
        )
    _rewrite("seal")


def downgrade() -> None:
    _rewrite("open")
    with op.batch_alter_table("app_user") as batch:
        batch.alter_column(
            "totp_secret", existing_type=sa.String(255), type_=sa.String(64), existing_nullable=True
        )
