"""Comments in the thread under a piece of work, their earlier wordings, files and mentions.

A thread is the comments of one subject (`subject_type`, `subject_id`): a step result, an
allocation, an installment, an evaluation or a project. Nothing is deleted: an edit keeps the
earlier text as a revision, a withdrawn comment stays (shown as withdrawn, its text hidden)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.core.db import Base, UTCDateTime, utcnow
from service.org.models import User

#: The kinds of work a thread hangs under (their workflow names).
SUBJECT_TYPES = ("step_result", "allocation", "installment", "evaluation", "project")


class Comment(Base):
    __tablename__ = "comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    body: Mapped[str] = mapped_column(Text)
    # The transition whose reason opened the thread ("step_result.return"), else empty.
    opened_by: Mapped[str] = mapped_column(String(64), default="")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    author: Mapped[User] = relationship(foreign_keys=[author_id])
    withdrawn_by: Mapped[User | None] = relationship(foreign_keys=[withdrawn_by_id])
    revisions: Mapped[list[CommentRevision]] = relationship(
        order_by="CommentRevision.revision", back_populates="comment"
    )
    attachments: Mapped[list[CommentAttachment]] = relationship(
        order_by="CommentAttachment.id", back_populates="comment"
    )

    __table_args__ = (
        CheckConstraint(
            "subject_type IN ('step_result', 'allocation', 'installment', 'evaluation', 'project')",
            name="subject_known",
        ),
        CheckConstraint("length(body) > 0", name="body_given"),
        CheckConstraint("revision >= 1", name="revision_positive"),
        Index("ix_comment_subject", "subject_type", "subject_id", "id"),
    )


class CommentRevision(Base):
    """A comment's text as it stood before an edit (revision n was replaced by n + 1)."""

    __tablename__ = "comment_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comment.id"))
    revision: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    comment: Mapped[Comment] = relationship(back_populates="revisions")

    __table_args__ = (UniqueConstraint("comment_id", "revision"),)


class CommentAttachment(Base):
    """A file of a comment, checked and stored as evidence files are (random name, outside
    the web root, served only as an attachment)."""

    __tablename__ = "comment_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comment.id"))
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    comment: Mapped[Comment] = relationship(back_populates="attachments")

    __table_args__ = (CheckConstraint("size >= 0", name="size_not_negative"),)


class CommentMention(Base):
    """A person @mentioned in a comment, told once (in the revision that first named them)."""

    __tablename__ = "comment_mention"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comment.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    revision: Mapped[int] = mapped_column(Integer)

    user: Mapped[User] = relationship()

    __table_args__ = (
        UniqueConstraint("comment_id", "user_id"),
        Index("ix_comment_mention_comment_revision", "comment_id", "revision"),
    )
