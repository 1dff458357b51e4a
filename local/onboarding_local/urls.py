"""Lambda function URLs, locally: one HTTP server on 127.0.0.1 (a free port) per function whose template
declares a ``FunctionUrlConfig``, invoking the real handler in-process (runtime.py) as a function URL does.

A request becomes Lambda's payload format 2.0 event (lowercase header names, the raw body as a string, or
base64 with ``isBase64Encoded`` when it is not UTF-8). The handler's ``{"statusCode", "headers", "body"}`` is
the response; a result without ``statusCode`` is sent as a 200 JSON body, as Lambda does. A handler that
raised is answered with 500 and its error type. Not emulated: ``AuthType: AWS_IAM`` (such a URL answers 403,
nothing here signs requests), CORS, payload limits and response streaming.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from onboarding_local.runtime import LambdaRuntime
from onboarding_local.template import Template


def request_event(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
) -> dict[str, Any]:
    """Lambda's payload format 2.0 for one request to a function URL."""
    parts = urlsplit(target)
    joined: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    cookies = [c.strip() for c in joined.pop("cookie", "").split(";") if c.strip()]
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path or "/",
        "rawQueryString": parts.query,
        "headers": joined,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": joined.get("host", ""),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": parts.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if parts.query:
        event["queryStringParameters"] = dict(parse_qsl(parts.query, keep_blank_values=True))
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


def response_of(result: Any, error_type: str | None) -> tuple[int, dict[str, str], bytes]:
    """What a function URL answers for a handler's result (or its error)."""
    if error_type is not None:
        message = result.get("errorMessage", "") if isinstance(result, dict) else ""
        body = {"errorType": error_type, "errorMessage": message}
        return 500, {"content-type": "application/json"}, json.dumps(body).encode()
    if not isinstance(result, dict) or "statusCode" not in result:
        return 200, {"content-type": "application/json"}, json.dumps(result).encode()
    raw = result.get("body") or ""
    payload = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    return int(result["statusCode"]), headers, payload


class FunctionUrls:
    """The local front of every function URL the template declares; ``urls`` maps logical name -> URL."""

    def __init__(self, template: Template, runtime: LambdaRuntime) -> None:
        self.template, self.runtime = template, runtime
        self.urls: dict[str, str] = {}
        self._servers: list[ThreadingHTTPServer] = []

    def start(self) -> FunctionUrls:
        for logical, resource in self.template.of_type("AWS::Serverless::Function").items():
            config = resource["Properties"].get("FunctionUrlConfig")
            if config is None:
                continue
            auth = self.template.resolve(config).get("AuthType", "NONE")
            server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.runtime, logical, auth))
            server.daemon_threads = True
            serve = functools.partial(server.serve_forever, poll_interval=0.05)  # stop() returns within 50 ms
            threading.Thread(target=serve, name=f"url-{logical}", daemon=True).start()
            self._servers.append(server)
            self.urls[logical] = f"http://127.0.0.1:{server.server_address[1]}/"
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()


def _handler(runtime: LambdaRuntime, logical: str, auth: str) -> type[BaseHTTPRequestHandler]:
    class FunctionUrlHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if auth != "NONE":
                status, headers, payload = 403, {"content-type": "application/json"}, b'{"Message":"Forbidden"}'
            else:
                event = request_event(self.command, self.path, list(self.headers.items()), body, self.client_address[0])
                status, headers, payload = response_of(*runtime.invoke(logical, event))
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("x-amzn-requestid", str(uuid.uuid4()))
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet, like the rest of the local stack

    FunctionUrlHandler.__name__ = f"{logical}UrlHandler"
    return FunctionUrlHandler
