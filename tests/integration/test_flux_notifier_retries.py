"""The Flux emulator re-delivers as notification-controller's client does (go-retryablehttp as set up in its
internal/notifier/client.go): again after no answer, a 429 or a 5xx other than 501, 5 posts at most within the
Provider's 15 s timeout (on nominal waits), Retry-After honoured on 429 and 503; any other answer is final."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from onboarding_local.notifications import Cluster, Notifier, retried, retry_wait


class Script:
    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str]]] = []
        self.bodies: list[bytes] = []


@pytest.fixture
def receiver() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            script.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            status, headers = script.answers.pop(0) if script.answers else (202, {})
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", script
    server.shutdown()
    server.server_close()


def send(url: str) -> list[int]:
    notifier = Notifier(url)
    hr = {"metadata": {"name": "t-x", "namespace": "t-x", "annotations": {"event.toolkit.fluxcd.io/tenantId": "t-x"}}}
    notifier.release_event(Cluster("remote/t-x", "tok", False, {"tenantId": "t-x"}), hr, "InstallSucceeded", "ok", "1")
    (delivery,) = notifier.sent
    assert delivery.status == delivery.attempts[-1]
    return delivery.attempts


def test_the_retry_policy_and_waits_are_go_retryablehttps() -> None:
    assert [s for s in (0, 200, 202, 400, 401, 404, 429, 500, 501, 502, 503) if retried(s)] == [0, 429, 500, 502, 503]
    assert [retry_wait(n, 500, None) for n in range(5)] == [2, 4, 8, 16, 30]
    assert retry_wait(0, 503, "1") == 1 and retry_wait(3, 429, "3") == 3 and retry_wait(0, 500, "1") == 2


def test_a_5xx_is_re_delivered_with_the_same_signed_body(receiver: tuple[str, Script]) -> None:
    url, script = receiver
    script.answers = [(500, {}), (503, {"Retry-After": "1"})]
    assert send(url) == [500, 503, 202]
    assert script.bodies[0] == script.bodies[1] == script.bodies[2]


def test_a_401_or_400_is_final(receiver: tuple[str, Script]) -> None:
    url, script = receiver
    script.answers = [(401, {})]
    assert send(url) == [401]
    script.answers = [(400, {})]
    assert send(url) == [400]


def test_within_the_providers_timeout_4_posts_or_5_with_retry_after(receiver: tuple[str, Script]) -> None:
    url, script = receiver
    script.answers = [(500, {})] * 9
    assert send(url) == [500] * 4  # at 0, 2, 6 and 14 s; the next would start at 30 s
    script.answers = [(503, {"Retry-After": "1"})] * 9
    assert send(url) == [503] * 5  # RetryMax 4: 5 posts, 1 s apart
