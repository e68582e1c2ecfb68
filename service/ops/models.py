"""What the workers leave behind for the health view: a heartbeat row per worker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from service.core.db import Base, UTCDateTime, utcnow


class WorkerHeartbeat(Base):
    """A worker's last sign of life, written by the `tidtam.health` task beat sends every
    minute: it reaches the health view whatever the broker (kombu's SQLAlchemy transport
    cannot broadcast a ping)."""

    __tablename__ = "worker_heartbeat"

    worker: Mapped[str] = mapped_column(String(255), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
