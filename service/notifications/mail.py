"""Mail over SMTP: a notification or a digest rendered in the recipient's language from
templates/mail/, sent through one connection per batch."""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate
from types import TracebackType
from typing import Any

from flask import current_app

from service.core.translate import gettext as _
from service.core.translate import in_language
from service.notifications.messages import subject, summary
from service.notifications.operations import Delivery


class DeliveryError(RuntimeError):
    """A mail or webhook could not be delivered now; the message says why."""


def _render(template: str, **context: Any) -> str:
    # The Jinja environment directly: mails are rendered by workers, outside any request.
    return current_app.jinja_env.get_template(template).render(**context)


def _language(lang: str) -> str:
    return "en" if lang == "en" else "th"


def _digest_subject(count: int, lang: str) -> str:
    with in_language(lang):
        return _("Tidtam: your daily digest of %(count)s notifications", count=count)


def _settings_link() -> str:
    return current_app.config.get("PUBLIC_URL", "").rstrip("/") + "/notifications/settings"


def _compose(
    to_name: str, to_email: str, lang: str, message_id: str, subject: str, body: str
) -> Message:
    # email.mime with Header, not EmailMessage: the modern policy folds a long Thai subject
    # into encoded words ten times slower (45 ms a mail), which would bound the throughput.
    message = MIMEText(body, "plain", "utf-8")
    # The Header itself, named: folded as the first line goes on after "Subject: ". Its
    # encode() alone folds as if the line were empty, leaving "Subject:" bare and the
    # subject read back with a leading space.
    message["Subject"] = Header(subject, "utf-8", header_name="Subject")  # type: ignore[assignment]
    message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = formataddr((to_name, to_email), charset="utf-8")
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id
    message["Content-Language"] = lang
    message["Auto-Submitted"] = "auto-generated"
    return message


def notification_mail(delivery: Delivery, words: dict[str, str]) -> Message:
    """The mail for one notification, in its recipient's language, with its stable
    Message-ID."""
    lang = _language(delivery.language)
    message = _compose(
        delivery.recipient_name,
        delivery.recipient_email,
        lang,
        delivery.message_id,
        subject(delivery.kind, delivery.payload, words, lang),
        _render(
            f"mail/notification.{lang}.txt",
            name=delivery.recipient_name,
            line=summary(delivery.kind, delivery.payload, words, lang),
            link=words.get("link", ""),
            settings_link=_settings_link(),
        ),
    )
    message["X-Tidtam-Delivery"] = delivery.delivery_key
    return message


def digest_mail(digest: Delivery, items: Sequence[tuple[Delivery, dict[str, str]]]) -> Message:
    """One mail listing every notification the `digest` row carries, in its recipient's
    language, with the digest's own stable Message-ID and delivery key."""
    lang = _language(digest.language)
    count = len(items)
    lines = [
        {"line": summary(d.kind, d.payload, words, lang), "link": words.get("link", "")}
        for d, words in items
    ]
    message = _compose(
        digest.recipient_name,
        digest.recipient_email,
        lang,
        digest.message_id,
        _digest_subject(count, lang),
        _render(
            f"mail/digest.{lang}.txt",
            name=digest.recipient_name,
            count=count,
            items=lines,
            settings_link=_settings_link(),
        ),
    )
    message["X-Tidtam-Delivery"] = digest.delivery_key
    return message


class Mailer:
    """One SMTP connection (MAIL_SERVER:MAIL_PORT, STARTTLS and login when configured),
    opened on the first mail and closed on exit. A failure closes it, so the next mail
    starts afresh."""

    def __init__(self) -> None:
        config = current_app.config
        self.host = config["MAIL_SERVER"]
        self.port = int(config["MAIL_PORT"])
        self.timeout = float(config.get("MAIL_TIMEOUT", 20))
        self.use_tls = bool(config.get("MAIL_USE_TLS"))
        self.username = config.get("MAIL_USERNAME", "")
        self.password = config.get("MAIL_PASSWORD", "")
        self._smtp: smtplib.SMTP | None = None

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.use_tls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password)
            self._smtp = smtp
        return self._smtp

    def send(self, message: Message) -> None:
        """Send `message`. Raises DeliveryError when the server cannot be reached or refuses."""
        try:
            self._connection().send_message(message)
        except (smtplib.SMTPException, OSError) as error:
            self.drop()
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {error}") from error

    def close(self) -> None:
        """End the session politely (QUIT): only between messages."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def drop(self) -> None:
        """Close the socket without QUIT. A message interrupted in the middle (a timeout, the
        task stopped because the broker went away) must not be completed by the server while
        a QUIT waits for its answer: its sender will not record it as sent, and it would be
        sent again."""
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        if _type is None:
            self.close()
        else:
            self.drop()
