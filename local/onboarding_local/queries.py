"""A DynamoDB Query of a table's own key, in the local stack's moto, reads the item collection it names.

DynamoDB answers a Query from one partition: its cost depends on the items read, not on the table. moto's
``Table.query`` lists every item of the table, sorts them all, then keeps those of the asked partition key: a
Query of a table of N items costs O(N log N). The pipeline queries tables that grow with the fleet (the reconcile
waiters and verdicts, the GitOps queue), so on the local stack every onboarding got slower as the fleet grew:
AwaitReconcile took 10.4 ms of CPU in a burst of 400 and 20.7 ms in a burst of 1,000.

Here, while moto answers a Query without an index and with a partition key, its list of the table's items holds
only that key's items (a table's items are kept by partition key, then sort key), in the order moto's own list
has them. Everything else moto does with the Query (sort key conditions, order, filters, limits, pages, sizes)
is unchanged. A Query of an index still goes through every item, as moto keeps no index, but the list is not
sorted first: moto sorts what the index's keys select by the index keys and then the table's keys, an order in
which no two items tie. tests/integration/test_queries.py compares both ways on tables with and without sort
keys, with a global and a local index, with every condition.
"""

from __future__ import annotations

import inspect
import threading
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onboarding_local.processwide import ProcessChanges


def install(changes: ProcessChanges) -> None:
    """Until ``changes`` is restored, moto's Query of a table's own key lists only that key's items."""
    from moto.dynamodb.models.table import Table

    scope = threading.local()  # the table and partition key a Query of this thread is answering
    query, all_items = Table.query, Table.all_items
    index_at = list(inspect.signature(query).parameters).index("index_name") - 2  # in args, after self, hash_key

    def partition_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[index_at] if len(args) > index_at else kwargs.get("index_name")
        if getattr(scope, "table", None) is not None or (hash_key is None and not index_name):
            return query(self, hash_key, *args, **kwargs)
        scope.table, scope.hash_key, scope.index = self, hash_key, bool(index_name)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            scope.table = scope.hash_key = None

    def items(self: Any) -> list[Any]:
        if getattr(scope, "table", None) is not self:
            return all_items(self)
        table: Any = self
        if scope.index:  # every item, unsorted: moto sorts an index's results by every key, table keys last
            if not table.range_key_attr:
                return list(table.items.values())
            return [item for collection in table.items.values() for item in collection.values()]
        collection = table.items.get(scope.hash_key)  # .get: the items are a defaultdict
        if collection is None:
            return []
        if not table.range_key_attr:
            return [collection]
        return list(collection.values())  # moto sorts them by sort key itself

    changes.patch(Table, "query", partition_query)
    changes.patch(Table, "all_items", items)


def installed() -> AbstractContextManager[None]:
    """For code on plain moto (tests, benchmarks): the same Query, undone on exit."""
    from onboarding_local.processwide import applied

    return applied(install)
