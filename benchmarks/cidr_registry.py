"""The hybrid CIDR registry: what one claim costs with 10 and with 10,000 hybrid tenants registered.

On moto, in-process, with the table template.yaml defines. The fleet is seeded straight into moto's table
(tests/utils/cidr_seed.py); transactions back up only the items they write (onboarding_local/transactions.py, as in
the local stack), since moto's own deep copy of the whole table grows with it where DynamoDB's cost does not. A
claim is what RegisterTenant does for a hybrid signup: the overlap read (BatchGetItem of the range's cells), then
the transaction that writes the tenant, its name and its ranges. Measured: wall time, the DynamoDB calls, the items
each reads or writes and the bytes of the items read (what read units are billed on). Each claimed tenant is
released again, so every sample sees the same fleet. Run alone: ``.venv/bin/python benchmarks/cidr_registry.py``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FLEETS = (10, 10_000)


class _Registry:
    """One fleet's tables (a region of their own in the same moto), and a counter of what a claim calls."""

    def __init__(self, region: str, fleet_size: int) -> None:
        import boto3

        from onboarding.adapters.dynamodb import DynamoTenantStore
        from tests.integration.test_cidr_registry import _tables
        from tests.utils.cidr_seed import fleet_claims, seed

        self.client = boto3.client("dynamodb", region_name=region)
        _tables(self.client)
        seed(self.client, "NetworkClaimsTable", fleet_claims(fleet_size))
        self.store = DynamoTenantStore(
            "TenantsTable", "TenantNamesTable", client=self.client, network_table="NetworkClaimsTable"
        )
        self.calls: Counter[str] = Counter()
        self.items: Counter[str] = Counter()
        self.read_bytes = 0
        self.client.meta.events.register("provide-client-params.dynamodb.*", self._before)
        self.client.meta.events.register("after-call.dynamodb.*", self._after)
        self.claimed: dict[str, Any] = {}
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:  # the call's parameters, as passed
        self.calls[model.name] += 1
        if model.name == "BatchGetItem":
            self.items["read"] += sum(len(t["Keys"]) for t in params["RequestItems"].values())
        if model.name == "TransactWriteItems":
            self.items["written"] += len(params["TransactItems"])

    def _after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        for rows in parsed.get("Responses", {}).values() if model.name == "BatchGetItem" else ():
            self.read_bytes += sum(len(json.dumps(row)) for row in rows)

    def claim(self, i: int, measured: bool) -> None:
        """Claim a fresh tenant's two ranges as RegisterTenant does, then release it (the fleet stays the same)."""
        from onboarding.cidrs import CidrClaim
        from tests.integration.test_cidr_registry import record

        tenant = f"t-bench-{i:04d}"
        mine = [
            CidrClaim(cidr=f"10.200.{i}.0/24", tenant_id=tenant, kind="node"),
            CidrClaim(cidr=f"100.64.{i}.0/24", tenant_id=tenant, kind="pod"),
        ]
        self.calls.clear()
        self.items.clear()
        self.read_bytes = 0
        wall, cpu = time.perf_counter(), time.process_time()
        assert self.store.cidr_overlaps(mine) == []
        self.store.register(record(tenant), redrive_of=None, cidrs=mine)
        if measured:
            self.wall.append((time.perf_counter() - wall) * 1000)
            self.cpu.append((time.process_time() - cpu) * 1000)
        self.claimed = {"calls": dict(self.calls), "items": dict(self.items), "readBytes": self.read_bytes}
        assert self.store.release_cidrs(tenant)
        self.client.delete_item(TableName="TenantsTable", Key={"tenantId": {"S": tenant}})
        self.client.delete_item(TableName="TenantNamesTable", Key={"nameKey": {"S": record(tenant).name_key}})

    def summary(self) -> dict[str, Any]:
        return {
            "wallMedianMs": round(statistics.median(self.wall), 2),
            "cpuMedianMs": round(statistics.median(self.cpu), 2),
            **self.claimed,  # what the last claim called (its release is not counted)
        }


def measure_cidr_registry(samples: int = 30) -> dict[str, Any]:
    """Both fleets in one moto (two regions), their claims interleaved, so both see the same machine load."""
    from moto import mock_aws

    from onboarding_local import transactions

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    result: dict[str, Any] = {"samples": samples}
    with mock_aws(), transactions.installed():
        fleets = {
            size: _Registry(region, size) for size, region in zip(FLEETS, ("us-east-1", "eu-west-1"), strict=True)
        }
        for i in range(samples + 1):  # the first is a warm-up
            for registry in fleets.values() if i % 2 else reversed(fleets.values()):
                registry.claim(i, measured=i > 0)
        for size, registry in fleets.items():
            result[str(size)] = registry.summary()
    small, large = result[str(FLEETS[0])], result[str(FLEETS[-1])]
    result["wallRatio"] = round(large["wallMedianMs"] / small["wallMedianMs"], 2)
    result["cpuRatio"] = round(large["cpuMedianMs"] / small["cpuMedianMs"], 2)
    return result


def main() -> None:
    result = measure_cidr_registry(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
    for size in FLEETS:
        row = result[str(size)]
        print(
            f"{size:>6} registered: claim {row['wallMedianMs']} ms wall, {row['cpuMedianMs']} ms CPU (medians of "
            f"{result['samples']}); calls {row['calls']}, items {row['items']}, {row['readBytes']} bytes read"
        )
    print(f"ratio 10,000 / 10: wall {result['wallRatio']}, CPU {result['cpuRatio']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
