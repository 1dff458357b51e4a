"""Chaos: a burst of signups of all four models, then lifecycle operations, while a share of the handlers' calls
fail (AWS calls: throttling, a timeout before the call, a lost reply after it; git fetches and pushes: a reset
before, or after the push landed), chosen at random from a seed; then the failed signups are re-driven.

Reported, and required: no stuck tenant (ONBOARDING, or an operation's lock held) and no execution running; no
orphan (files in git for a tenant that is not live, or none for a live one); no divergence (the tenant's
HelmRelease against its record); no leftover (AWS resources of a FAILED or OFFBOARDED tenant, or a live hybrid
tenant without its one live activation); every failed signup ACTIVE after its re-drive.
Run alone: ``.venv/bin/python -m benchmarks.run chaos`` (options --chaos-signups, --chaos-rate, --chaos-seed).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.signups import REMOTE_ACCOUNT, model_signup

MODELS = ("pooled", "siloed", "remote", "hybrid")
RECONCILE_TIMEOUT = 180
FIRST_OCTET = 20  # hybrid tenant i claims 10.<20 + i // 256>.<i % 256>.0/24 and a /20 of 10.<...>.128 + ...


def _hybrid_signup(run_id: str, index: int, n: int) -> dict[str, Any]:
    envelope = model_signup(run_id, "hybrid", index, 0)
    hybrid = envelope["detail"]["hybrid"]
    hybrid["nodeCidrs"] = [f"10.{FIRST_OCTET + n // 8}.{(n % 8) * 32}.0/24"]
    hybrid["podCidrs"] = [f"10.{FIRST_OCTET + n // 8}.{(n % 8) * 32 + 16}.0/20"]
    return envelope


def _operation(operation: str, tenant_id: str, operation_id: str, **extra: Any) -> dict[str, Any]:
    detail_types = {
        "offboard": "Tenant Offboarding Requested",
        "change-tier": "Tenant Tier Change Requested",
        "suspend": "Tenant Suspend Requested",
        "resume": "Tenant Resume Requested",
    }
    detail = {"tenantId": tenant_id, "operationId": operation_id, **extra}
    return {"source": "saas.signup", "detail-type": detail_types[operation], "detail": detail}


def _change_tier(record: dict[str, Any]) -> dict[str, Any]:
    """Within the placement (no data plan needed) where possible; basic -> premium moves to a silo: keep data."""
    if record["tier"] == "basic":
        return {"tier": "premium", "dataPlan": "keep"}
    return {"tier": "advanced" if record["tier"] == "premium" else "premium"}


def measure_chaos(workdir: Path, signups: int, rate: float, seed: int, timeout: float) -> dict[str, Any]:
    from onboarding.identity import derive_tenant_id
    from onboarding_local.agreement import Inspector, running_executions
    from onboarding_local.faults import arm
    from onboarding_local.stack import LocalStack

    run_id = uuid.uuid4().hex[:6]
    started = time.perf_counter()
    # Flux's verdict on a change is awaited at most RECONCILE_TIMEOUT seconds: a verdict the chaos lost (the
    # receiver failed) fails that execution, which is compensated or reverted, instead of waiting 15 minutes.
    with LocalStack(workdir, parameters={"ReconcileTimeoutSeconds": str(RECONCILE_TIMEOUT)}) as stack:
        injector = arm(stack)
        envelopes: list[dict[str, Any]] = []
        hybrid_n = 0
        for i in range(signups):
            model = MODELS[i % len(MODELS)]
            if model == "hybrid":
                envelopes.append(_hybrid_signup(run_id, i, hybrid_n))
                hybrid_n += 1
            else:
                envelopes.append(model_signup(run_id, model, i, 0))
        models = {derive_tenant_id(e["detail"]["signupId"]): e for e in envelopes}
        for tenant_id, envelope in models.items():
            if envelope["detail"].get("deploymentModel") == "remote":
                stack.bootstrap_tenant_account(REMOTE_ACCOUNT, tenant_id)
        tenant_ids = sorted(models)

        def records() -> dict[str, dict[str, Any]]:
            return {t["tenantId"]: t for t in stack.tenants() if t["tenantId"] in models}

        # 1. the burst, under chaos
        injector.start_chaos(rate, seed)
        stack.put_events(envelopes)
        stack.wait_idle(timeout)
        onboarded = records()
        failed_signups = sorted(t for t in tenant_ids if onboarded.get(t, {}).get("status") != "ACTIVE")

        # 2. lifecycle operations on the live tenants, still under chaos: suspend, change tier, offboard, then
        # resume what was suspended
        plan = ("suspend", "change-tier", "offboard", "suspend")
        first: list[dict[str, Any]] = []
        for n, tenant_id in enumerate(t for t in tenant_ids if onboarded.get(t, {}).get("status") == "ACTIVE"):
            operation = plan[n % len(plan)]
            extra = _change_tier(onboarded[tenant_id]) if operation == "change-tier" else {}
            first.append(_operation(operation, tenant_id, f"chaos-{run_id}-{n}", **extra))
        stack.put_events(first)
        stack.wait_idle(timeout)
        suspended = [t for t, r in records().items() if r["status"] == "SUSPENDED"]
        stack.put_events([_operation("resume", t, f"chaos-{run_id}-resume-{n}") for n, t in enumerate(suspended)])
        stack.wait_idle(timeout)
        operations = first + [{"detail-type": "Tenant Resume Requested"}] * len(suspended)
        after_chaos = records()
        failed_ops = [
            e["detail"]
            for e in stack.status_events()
            if e["detail-type"] == "Tenant Operation Failed" and e["detail"].get("tenantId") in models
        ]
        inspector = Inspector(stack)
        chaos_findings = inspector.check(tenant_ids)
        # an outcome that says "compensated" while something of the tenant was left is a lie
        claims: dict[str, bool] = {}
        for e in stack.status_events():
            if e["detail-type"] in ("Tenant Onboarding Failed", "Tenant Operation Failed"):
                claims[e["detail"].get("tenantId", "")] = bool(e["detail"].get("compensated"))
        untruthful = sorted(t for t, said in claims.items() if said and t in models and chaos_findings[t].all())
        uncompensated = sorted(t for t, said in claims.items() if not said and t in models)
        faults = {f"{target} {kind}": n for (target, kind), n in sorted(injector.fired.items())}
        calls = sum(injector.calls.values())
        injected = sum(injector.fired.values())

        # 3. the re-drive, without faults: the failed signups are published again
        injector.clear()
        redriven = [t for t in failed_signups if after_chaos.get(t, {}).get("status") in (None, "FAILED")]
        stack.put_events([models[t] for t in redriven])
        stack.wait_idle(timeout)
        final = records()
        redrive_active = [t for t in redriven if final.get(t, {}).get("status") == "ACTIVE"]
        final_findings = inspector.check(tenant_ids)
        running = running_executions(stack)

    def summed(findings: dict[str, Any]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {"stuck": [], "orphans": [], "divergences": [], "leftovers": []}
        for f in findings.values():
            for key in out:
                out[key] += getattr(f, key)
        return out

    during, end = summed(chaos_findings), summed(final_findings)
    return {
        "signups": signups,
        "models": dict(Counter(e["detail"].get("deploymentModel") or e["detail"]["tier"] for e in envelopes)),
        "rate": rate,
        "seed": seed,
        "handlerCalls": calls,
        "faultsInjected": injected,
        "faults": faults,
        "failedSignups": len(failed_signups),
        "failedSignupReasons": dict(Counter(onboarded.get(t, {}).get("failedStep", "?") for t in failed_signups)),
        "operations": len(operations),
        "failedOperations": len(failed_ops),
        "failedOperationSteps": dict(Counter(e.get("failedStep", "?") for e in failed_ops)),
        "statusesAfterChaos": dict(Counter(r["status"] for r in after_chaos.values())),
        "afterChaos": {k: len(v) for k, v in during.items()},
        "untruthfulOutcomes": untruthful,
        "announcedUncompensated": len(uncompensated),
        "final": {k: len(v) for k, v in end.items()},
        "details": {k: v[:20] for k, v in end.items() if v}
        | {f"afterChaos.{k}": v[:20] for k, v in during.items() if v},
        "runningExecutions": len(running),
        "redriven": len(redriven),
        "redriveActive": len(redrive_active),
        "redriveSuccess": round(100.0 * len(redrive_active) / len(redriven), 1) if redriven else 100.0,
        "wallSeconds": round(time.perf_counter() - started, 1),
    }


def chaos_problems(report: dict[str, Any]) -> list[str]:
    if "chaos" not in report:
        return []
    c = report["chaos"]
    # After the chaos a failed tenant may keep what its compensation could not undo within its retries, if its
    # failure event says so (compensated: false); the re-drive must then clear it. Nothing may be stuck, and no
    # outcome may claim what is not true.
    found = [f"chaos: {c['afterChaos']['stuck']} stuck after the chaos"] if c["afterChaos"]["stuck"] else []
    if c["untruthfulOutcomes"]:
        found.append(f"chaos: outcomes said compensated while resources were left: {c['untruthfulOutcomes']}")
    found += [f"chaos: {n} {k} after the re-drive" for k, n in c["final"].items() if n]
    if c["runningExecutions"]:
        found.append(f"chaos: {c['runningExecutions']} executions still running")
    if c["redriveSuccess"] < 100.0:
        found.append(f"chaos: re-drive success {c['redriveSuccess']} % ({c['redriveActive']} of {c['redriven']})")
    return found


def render_chaos(report: dict[str, Any]) -> str:
    if "chaos" not in report:
        return ""
    c = report["chaos"]
    lines = [
        "",
        f"chaos: {c['signups']} signups {c['models']}, then {c['operations']} lifecycle operations; "
        f"{c['faultsInjected']} of {c['handlerCalls']} handler calls failed (rate {c['rate']}, seed {c['seed']})",
        f"  failed signups {c['failedSignups']} {c['failedSignupReasons']}, failed operations "
        f"{c['failedOperations']} {c['failedOperationSteps']}",
        f"  after the chaos: {c['afterChaos']} (failures announced uncompensated {c['announcedUncompensated']}, "
        f"untruthful {len(c['untruthfulOutcomes'])}); after the re-drive: {c['final']}; running executions "
        f"{c['runningExecutions']}",
        f"  re-drive: {c['redriveActive']} of {c['redriven']} ACTIVE ({c['redriveSuccess']} %); "
        f"wall {c['wallSeconds']} s",
    ]
    return "\n".join(lines) + "\n"
