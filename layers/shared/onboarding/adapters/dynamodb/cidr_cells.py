"""The hybrid CIDR registry's layout: one small item per address cell, so no claim reads or writes the whole fleet.

The address space is cut into cells at the prefix lengths in ``LEVELS`` (every 4 bits, /8 to /28). A claimed
range lives in its *home cell*: the cell at the longest level not longer than its own prefix. Every cell item
(key ``cidr#<cell>``) holds:

- one top-level attribute ``m:<range>`` per range homed there (a map: tenantId, kind, cidr), and
- 16 counters ``in0``..``inf``: how many ranges lie deeper, inside each of its 16 children at the next level.

A claim writes its home cell and its ancestor cells (at most 6 items), each update conditional on exactly
the attributes an overlapping range would have set: no ancestor holds a supernet of it, its home cell holds
no supernet or subnet of it, and no counter of a child inside it is above zero. Any two overlapping ranges
therefore touch one common item with contradicting conditions, and DynamoDB lets exactly one of the two
transactions commit. The cost of a claim depends on its own ranges, never on how many tenants are registered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import Any

from onboarding.cidrs import CidrClaim

LEVELS = (8, 12, 16, 20, 24, 28)
STEP = 4
CELL_PREFIX = "cidr#"
TENANT_PREFIX = "cidr-tenant#"
LEGACY_SCOPE = "hybrid-cidrs"  # the single item every claim used to live in (see docs/production-path.md)
MEMBER = "m:"
COUNTER = "in"


def home_level(prefix: int) -> int:
    return max(level for level in LEVELS if level <= prefix)


# Ranges as (network as an int, prefix length): ipaddress objects cost microseconds each, and a claim makes dozens.
def _mask(prefix: int) -> int:
    return (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF


def _text(network: int, prefix: int) -> str:
    return f"{network >> 24}.{(network >> 16) & 255}.{(network >> 8) & 255}.{network & 255}/{prefix}"


def _of(cidr: IPv4Network) -> tuple[int, int]:
    return int(cidr.network_address), cidr.prefixlen


def cell_key(cidr: IPv4Network, level: int) -> str:
    network, _ = _of(cidr)
    return f"{CELL_PREFIX}{_text(network & _mask(level), level)}"


def _member(network: int, prefix: int) -> str:
    return f"{MEMBER}{_text(network & _mask(prefix), prefix)}"


def member_attribute(cidr: IPv4Network) -> str:
    return _member(*_of(cidr))


def _counter(network: int, level: int) -> str:
    return f"{COUNTER}{(network >> (32 - level - STEP)) & 0xF:x}"


def counter_attribute(cidr: IPv4Network, level: int) -> str:
    """The counter, in the cell at ``level`` around ``cidr``, of the child (one level down) that holds it."""
    return _counter(int(cidr.network_address), level)


def ancestor_levels(cidr: IPv4Network) -> list[int]:
    return [level for level in LEVELS if level < home_level(cidr.prefixlen)]


def cells_of(cidr: IPv4Network) -> list[str]:
    """The keys of the cells a claim of ``cidr`` reads and writes: its ancestors, then its home."""
    return [cell_key(cidr, level) for level in [*ancestor_levels(cidr), home_level(cidr.prefixlen)]]


def _deepest(level: int) -> int:
    return 32 if level == LEVELS[-1] else level + STEP - 1


def _subnets(network: int, prefix: int, new_prefix: int) -> range:
    return range(network, network + (1 << (32 - prefix)), 1 << (32 - new_prefix))


@dataclass
class CellUpdate:
    """The merged update of one cell for one transaction: what it sets or adds, and what must be absent."""

    key: str
    set_members: dict[str, dict[str, Any]] = field(default_factory=dict)
    add_counters: dict[str, int] = field(default_factory=dict)
    absent: set[str] = field(default_factory=set)  # attributes that must not exist
    zero: set[str] = field(default_factory=set)  # counters that must be absent or 0

    def transact_item(self, table: str) -> dict[str, Any]:
        names: dict[str, str] = {}
        values: dict[str, Any] = {":zero": {"N": "0"}}

        def name(attribute: str) -> str:
            placeholder = f"#a{len(names)}"
            names[placeholder] = attribute
            return placeholder

        conditions = [f"attribute_not_exists({name(a)})" for a in sorted(self.absent)]
        conditions += [f"(attribute_not_exists({(n := name(a))}) OR {n} = :zero)" for a in sorted(self.zero)]
        sets, adds = [], []
        for i, (attribute, member) in enumerate(sorted(self.set_members.items())):
            values[f":m{i}"] = {"M": {k: {"S": v} for k, v in member.items()}}
            sets.append(f"{name(attribute)} = :m{i}")
        for i, (attribute, count) in enumerate(sorted(self.add_counters.items())):
            values[f":c{i}"] = {"N": str(count)}
            adds.append(f"{name(attribute)} :c{i}")
        clauses = [f"SET {', '.join(sets)}"] if sets else []
        clauses += [f"ADD {', '.join(adds)}"] if adds else []
        update: dict[str, Any] = {
            "TableName": table,
            "Key": {"scope": {"S": self.key}},
            "UpdateExpression": " ".join(clauses),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if conditions:
            update["ConditionExpression"] = " AND ".join(conditions)
        return {"Update": update}


def claim_updates(claims: Sequence[CidrClaim]) -> list[CellUpdate]:
    """The cell updates that claim every range in ``claims`` (one tenant's, disjoint), merged per cell."""
    cells: dict[str, CellUpdate] = {}

    def cell(network: int, level: int) -> CellUpdate:
        key = f"{CELL_PREFIX}{_text(network & _mask(level), level)}"
        return cells.setdefault(key, CellUpdate(key))

    for claim in claims:
        network, prefix = _of(claim.cidr)
        home = home_level(prefix)
        for level in ancestor_levels(claim.cidr):
            ancestor = cell(network, level)
            # no range homed in the ancestor holds this one
            ancestor.absent.update(_member(network, q) for q in range(level, level + STEP))
            counter = _counter(network, level)
            ancestor.add_counters[counter] = ancestor.add_counters.get(counter, 0) + 1
        mine = cell(network, home)
        mine.absent.update(_member(network, q) for q in range(home, prefix + 1))  # supernets, and itself
        for q in range(prefix + 1, _deepest(home) + 1):  # subnets homed in the same cell
            mine.absent.update(_member(sub, q) for sub in _subnets(network, prefix, q))
        if home != LEVELS[-1]:  # no range deeper down, inside it
            mine.zero.update(_counter(child, home) for child in _subnets(network, prefix, home + STEP))
        mine.set_members[_member(network, prefix)] = {
            "tenantId": claim.tenant_id,
            "kind": claim.kind,
            "cidr": _text(network, prefix),
        }
    return list(cells.values())


def release_updates(claims: Sequence[CidrClaim]) -> list[dict[str, Any]]:
    """Update expressions (key, remove, subtract) that undo ``claim_updates`` for the same claims."""
    removes: dict[str, set[str]] = {}
    subtracts: dict[str, dict[str, int]] = {}
    for claim in claims:
        cidr = claim.cidr
        for level in ancestor_levels(cidr):
            counters = subtracts.setdefault(cell_key(cidr, level), {})
            counter = counter_attribute(cidr, level)
            counters[counter] = counters.get(counter, 0) + 1
        removes.setdefault(cell_key(cidr, home_level(cidr.prefixlen)), set()).add(member_attribute(cidr))
    return [
        {"key": key, "remove": sorted(removes.get(key, ())), "subtract": subtracts.get(key, {})}
        for key in sorted(set(removes) | set(subtracts))
    ]


@dataclass(frozen=True)
class Cell:
    """A cell item as read: the ranges homed there, and the per-child counters of deeper ranges."""

    members: list[CidrClaim]
    counters: dict[int, int]


def parse_cell(item: dict[str, Any]) -> Cell:
    members, counters = [], {}
    for attribute, value in item.items():
        if attribute.startswith(MEMBER):
            member = value["M"]
            members.append(
                CidrClaim(cidr=member["cidr"]["S"], tenant_id=member["tenantId"]["S"], kind=member["kind"]["S"])
            )
        elif attribute.startswith(COUNTER) and len(attribute) == len(COUNTER) + 1:
            counters[int(attribute[len(COUNTER) :], 16)] = int(value["N"])
    return Cell(members, counters)


def children_inside(cell: str, counters: dict[int, int], cidr: IPv4Network) -> list[str]:
    """The keys of the child cells of ``cell`` that lie in ``cidr`` (or hold it) and have ranges deeper down."""
    parent = IPv4Network(cell.removeprefix(CELL_PREFIX))
    if parent.prefixlen == LEVELS[-1]:
        return []
    keys = []
    for index, count in counters.items():
        if count <= 0:
            continue
        child = list(parent.subnets(new_prefix=parent.prefixlen + STEP))[index]
        if child.overlaps(cidr):
            keys.append(f"{CELL_PREFIX}{child}")
    return keys


def overlapping(members: Iterable[CidrClaim], cidr: IPv4Network) -> list[CidrClaim]:
    return [m for m in members if m.cidr.overlaps(cidr)]
