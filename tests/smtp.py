"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for tests that
send mail from real worker processes. It can hold a message in the middle of its DATA
command, to let a test kill the sender while it sends."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ReceivedMail:
    to: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        return part.get_content() if part is not None else ""  # type: ignore[union-attr]


@dataclass
class MailSink:
    """What the server received, in order. A mail counts once the server has answered 250
    to its DATA; a client that dies before that answer delivered nothing (as with any MTA)."""

    host: str = "127.0.0.1"
    port: int = 0
    received: list[ReceivedMail] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _hold: bool = False
    holding: threading.Event = field(default_factory=threading.Event)
    dropped: threading.Event = field(default_factory=threading.Event)

    def hold_next(self) -> None:
        """Hold the next message in DATA until its sender goes away (then drop it)."""
        self._hold = True

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self._hold:
            self._hold = False
            self.holding.set()
            try:
                while True:  # until the connection is lost, which cancels this coroutine
                    await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                self.dropped.set()
                raise
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.received.append(ReceivedMail(list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    @property
    def mails(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self.received)

    def message_ids(self) -> Counter[str]:
        return Counter(mail.message_id for mail in self.mails)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[ReceivedMail]:
        """Wait until at least `count` mails arrived; return them all. Raises on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            mails = self.mails
            if len(mails) >= count:
                return mails
            time.sleep(0.05)
        raise AssertionError(f"expected {count} mails within {timeout}s, got {len(self.mails)}")

    def env(self) -> dict[str, str]:
        """Environment pointing a Tidtam process at this server."""
        return {"MAIL_SERVER": self.host, "MAIL_PORT": str(self.port)}


@contextmanager
def mail_sink() -> Iterator[MailSink]:
    """A running SMTP server on a free loopback port; stopped on exit."""
    sink = MailSink(port=free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port, ready_timeout=10)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
