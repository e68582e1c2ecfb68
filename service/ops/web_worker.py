"""The gunicorn worker `make web` runs: gunicorn's sync worker, except that

- a request line gunicorn refuses as too long (before the app sees the request) is answered
  in problem+json, as every other refusal of the API is, in the deployment's language, not
  with gunicorn's own English HTML page;
- once the app is loaded, what it holds for good (modules, mappers, catalogues) is moved
  out of the garbage collector's sight (`keep_loaded_app_out_of_gc`)."""

from __future__ import annotations

import gc
import socket
from typing import Any

from flask import Flask
from gunicorn import util
from gunicorn.http.errors import LimitRequestLine
from gunicorn.workers.sync import SyncWorker

from service.api.errors import problem
from service.core.translate import gettext as _
from service.core.translate import in_language


def keep_loaded_app_out_of_gc() -> None:
    """Freeze what exists now (`gc.freeze`): the loaded app's objects live as long as the
    process, yet every full collection walked all of them again, about once in 60 project
    pages, for 290 ms of one unlucky request (7 ms a page on average at 100,000 projects;
    1.5 ms with them frozen). The Python documentation's advice for a process that has
    loaded what it keeps."""
    gc.collect()
    gc.freeze()


class ProblemWorker(SyncWorker):
    def load_wsgi(self) -> None:
        super().load_wsgi()
        if isinstance(self.wsgi, Flask):
            # The app refuses what gunicorn would (service.core.input_guard): by the same limit.
            self.wsgi.config["REQUEST_LINE_LIMIT"] = self.cfg.limit_request_line
        keep_loaded_app_out_of_gc()

    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: BaseException) -> None:
        if not isinstance(exc, LimitRequestLine) or not isinstance(self.wsgi, Flask):
            super().handle_error(req, client, addr, exc)
            return
        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        app: Flask = self.wsgi
        # The request's headers were never read: the deployment's language speaks.
        language = str(app.config.get("BABEL_DEFAULT_LOCALE", "th"))
        with app.app_context(), in_language(language):
            answer = problem(
                414,
                _(
                    "The address is longer than the %(limit)s bytes this server reads.",
                    limit=self.cfg.limit_request_line,
                ),
                headers={"Content-Language": language, "Connection": "close"},
            )
        body = answer.get_data()
        head = f"HTTP/1.1 {answer.status}\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in answer.headers.items()
        )
        try:
            util.write_nonblock(client, head.encode("latin1") + b"\r\n" + body)
        except OSError:
            self.log.debug("Failed to send error message.")
