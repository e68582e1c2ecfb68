"""Webhooks: a notification POSTed as JSON to a unit's endpoint (to forward to a chat tool),
signed with the endpoint's secret so the receiver can tell it came from us.

An endpoint is typed by an admin, so it must not become a way into the server's own network
(server-side request forgery): an address that is or resolves to a loopback, private, shared,
link-local (the cloud metadata service at 169.254.169.254), unspecified, multicast or reserved
address is refused when the endpoint is made or changed, and again when a delivery is sent: the
connection goes only to the addresses just resolved and checked (a name whose DNS changed since
is caught), no proxy and no redirect is followed. WEBHOOK_ALLOW_PRIVATE_ADDRESSES lifts this
(tests deliver to a server on 127.0.0.1; a deployment whose chat tool is on its own network)."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from functools import partial
from typing import Any

from service.notifications.mail import DeliveryError

SIGNATURE_HEADER = "X-Tidtam-Signature"
DELIVERY_HEADER = "X-Tidtam-Delivery"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddrInfo = tuple[Any, ...]

#: Why an address is refused, in the order it is asked (the first that fits is said).
LOOPBACK = "loopback"
LINK_LOCAL = "link-local"
UNSPECIFIED = "unspecified"
MULTICAST = "multicast"
PRIVATE = "private"
RESERVED = "reserved"
NOT_PUBLIC = "not public"


class AddressRefused(DeliveryError):
    """The endpoint's host is, or resolves to, an address webhooks may not go to: `address`
    is that address, `problem` one of the words above. Nothing was sent, and trying again
    will not help until the endpoint (or its DNS) changes."""

    def __init__(self, host: str, address: str, problem: str) -> None:
        if host == address:
            message = f"webhook not sent: {address} is not a public address ({problem})"
        else:
            message = (
                f"webhook not sent: {host!r} resolves to {address},"
                f" not a public address ({problem})"
            )
        super().__init__(message)
        self.host = host
        self.address = address
        self.problem = problem


def address_problem(address: IPAddress) -> str | None:
    """Why a webhook may not go to `address` (a word above), or None for a public address.
    An IPv6 address carrying an IPv4 one (mapped, 6to4, Teredo) is judged by that too."""
    if isinstance(address, ipaddress.IPv6Address):
        for inner in (address.ipv4_mapped, address.sixtofour):
            if inner is not None and (problem := address_problem(inner)):
                return problem
        if address.teredo is not None:
            for inner in address.teredo:
                if problem := address_problem(inner):
                    return problem
    if address.is_loopback:
        return LOOPBACK
    if address.is_link_local:
        return LINK_LOCAL
    if address.is_unspecified:
        return UNSPECIFIED
    if address.is_multicast:
        return MULTICAST
    if address.is_private:
        return PRIVATE
    if address.is_reserved:
        return RESERVED
    if not address.is_global:
        return NOT_PUBLIC  # shared (100.64/10), documentation and other special ranges
    return None


def resolve(host: str, port: int, *, allow_private: bool) -> list[AddrInfo]:
    """The addresses `host` resolves to (getaddrinfo's tuples, for a TCP connection), each
    checked. Raises AddressRefused when any of them is refused (a name with one public and one
    private address is refused: which one is used is not ours to choose), DeliveryError when
    none is found (DNS may answer later)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise DeliveryError(f"webhook not sent: {host!r} does not resolve ({error})") from None
    if not found:
        raise DeliveryError(f"webhook not sent: {host!r} does not resolve")
    if not allow_private:
        for info in found:
            # A scoped IPv6 address (fe80::1%eth0) carries its zone after "%".
            text = str(info[4][0]).split("%", 1)[0]
            problem = address_problem(ipaddress.ip_address(text))
            if problem:
                raise AddressRefused(host, text, problem)
    return found


def url_problem(url: str, *, allow_private: bool) -> AddressRefused | None:
    """Why webhooks may not go to `url` (an http(s) address) as its host resolves now, or
    None. A host that does not resolve (yet) is not refused here: delivery checks again.
    Raises ValueError for an address with no host or a bad port."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)  # ValueError: a bad port
    if not host:
        raise ValueError(f"no host in {url!r}")
    if allow_private:
        return None
    try:
        resolve(host, port, allow_private=False)
    except AddressRefused as refused:
        return refused
    except DeliveryError:
        return None
    return None


def _pinned_connector(allow_private: bool) -> Callable[..., socket.socket]:
    """socket.create_connection's stand-in: resolve, check, and connect only to an address
    just checked (so a DNS answer that changes between the check and the connection cannot
    lead elsewhere)."""

    def create_connection(
        address: tuple[str, int], timeout: Any = None, source_address: Any = None
    ) -> socket.socket:
        host, port = address
        error: OSError | None = None
        for family, kind, proto, _name, sockaddr in resolve(
            host, port, allow_private=allow_private
        ):
            sock = socket.socket(family, kind, proto)
            try:
                if isinstance(timeout, int | float):
                    sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as failed:
                sock.close()
                error = failed
        raise error or OSError(f"cannot connect to {host}")

    return create_connection


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, allow_private: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _pinned_connector(allow_private)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, allow_private: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _pinned_connector(allow_private)


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, allow_private: bool) -> None:
        super().__init__()
        self.allow_private = allow_private

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = partial(_PinnedHTTPConnection, allow_private=self.allow_private)
        return self.do_open(connection, req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, allow_private: bool) -> None:
        super().__init__()
        self.allow_private = allow_private

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = partial(_PinnedHTTPSConnection, allow_private=self.allow_private)
        return self.do_open(connection, req, context=ssl.create_default_context())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is not followed (it could point anywhere): the 3xx is the answer."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _opener(allow_private: bool) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),  # the checked address is the one connected to
        _NoRedirect(),
        _PinnedHTTPHandler(allow_private),
        _PinnedHTTPSHandler(allow_private),
    )


def signature(secret: str, body: bytes) -> str:
    """ "sha256=" and the hex HMAC-SHA256 of `body` under `secret` (GitHub's scheme)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(
    url: str,
    secret: str,
    document: dict[str, Any],
    delivery_key: str,
    timeout: float,
    *,
    allow_private: bool = False,
) -> None:
    """POST `document` as JSON to `url`, signed. The delivery key goes along so a receiver
    can drop a repeat. Raises AddressRefused (nothing sent) for a host that is or resolves to
    an address webhooks may not go to (unless `allow_private`), DeliveryError for a network
    error or a non-2xx answer."""
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
        with _opener(allow_private).open(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as error:
        raise DeliveryError(f"webhook {url}: HTTP {error.code}") from error
    except urllib.error.URLError as error:
        if isinstance(error.reason, AddressRefused):
            raise error.reason from None
        raise DeliveryError(f"webhook {url}: {error}") from error
    except OSError as error:
        raise DeliveryError(f"webhook {url}: {error}") from error
