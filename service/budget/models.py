"""Budget handed down: allocations to networks or schools, and installments (เงินประจำงวด)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.core.db import Base, Money, UTCDateTime, enum_column, utcnow
from service.org.models import OrgUnit, User
from service.projects.models import Project


class AllocationState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"
    DISBURSING = "disbursing"
    COMPLETED = "completed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class TransferState(enum.StrEnum):
    PREPARED = "prepared"
    ENDORSED = "endorsed"
    APPROVED = "approved"
    RETURNED = "returned"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class InstallmentState(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    PAID = "paid"
    REJECTED = "rejected"


class Allocation(Base):
    __tablename__ = "allocation"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    recipient_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    purpose: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[AllocationState] = mapped_column(
        enum_column(AllocationState, "allocation_state"), default=AllocationState.DRAFT
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Approvals count within a round; "requires changes" cancels them and opens the next round.
    approval_round: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    version: Mapped[int] = mapped_column(Integer, default=1)

    project: Mapped[Project] = relationship()
    recipient_unit: Mapped[OrgUnit] = relationship()
    installments: Mapped[list[Installment]] = relationship(
        order_by="Installment.id", back_populates="allocation"
    )

    __mapper_args__ = {"version_id_col": version}

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_allocation_project_state", "project_id", "state"),
        Index("ix_allocation_recipient_state", "recipient_unit_id", "state"),
    )


class Installment(Base):
    __tablename__ = "installment"

    id: Mapped[int] = mapped_column(primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocation.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    state: Mapped[InstallmentState] = mapped_column(
        enum_column(InstallmentState, "installment_state"), default=InstallmentState.REQUESTED
    )
    purpose: Mapped[str] = mapped_column(Text, default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    paid_on: Mapped[date | None] = mapped_column(Date)
    approval_round: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    version: Mapped[int] = mapped_column(Integer, default=1)

    allocation: Mapped[Allocation] = relationship(back_populates="installments")
    payments: Mapped[list[Payment]] = relationship(
        order_by="Payment.paid_on, Payment.id", back_populates="installment"
    )

    __mapper_args__ = {"version_id_col": version}

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("state <> 'paid' OR paid_on IS NOT NULL", name="paid_has_date"),
        Index("ix_installment_state_requested", "state", "requested_at"),
        Index("ix_installment_allocation", "allocation_id"),  # an allocation's installments
        # The requested installments of a district's allocations (/approvals): a few hundred
        # found by allocation, where (state, requested_at) walks the country's 13,000.
        Index(
            "ix_installment_requested_allocation",
            "allocation_id",
            postgresql_where=text("state = 'requested'"),
            sqlite_where=text("state = 'requested'"),
        ),
    )


class Approval(Base):
    """One approval of an allocation or installment: who, acting for whom, when, at which level,
    and the amount in force. Cancelled (never deleted) when changes are required."""

    __tablename__ = "approval"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    round: Mapped[int] = mapped_column(Integer, default=1)
    approver_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    acting_for_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    approver: Mapped[User] = relationship(foreign_keys=[approver_id])
    acting_for: Mapped[User | None] = relationship(foreign_keys=[acting_for_id])

    __table_args__ = (
        # The same level of the same round is approved once: a double click cannot count twice.
        Index(
            "uq_approval_subject_round_level",
            "subject_type",
            "subject_id",
            "round",
            "level",
            unique=True,
        ),
        CheckConstraint(
            "subject_type IN ('allocation', 'installment', 'budget_transfer')",
            name="subject_known",
        ),
        CheckConstraint("level >= 1", name="level_positive"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )


#: The characters a payment's document number may have (its column's length).
DOCUMENT_REF_LENGTH = 64


class Payment(Base):
    """One payment of an approved installment: the day, the amount and the reference of the
    document it was paid against (the government finance system's number). The payments of
    an installment never add up to more than it (service.budget.operations.record_payment,
    under the installment's row lock); the one that completes it makes it paid."""

    __tablename__ = "payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    installment_id: Mapped[int] = mapped_column(ForeignKey("installment.id"))
    paid_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    document_ref: Mapped[str] = mapped_column(String(DOCUMENT_REF_LENGTH), default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    installment: Mapped[Installment] = relationship(back_populates="payments")
    recorded_by: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_payment_installment", "installment_id"),
        Index("ix_payment_paid_on", "paid_on"),
    )


class BudgetTransfer(Base):
    """Part of one project's approved budget moved to another project of the same unit
    (โอนเปลี่ยนแปลงงบประมาณ), with a reason, through its workflow (service.budget.workflow).
    Approval moves the money; until then both budgets stand."""

    __tablename__ = "budget_transfer"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    target_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[TransferState] = mapped_column(
        enum_column(TransferState, "transfer_state"), default=TransferState.PREPARED
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approval_round: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    version: Mapped[int] = mapped_column(Integer, default=1)

    source: Mapped[Project] = relationship(foreign_keys=[source_id])
    target: Mapped[Project] = relationship(foreign_keys=[target_id])
    created_by: Mapped[User | None] = relationship()

    __mapper_args__ = {"version_id_col": version}

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("source_id <> target_id", name="two_projects"),
        CheckConstraint("state <> 'approved' OR approved_at IS NOT NULL", name="approved_has_time"),
        Index("ix_budget_transfer_source", "source_id", "state"),
        Index("ix_budget_transfer_target", "target_id", "state"),
    )
