"""The one place the shared Logger, Tracer and Metrics are created. The tenant id is the correlation id.

Powertools' Tracer imports the X-Ray SDK (about 200 ms of a cold start) to build its default provider even when
tracing is disabled. Here it gets that provider only when tracing is on (in Lambda, POWERTOOLS_TRACE_DISABLED
not set: Powertools' own rule); otherwise an untraced provider that imports nothing.

When tracing is on, only botocore is patched (``PATCHED_MODULES``): the only library the X-Ray SDK can trace that
these functions call (boto3 goes through botocore). Powertools' default, the SDK's ``patch_all``, also patches
sqlite3 and tries to import a dozen database and HTTP clients that are not installed, at every cold start. The
SDK's ``patch_all`` never patches ``httplib`` (dulwich's HTTP), so nothing traced before is lost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.tracing.base import BaseProvider


class _UntracedSegment:
    """What an untraced subsegment answers: nothing is recorded."""

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        pass

    def close(self, end_time: int | None = None) -> None:
        pass


class UntracedProvider(BaseProvider):
    """The Tracer's provider when tracing is disabled: same interface, no X-Ray SDK import."""

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[Any]:
        yield _UntracedSegment()

    @asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> AsyncIterator[Any]:
        yield _UntracedSegment()

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def patch(self, modules: Any) -> None:
        pass

    def patch_all(self) -> None:
        pass


PATCHED_MODULES = ("botocore",)


def _tracer() -> Tracer:
    if Tracer._is_tracer_disabled():  # Powertools' own rule: env var, or not in Lambda, or SAM local
        return Tracer(disabled=True, auto_patch=False, provider=UntracedProvider())
    return Tracer(patch_modules=PATCHED_MODULES)


logger = Logger()
tracer = _tracer()
metrics = Metrics()

__all__ = ["MetricUnit", "logger", "metrics", "tracer"]
