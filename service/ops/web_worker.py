"""The gunicorn worker `make web` runs: gunicorn's sync worker, except that a request line
gunicorn refuses as too long (before the app sees the request) is answered in problem+json,
as every other refusal of the API is, not with gunicorn's own HTML page."""

from __future__ import annotations

import json
import socket
from typing import Any

from gunicorn import util
from gunicorn.http.errors import LimitRequestLine
from gunicorn.workers.sync import SyncWorker


class ProblemWorker(SyncWorker):
    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: BaseException) -> None:
        if not isinstance(exc, LimitRequestLine):
            super().handle_error(req, client, addr, exc)
            return
        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        limit = self.cfg.limit_request_line
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "URI Too Long",
                "status": 414,
                "detail": f"the request line is longer than the {limit} bytes this server reads",
            }
        ).encode()
        head = (
            "HTTP/1.1 414 URI Too Long\r\nConnection: close\r\n"
            f"Content-Type: application/problem+json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:
            util.write_nonblock(client, head.encode("latin1") + body)
        except OSError:
            self.log.debug("Failed to send error message.")
