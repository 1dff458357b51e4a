"""The signups the benchmarks put on the bus: unique per run, one deployment model or tier each."""

from __future__ import annotations

from typing import Any

SIGNUP_SOURCE = "saas.signup"
SIGNUP_DETAIL_TYPE = "Tenant Signup Requested"
MODEL_TIER = {"pooled": "basic", "siloed": "premium"}  # remote and hybrid signups are tier advanced
REMOTE_ACCOUNT, REMOTE_REGION = "222222222222", "eu-west-1"  # the customer's account (tests/pipeline/test_remote.py)
HYBRID_FIRST_OCTET = 100  # hybrid tenant i claims 10.<100+i>.0.0/24 and 10.<100+i>.128.0/20: no overlaps


def signup(run_id: str, label: str, index: int, tier: str, **extra: Any) -> dict[str, Any]:
    """An EventBridge envelope like events/signup-*.json, unique by signupId and by tenant name."""
    return {
        "source": SIGNUP_SOURCE,
        "detail-type": SIGNUP_DETAIL_TYPE,
        "detail": {
            "signupId": f"bench-{run_id}-{label}-{index:04d}",
            "tenantName": f"Bench {run_id} {label} {index:04d}",
            "adminEmail": f"admin-{label}-{index:04d}@bench.example",
            "tier": tier,
            **extra,
        },
    }


def model_signup(run_id: str, model: str, index: int, cidr_octet: int) -> dict[str, Any]:
    """A signup of ``model``; hybrid ones get private ranges of their own (10.<cidr_octet>.0.0/16)."""
    if model == "remote":
        remote = {"deploymentModel": "remote", "awsAccountId": REMOTE_ACCOUNT, "region": REMOTE_REGION}
        return signup(run_id, model, index, "advanced", **remote)
    if model == "hybrid":
        hybrid = {
            "nodeCidrs": [f"10.{cidr_octet}.0.0/24"],
            "podCidrs": [f"10.{cidr_octet}.128.0/20"],
            "nodeCount": 2,
            "supportingServices": "bundled",
        }
        return signup(run_id, model, index, "advanced", deploymentModel="hybrid", hybrid=hybrid)
    return signup(run_id, model, index, MODEL_TIER[model])
