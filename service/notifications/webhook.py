"""Webhooks: a notification POSTed as JSON to a unit's endpoint (to forward to a chat tool),
signed with the endpoint's secret so the receiver can tell it came from us."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from typing import Any

from service.notifications.mail import DeliveryError

SIGNATURE_HEADER = "X-Tidtam-Signature"
DELIVERY_HEADER = "X-Tidtam-Delivery"


def signature(secret: str, body: bytes) -> str:
    """ "sha256=" and the hex HMAC-SHA256 of `body` under `secret` (GitHub's scheme)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(
    url: str, secret: str, document: dict[str, Any], delivery_key: str, timeout: float
) -> None:
    """POST `document` as JSON to `url`, signed. The delivery key goes along so a receiver
    can drop a repeat. Raises DeliveryError for a network error or a non-2xx answer."""
    if not url.startswith(("http://", "https://")):
        raise DeliveryError(f"webhook URL {url!r} is not http(s)")
    body = json.dumps(document, ensure_ascii=False, sort_keys=True).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Tidtam-Webhook/1",
            SIGNATURE_HEADER: signature(secret, body),
            DELIVERY_HEADER: delivery_key,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as error:
        raise DeliveryError(f"webhook {url}: HTTP {error.code}") from error
    except (urllib.error.URLError, OSError) as error:
        raise DeliveryError(f"webhook {url}: {error}") from error
