"""The org tree, users, their roles in units, and delegations."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false

from service.core.db import Base, Money, UTCDateTime, enum_column, utcnow


class UnitKind(enum.StrEnum):
    ADMINISTRATION = "administration"
    DISTRICT_OFFICE = "district_office"
    DEPARTMENT = "department"
    DIVISION = "division"
    SCHOOL_NETWORK = "school_network"
    SCHOOL = "school"


class Role(enum.StrEnum):
    SCHOOL = "school"
    OFFICER = "officer"
    APPROVER = "approver"
    EVALUATOR = "evaluator"
    ADMIN = "admin"


class OrgUnit(Base):
    """A node of the org tree. `path` is the materialised chain of ids ("/1/4/9/"), so a
    subtree is one indexed prefix match instead of a recursive walk."""

    __tablename__ = "org_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    kind: Mapped[UnitKind] = mapped_column(enum_column(UnitKind, "unit_kind"))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_th: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str] = mapped_column(String(255), default="")
    path: Mapped[str] = mapped_column(String(255), default="/", index=True)
    # Above this amount an officer's approval is not enough (None: the parent's limit applies).
    approval_limit: Mapped[Decimal | None] = mapped_column(Money)
    approvals_required: Mapped[int | None] = mapped_column(Integer)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[OrgUnit]] = relationship(back_populates="parent")

    __table_args__ = (
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
        CheckConstraint("approval_limit IS NULL OR approval_limit >= 0", name="limit_not_negative"),
        CheckConstraint(
            "approvals_required IS NULL OR approvals_required BETWEEN 1 AND 5",
            name="approvals_required_range",
        ),
    )

    def name(self, lang: str = "th") -> str:
        return self.name_en if lang == "en" and self.name_en else self.name_th

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part]

    def __repr__(self) -> str:
        return f"<OrgUnit {self.code} {self.name_th}>"


class User(UserMixin, Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(2), default="th")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    phone: Mapped[str] = mapped_column(String(64), default="")
    # Bumped at password change, reset and deactivation: every session of the person and
    # every device remembered for the second factor stops working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    # Set by an admin's temporary password: no page opens until the person chooses their own.
    password_must_change: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # What the identity provider calls this person (the OIDC_IDENTITY_CLAIM's value: a
    # verified e-mail or a citizen id); None until the first single sign-on or an admin links it.
    sso_identity: Mapped[str | None] = mapped_column(String(255), unique=True)
    # The TOTP secret, kept once the person proved they enrolled it: encrypted (a Fernet token,
    # service/auth/second_factor.seal_secret), never the base32 secret itself.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The 30 s step of the last code accepted: a code seen once is not accepted again.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user", foreign_keys="RoleAssignment.user_id"
    )

    #: The key of the browser session this object was read for (service.auth.sessions); not
    #: a column.
    session_key = ""

    __table_args__ = (
        CheckConstraint("language IN ('th', 'en')", name="language_known"),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
    )

    @property
    def is_active(self) -> bool:  # flask-login asks this
        return self.active

    def get_id(self) -> str:
        # The cookie names the person, their session generation and the server-side session
        # row (service.auth.sessions); the row's key is set when the session starts.
        return f"{self.id}:{self.session_version}:{self.session_key}"

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class RoleAssignment(Base):
    """User × role × unit; a user may hold several."""

    __tablename__ = "role_assignment"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    # The head of the unit receives escalations.
    is_head: Mapped[bool] = mapped_column(Boolean, default=False)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="roles", foreign_keys=[user_id])
    unit: Mapped[OrgUnit] = relationship()

    __table_args__ = (
        UniqueConstraint("user_id", "role", "unit_id"),
        Index("ix_role_assignment_unit_role", "unit_id", "role"),
    )


class Delegation(Base):
    """`delegate` may act for `principal` from `starts_on` to `ends_on` (Bangkok days)."""

    __tablename__ = "delegation"

    id: Mapped[int] = mapped_column(primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    delegate_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    principal: Mapped[User] = relationship(foreign_keys=[principal_id])
    delegate: Mapped[User] = relationship(foreign_keys=[delegate_id])

    __table_args__ = (
        CheckConstraint("starts_on <= ends_on", name="period_ordered"),
        CheckConstraint("principal_id <> delegate_id", name="not_to_self"),
    )
