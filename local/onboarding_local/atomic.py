"""DynamoDB requests in the local stack's moto applied one at a time, as DynamoDB applies each write atomically.

DynamoDB checks a write's condition and applies the write as one step, and isolates a transaction from every other
request. The pipeline's exactly-one-winner guarantees rest on that: the GitOps flush lease and claims, tenant
names, CIDR claims, Powertools' idempotency records, the reconcile waiters. moto checks a condition and then
writes, in Python, with no lock; the local stack calls it from many threads at once (its handlers, and the
server's threads answering worker processes), so a thread switch between the check and the write let two
conditional writes of the same item both succeed, and a read see half a transaction.

Here every DynamoDB request (each call of moto's ``DynamoHandler.call_action``) holds one process-wide lock while
moto parses, applies and answers it. The stack's process runs Python one thread at a time anyway (the GIL), so
the lock should cost little (not measured alone: it landed with queries.py); a thread waiting for it lets the
others run. The lock is re-entrant: nothing in a DynamoDB request waits on another thread's DynamoDB request (the
template declares no streams, whose Lambda triggers moto would run inside the write).
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onboarding_local.processwide import ProcessChanges


def install(changes: ProcessChanges) -> None:
    """Until ``changes`` is restored, moto answers one DynamoDB request at a time."""
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    call_action = DynamoHandler.call_action

    def one_at_a_time(self: Any) -> Any:
        with lock:
            return call_action(self)

    changes.patch(DynamoHandler, "call_action", one_at_a_time)


def installed() -> AbstractContextManager[None]:
    """For code on plain moto (tests, benchmarks): the same lock, undone on exit."""
    from onboarding_local.processwide import applied

    return applied(install)
