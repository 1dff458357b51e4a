"""The local stack's own AWS calls answered by moto in the calling thread, not over a socket.

The handlers run in the stack's process, and so does moto's server. A call from a handler went through botocore's
HTTP client, a socket, werkzeug's HTTP server and one of its threads, then moto's WSGI app, and back the same
way. Here a ``before-send`` hook on the stack's default botocore session (its handlers' clients, the stack's own,
and moto's Step Functions engine's, which are made from it) hands the request, as the WSGI environ moto's request
handler would build, to the same WSGI app the server runs (moto's domain dispatcher, with its per-service apps and
the process's backends), and gives botocore its response. An exception escaping moto's app is a 500, as
werkzeug's server answers it. Everything from the request's signing to the response's parsing, retries and the
stack's fault injection (``before-call`` and ``after-call`` hooks) is unchanged; only the transport is.

Requests to any other address, and every call from another process (``onboarding-local`` commands against a
``serve``, the AWS CLI, handler worker processes, which are forked with the hook but check the pid), still go
over HTTP to the same server. Once the stack stops, the hook answers nothing: a client kept from the stack's
session then reaches its (closed) endpoint, as it would without the hook.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import urlsplit

EVENT = "before-send"
logger = logging.getLogger(__name__)


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _preserved_header_names(environ: dict[str, Any], headers: list[tuple[str, str]]) -> None:
    """What moto's request handler (``MotoRequestHandler.make_environ``) adds: the original spelling of headers
    whose names have underscores (S3 object metadata), which a WSGI environ cannot tell from dashes."""
    from moto.core.request import (
        PRESERVED_HEADER_NAMES_ENVIRON_KEY,
        environ_key_for_header,
        should_preserve_original_header_name,
    )

    dashed = {environ_key_for_header(name) for name, _ in headers if "_" not in name}
    names: dict[str, str] = {}
    values: dict[str, list[str]] = {}
    for name, value in headers:
        key = environ_key_for_header(name)
        if should_preserve_original_header_name(name) and key not in dashed:
            names.setdefault(key, name)
            values.setdefault(key, []).append(value.replace("\r\n", ""))
    for key, joined in values.items():
        environ[key] = ",".join(joined)
    environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = names


class InThreadTransport:
    """Answers the requests sent to moto's server at ``port`` with ``app`` (its WSGI app) in the sending thread."""

    def __init__(self, app: Any, port: int) -> None:
        self._pid = os.getpid()  # a forked handler worker inherits the hook, not the server: it sends over HTTP
        self._app = app
        self._prefixes = tuple(f"http://{host}:{port}/" for host in ("127.0.0.1", "localhost"))
        self.active = True

    def __call__(self, request: Any, **_: Any) -> Any:
        if not self.active or os.getpid() != self._pid or not (request.url + "/").startswith(self._prefixes):
            return None  # stopped, another process (a forked worker's moto is a copy), or another address
        from werkzeug.exceptions import InternalServerError
        from werkzeug.test import EnvironBuilder, run_wsgi_app

        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        elif isinstance(body, str):
            body = body.encode("utf-8")
        url = urlsplit(request.url)
        headers = [(name, _text(value)) for name, value in request.headers.items()]
        builder = EnvironBuilder(
            path=url.path or "/",
            query_string=url.query,
            method=request.method,
            base_url=f"{url.scheme}://{url.netloc}",
            headers=[(name, value) for name, value in headers if "_" not in name],  # as werkzeug's server drops them
            data=body or b"",
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        _preserved_header_names(environ, headers)
        try:
            app_iter, status, reply_headers = run_wsgi_app(self._app, environ, buffered=True)
            try:
                data = b"".join(app_iter)
            finally:
                close = getattr(app_iter, "close", None)
                if close is not None:
                    close()
        except Exception:  # what werkzeug's server does with an exception from the app: log it, answer 500
            logger.exception("moto's app failed on %s %s", request.method, request.url)
            failure = InternalServerError()
            return _response(request.url, failure.code, failure.get_headers(), failure.get_body().encode())
        return _response(request.url, int(status.split(" ", 1)[0]), reply_headers.items(), data)

    def attach(self, events: Any) -> None:
        """Answer the requests of the clients made from ``events`` (a botocore session's) from now on; once only."""
        events.register(EVENT, self, unique_id=self._hook_id)

    def detach(self, events: Any) -> None:
        events.unregister(EVENT, unique_id=self._hook_id)

    @property
    def _hook_id(self) -> str:
        return f"onboarding-local-in-thread-{id(self)}"


def _response(url: str, code: int, headers: Any, body: bytes) -> Any:
    """botocore's response: the headers as received, the body as moto's own stubber gives it (a file with
    ``stream()``, read whole or in parts)."""
    from botocore.awsrequest import AWSResponse
    from botocore.compat import HTTPHeaders
    from moto.core.botocore_stubber import MockRawResponse

    received = HTTPHeaders()
    for name, value in headers:
        received[name] = value
    return AWSResponse(url, code, received, MockRawResponse(body))
