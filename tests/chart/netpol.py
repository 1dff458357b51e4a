"""A small evaluator of Kubernetes NetworkPolicies, enough to ask "may this peer reach that pod on this port?".

It follows the API's semantics: a pod selected by no policy of a direction is not isolated in it; otherwise a
connection is allowed when some rule of a selecting policy admits the peer (podSelector alone: pods of the
policy's namespace; namespaceSelector: namespaces by label; ipBlock: addresses) and the port. Named ports and
endPort ranges are not needed by the chart and not modelled.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Peer:
    namespace: str = ""
    pod_labels: dict[str, str] = field(default_factory=dict)
    ip: str = ""

    @property
    def namespace_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace} if self.namespace else {}


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not ok:
            return False
    return True


def _peer_matches(entry: dict[str, Any], policy_namespace: str, peer: Peer) -> bool:
    if "ipBlock" in entry:
        if not peer.ip:
            return False
        address = ipaddress.ip_address(peer.ip)
        block = entry["ipBlock"]
        network = ipaddress.ip_network(block["cidr"])
        if address.version != network.version or address not in network:
            return False
        return not any(address in ipaddress.ip_network(e) for e in block.get("except", []))
    if not peer.namespace:
        return False
    if "namespaceSelector" in entry:
        if not selects(entry["namespaceSelector"], peer.namespace_labels):
            return False
    elif peer.namespace != policy_namespace:
        return False
    return "podSelector" not in entry or selects(entry["podSelector"], peer.pod_labels)


def _port_matches(ports: list[dict[str, Any]] | None, port: int, protocol: str) -> bool:
    if not ports:
        return True
    return any(p.get("protocol", "TCP") == protocol and p.get("port") in (None, port) for p in ports)


def allowed(
    policies: list[dict[str, Any]],
    direction: str,
    *,
    namespace: str,
    pod_labels: dict[str, str],
    peer: Peer,
    port: int,
    protocol: str = "TCP",
) -> bool:
    """Whether ``direction`` ("Ingress" or "Egress") traffic between the pod and ``peer`` on ``port`` is allowed."""
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = [
        p
        for p in policies
        if p["metadata"].get("namespace") == namespace
        and selects(p["spec"].get("podSelector", {}), pod_labels)
        and direction in p["spec"].get("policyTypes", ["Ingress"])
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get(key) or []:
            peers = rule.get(peers_key)
            peer_ok = not peers or any(_peer_matches(e, namespace, peer) for e in peers)
            if peer_ok and _port_matches(rule.get("ports"), port, protocol):
                return True
    return False
