"""The local stack's own AWS calls answered by moto in the calling thread, not over a socket.

The handlers run in the stack's process, and so does moto's server. A call from a handler went through botocore's
HTTP client, a socket, werkzeug's HTTP server and one of its threads, then moto's WSGI app, and back the same
way. Here a ``before-send`` hook on the stack's botocore sessions hands the request, as a WSGI environ, to the
same WSGI app the server runs (moto's domain dispatcher, with its per-service apps and the process's backends),
and gives botocore its response. Everything from the request's signing to the response's parsing, retries and
the stack's fault injection (``before-call`` and ``after-call`` hooks) is unchanged; only the transport is.

Requests to any other address, and every call from another process (``onboarding-local`` commands against a
``serve``, the AWS CLI, handler worker processes), still go over HTTP to the same server.
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import urlsplit

CLIENT_PREFIX = "before-send"
_lock = threading.Lock()
_current: InThreadTransport | None = None  # the running stack's, while it runs


class _Body:
    """A response body as botocore reads it (``stream()`` for streamed payloads, ``read()`` for the rest)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, *_: Any, **__: Any) -> bytes:
        data, self._data = self._data, b""
        return data

    def stream(self, **_: Any) -> Any:
        data = self.read()
        if data:
            yield data


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


class InThreadTransport:
    """Answers the requests sent to ``endpoint`` with ``app`` (moto's WSGI app) in the thread that sends them."""

    def __init__(self, app: Any, endpoint: str) -> None:
        self._pid = os.getpid()  # a forked handler worker inherits the hook, not the server: it sends over HTTP
        self._app = app
        self._prefix = endpoint.rstrip("/") + "/"

    def __call__(self, request: Any, **_: Any) -> Any:
        if os.getpid() != self._pid or not (request.url + "/").startswith(self._prefix):
            return None  # another process (a forked worker's copy of moto is not the server's), another address
        from botocore.awsrequest import AWSResponse
        from botocore.compat import HTTPHeaders
        from werkzeug.test import EnvironBuilder, run_wsgi_app

        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        elif isinstance(body, str):
            body = body.encode("utf-8")
        url = urlsplit(request.url)
        builder = EnvironBuilder(
            path=url.path or "/",
            query_string=url.query,
            method=request.method,
            base_url=f"{url.scheme}://{url.netloc}",
            headers=[(name, _text(value)) for name, value in request.headers.items()],
            data=body or b"",
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        app_iter, status, headers = run_wsgi_app(self._app, environ, buffered=True)
        try:
            data = b"".join(app_iter)
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()
        reply = HTTPHeaders()
        for name, value in headers.items():
            reply[name] = value
        return AWSResponse(request.url, int(status.split(" ", 1)[0]), reply, _Body(data))

    def attach(self, events: Any) -> None:
        """Answer the requests of the clients made from ``events`` (a botocore session's or a client's)."""
        events.register(CLIENT_PREFIX, self)

    def detach(self, events: Any) -> None:
        events.unregister(CLIENT_PREFIX, self)


def start(app: Any, endpoint: str, session_events: Any) -> InThreadTransport:
    """The running stack's transport, attached to its default session's events until ``stop``."""
    global _current
    transport = InThreadTransport(app, endpoint)
    transport.attach(session_events)
    with _lock:
        _current = transport
    return transport


def stop(transport: InThreadTransport, session_events: Any) -> None:
    global _current
    transport.detach(session_events)
    with _lock:
        if _current is transport:
            _current = None


def current() -> InThreadTransport | None:
    """The running stack's transport, for clients made outside its default session (moto's engine clients)."""
    return _current
