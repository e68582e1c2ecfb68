"""A stand-in for api.line.me on loopback: it answers the Messaging API's push endpoint as
LINE does, and checks each request as LINE would (the path, the bearer token, a JSON body with
`to` and text messages, a retry key). A second request with a retry key it accepted already
is answered 409, as LINE does, and delivers nothing. `hold_next()` keeps the next accepted
push open (accepted, unanswered) until `release()`: a worker can be killed right there."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PUSH_PATH = "/v2/bot/message/push"


@dataclass
class Push:
    to: str
    text: str
    retry_key: str
    body: dict[str, Any]


@dataclass
class LineSink:
    token: str
    url: str = ""
    #: Pushes LINE accepted and delivered (one per retry key).
    delivered: list[Push] = field(default_factory=list)
    #: Every request that reached it, refused or repeated ones too: (path, status).
    requests: list[tuple[str, int]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    status: int = 200
    holding: threading.Event = field(default_factory=threading.Event)
    _hold: bool = False
    _release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hold_next(self) -> None:
        self._hold = True
        self._release.clear()

    def release(self) -> None:
        self._release.set()

    def env(self) -> dict[str, str]:
        return {"LINE_API_BASE_URL": self.url, "LINE_CHANNEL_ACCESS_TOKEN": self.token}

    def texts_to(self, to: str) -> list[str]:
        return [p.text for p in self.delivered if p.to == to]


@contextmanager
def line_sink(token: str = "test-channel-access-token") -> Iterator[LineSink]:
    sink = LineSink(token=token)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, document: dict[str, Any], **headers: str) -> None:
            body = json.dumps(document).encode()
            sink.requests.append((self.path, status))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            if self.path != PUSH_PATH:
                sink.problems.append(f"unexpected path {self.path}")
                return self._answer(404, {"message": "Not found"})
            if self.headers.get("Authorization") != f"Bearer {sink.token}":
                sink.problems.append(f"bad token {self.headers.get('Authorization')!r}")
                return self._answer(401, {"message": "Authentication failed"})
            try:
                document = json.loads(raw)
                to = document["to"]
                (message,) = document["messages"]
                assert message["type"] == "text" and message["text"], message
                retry_key = self.headers.get("X-Line-Retry-Key", "")
                uuid.UUID(retry_key)
            except (ValueError, KeyError, AssertionError, TypeError) as error:
                sink.problems.append(f"bad body {raw[:200]!r}: {error}")
                return self._answer(400, {"message": "The request body has 1 error(s)"})
            if sink.status != 200:
                return self._answer(sink.status, {"message": "Internal error"})
            with sink._lock:
                seen = any(p.retry_key == retry_key for p in sink.delivered)
                if not seen:
                    sink.delivered.append(Push(to, message["text"], retry_key, document))
            if seen:
                return self._answer(
                    409,
                    {"message": "The retry key is already accepted"},
                    **{"x-line-accepted-request-id": "accepted-" + retry_key[:8]},
                )
            if sink._hold:
                sink._hold = False
                sink.holding.set()
                sink._release.wait(60)  # the worker may be killed meanwhile
            return self._answer(200, {"sentMessages": [{"id": "1", "quoteToken": "q"}]})

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    sink.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        sink.release()
        server.shutdown()
        server.server_close()
