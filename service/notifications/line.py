"""LINE through the official SDK (line-bot-sdk v3): push one text message to a person or a
group, and read the events of /line/webhook once their `X-Line-Signature` is checked.

Exactly once: every push carries `X-Line-Retry-Key`, a UUID derived from the notification's
delivery key. LINE delivers a retried request with the same key only once and answers the
repeat with 409, which is taken here as "already delivered". So a worker killed after LINE
accepted the push, before the row said sent, does not make the person read it twice (the
gap mail cannot close)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    MessagingApi,
    PushMessageRequest,
    TextMessage,
)

from service.notifications.mail import DeliveryError

#: The longest text LINE takes in one text message.
MAX_TEXT = 5000
#: A namespace of our own for retry keys (uuid5 of the delivery key).
RETRY_NAMESPACE = uuid.UUID("6f1d2a47-5c1e-4b6e-9a51-0c2f7b3e8d10")


@dataclass(frozen=True)
class LineSettings:
    """The deployment's LINE channel (see README: configuration)."""

    access_token: str
    channel_secret: str
    base_url: str = "https://api.line.me"
    timeout: float = 10.0

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> LineSettings:
        return cls(
            access_token=config.get("LINE_CHANNEL_ACCESS_TOKEN", ""),
            channel_secret=config.get("LINE_CHANNEL_SECRET", ""),
            base_url=config.get("LINE_API_BASE_URL", "https://api.line.me").rstrip("/"),
            timeout=float(config.get("LINE_TIMEOUT", 10)),
        )

    @property
    def configured(self) -> bool:
        return bool(self.access_token)


def retry_key(delivery_key: str) -> str:
    """The same UUID for every attempt of one delivery."""
    return str(uuid.uuid5(RETRY_NAMESPACE, delivery_key))


def push_text(settings: LineSettings, to: str, text: str, delivery_key: str) -> None:
    """Push `text` to the LINE user or group `to`. Raises DeliveryError when LINE is not set
    up, unreachable, or refuses (but for 409: the retry key was delivered already)."""
    if not settings.configured:
        raise DeliveryError("LINE is not configured (LINE_CHANNEL_ACCESS_TOKEN)")
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    configuration = Configuration(host=settings.base_url, access_token=settings.access_token)
    with ApiClient(configuration) as client:
        api = MessagingApi(client)
        try:
            api.push_message(
                PushMessageRequest(to=to, messages=[TextMessage(text=text)]),
                x_line_retry_key=retry_key(delivery_key),
                _request_timeout=settings.timeout,
            )
        except ApiException as error:
            if error.status == 409:
                return  # accepted before under this retry key: delivered once
            raise DeliveryError(f"LINE push: HTTP {error.status} {error.reason}") from error
        except Exception as error:  # urllib3's connection and timeout errors, all "later"
            raise DeliveryError(f"LINE push: {error}") from error


@dataclass(frozen=True)
class LineEvent:
    """What Tidtam reads of a webhook event: its type, where it came from, and its text."""

    type: str
    user_id: str = ""
    group_id: str = ""
    text: str = ""


def parse_events(channel_secret: str, body: str, signature: str) -> list[LineEvent]:
    """The events of a webhook body whose signature `channel_secret` made. Raises
    InvalidSignatureError (a forged or altered body, or no secret configured)."""
    if not channel_secret:
        raise InvalidSignatureError("LINE_CHANNEL_SECRET is not configured")
    events = WebhookParser(channel_secret).parse(body, signature)
    found = []
    for event in events:
        source = getattr(event, "source", None)
        message = getattr(event, "message", None)
        found.append(
            LineEvent(
                type=str(getattr(event, "type", "")),
                user_id=str(getattr(source, "user_id", "") or ""),
                group_id=str(getattr(source, "group_id", "") or ""),
                text=str(getattr(message, "text", "") or ""),
            )
        )
    return found


__all__ = [
    "InvalidSignatureError",
    "LineEvent",
    "LineSettings",
    "parse_events",
    "push_text",
    "retry_key",
]
