"""The strategy tree: ยุทธศาสตร์ ๗ → ๗.๒ → ๗.๒.๒ → ๗.๒.๒.๒, codes stored with Arabic digits."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.core.db import Base


class StrategyNode(Base):
    __tablename__ = "strategy_node"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("strategy_node.id"))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    level: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Text)

    parent: Mapped[StrategyNode | None] = relationship(remote_side=[id])

    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 8", name="level_range"),)

    def __repr__(self) -> str:
        return f"<StrategyNode {self.code}>"
