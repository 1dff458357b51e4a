"""DynamoDB transactions in the local stack's moto, backed up item by item rather than table by table.

Before a TransactWriteItems, moto deep-copies every table the transaction names, and on a cancellation puts the
copies back in the tables' place. That costs in proportion to the tables' size: with 100 tenants a RegisterTenant
transaction (the tenant record and its name) took 10.7 ms of CPU, with 10,000 CIDR claims a hybrid claim took
8 s. DynamoDB's own cost depends on the items a transaction names, not on the table. Putting whole copies back
also undoes what other handlers wrote to those tables meanwhile: the local stack runs its handlers in threads.

Here moto's transaction runs unchanged, except that its backup is the tables themselves (nothing is copied), and
the items the transaction writes are copied first: each one's value, or its absence. If the transaction raises
(cancelled, or refused before it wrote), exactly those items are put back as they were, and nothing else is
touched. A table with a stream, a transaction whose keys cannot be read the way moto reads them, or any other
surprise takes moto's own path, whole copies included. tests/integration/test_transactions.py checks that both
leave the same items and raise the same errors, for transactions that succeed, are cancelled, or are refused.
"""

from __future__ import annotations

import copy
import threading
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from onboarding_local.processwide import ProcessChanges

_OPERATIONS = frozenset({"ConditionCheck", "Put", "Delete", "Update"})


class _Unusual(Exception):
    """A transaction moto's own backup must cover."""


class _Journal:
    """The items a transaction writes, as they were before it: put back by ``restore``."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, Any, Any, Any]] = []  # table, hash value, range value, item (None: absent)

    def save(self, table: Any, hash_value: Any, range_value: Any) -> None:
        item = table.items.get(hash_value)  # .get: the items are a defaultdict
        if range_value is not None and item is not None:
            item = item.get(range_value)
        self._saved.append((table, hash_value, range_value, copy.deepcopy(item)))

    def restore(self) -> None:
        for table, hash_value, range_value, item in reversed(self._saved):
            if range_value is None:
                if item is None:
                    table.items.pop(hash_value, None)
                else:
                    table.items[hash_value] = item
            elif item is None:
                table.items.get(hash_value, {}).pop(range_value, None)
            else:
                table.items[hash_value][range_value] = item


def _journal(backend: Any, transact_items: Any) -> _Journal:
    """The backup of the items ``transact_items`` names, or _Unusual."""
    from moto.dynamodb.models.table import Table

    journal = _Journal()
    try:
        for entry in transact_items:
            ((operation, request),) = entry.items()
            if operation not in _OPERATIONS:
                raise _Unusual
            table = backend.tables[request["TableName"]]
            if not isinstance(table, Table) or table.stream_shard is not None:
                raise _Unusual
            keys = request["Item"] if operation == "Put" else request["Key"]
            hash_value, range_value = backend.get_keys_value(table, keys)
            if operation != "ConditionCheck":  # it writes nothing: putting it back could undo another's write
                journal.save(table, hash_value, range_value)
    except _Unusual:
        raise
    except Exception as error:  # a malformed transaction: moto's own path answers it
        raise _Unusual from error
    return journal


class _CopyModule:
    """moto's DynamoDB models' name for the ``copy`` module: in a journaled transaction's thread, the deep copy of
    a table is the table itself; everything else is the real module's."""

    def __init__(self, journaled: threading.local, table: type) -> None:
        self._journaled = journaled
        self._table = table

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if getattr(self._journaled, "active", False) and isinstance(value, self._table):
            return value
        return copy.deepcopy(value, memo)


def install(changes: ProcessChanges) -> None:
    """Until ``changes`` is restored, moto's TransactWriteItems backs up the items it names, not whole tables."""
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    journaled = threading.local()
    changes.patch(models, "copy", _CopyModule(journaled, Table))
    transact: Callable[[Any, Any], None] = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: Any) -> None:
        try:
            journal = _journal(self, transact_items)
        except _Unusual:
            transact(self, transact_items)
            return
        journaled.active = True
        try:
            transact(self, transact_items)
        except BaseException:
            journal.restore()
            raise
        finally:
            journaled.active = False

    changes.patch(models.DynamoDBBackend, "transact_write_items", transact_write_items)


def installed() -> AbstractContextManager[None]:
    """For code on plain moto (tests, benchmarks): the same backup, undone on exit."""
    from onboarding_local.processwide import applied

    return applied(install)
