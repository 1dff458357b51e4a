"""Do the tenant record, the GitOps repository and the AWS resources agree? (fault suite, chaos benchmark)

For one tenant, after the stack is idle:

- stuck: the record is ONBOARDING or holds an operation's lock;
- orphans: files in git for a tenant that is not live (FAILED, OFFBOARDED), or none for a live one;
- divergences: the tenant's HelmRelease (tier, deployment model, suspended; chart version, release version and
  image digests) differs from the record;
- leftovers: AWS resources of a tenant that should have none (a FAILED tenant's activation, secret, CIDR claims,
  name claim, customer ECR repositories; an OFFBOARDED tenant's activation, secret and CIDR claims), or a live
  hybrid tenant whose secret does not name its one live activation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
import yaml

LIVE = frozenset({"ACTIVE", "SUSPENDED"})
SECRET_NAME = "{prefix}/{tenant_id}/hybrid-activation"  # noqa: S105 - a name, not a secret


@dataclass
class Findings:
    stuck: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    divergences: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return [*self.stuck, *self.orphans, *self.divergences, *self.leftovers]

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in vars(self).items()}


def tenant_files(stack: Any, tenant_id: str) -> dict[str, str]:
    return {p: stack.git.read(p) or "" for p in stack.git.files() if tenant_id in p}


def helm_release(files: dict[str, str]) -> dict[str, Any] | None:
    for text in files.values():
        for doc in yaml.safe_load_all(text):
            if isinstance(doc, dict) and doc.get("kind") == "HelmRelease":
                return doc
    return None


def release_of(record: dict[str, Any], release: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the record and the HelmRelease each say the tenant runs: chart version, release version, images."""
    values = release.get("spec", {}).get("values", {})
    want = {
        "chartVersion": record.get("chartVersion"),
        "releaseVersion": record.get("releaseVersion"),
        "images": {i["name"]: i.get("digest") for i in record.get("images") or []},
    }
    got = {
        "chartVersion": release.get("spec", {}).get("chart", {}).get("spec", {}).get("version"),
        "releaseVersion": values.get("release"),
        "images": {name: image.get("digest") for name, image in (values.get("images") or {}).items()},
    }
    return want, got


class Inspector:
    """Reads what AWS holds for tenants, once per call of :meth:`check` (scans are shared by the tenants)."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.prefix = stack.template.params.get("TenantSecretPrefix", "onboarding/tenants")

    def _scan(self, table: str) -> list[dict[str, Any]]:
        client = self.stack.client("dynamodb")
        items: list[dict[str, Any]] = []
        for page in client.get_paginator("scan").paginate(TableName=table):
            items.extend(page["Items"])
        return items

    def _secret(self, tenant_id: str) -> dict[str, Any] | None:
        client = self.stack.client("secretsmanager")
        try:
            value = client.get_secret_value(SecretId=SECRET_NAME.format(prefix=self.prefix, tenant_id=tenant_id))
        except client.exceptions.ResourceNotFoundException:
            return None
        parsed: dict[str, Any] = json.loads(value["SecretString"])
        return parsed

    def _customer_repositories(self, record: dict[str, Any]) -> list[str]:
        tenant_id = record["tenantId"]
        try:
            creds = self.stack.client("sts").assume_role(
                RoleArn=f"arn:aws:iam::{record['awsAccountId']}:role/saas-onboarding-{tenant_id}",
                RoleSessionName="agreement",
                ExternalId=tenant_id,
            )["Credentials"]
        except Exception:  # noqa: BLE001 - no bootstrap role: nothing can have been created there
            return []
        ecr = boto3.client(
            "ecr",
            region_name=record.get("region") or "us-east-1",
            endpoint_url=self.stack.endpoint,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
        return [n for n in names if n.startswith(f"{tenant_id}/")]

    def check(self, tenant_ids: list[str]) -> dict[str, Findings]:
        records = {t["tenantId"]: t for t in self.stack.tenants()}
        names = self._scan("TenantNamesTable") if "TenantNamesTable" in self.stack.template.resources else []
        claims = self._scan("NetworkClaimsTable") if "NetworkClaimsTable" in self.stack.template.resources else []
        activations = self.stack.client("ssm").describe_activations()["ActivationList"]
        return {t: self._check(t, records.get(t), names, claims, activations) for t in tenant_ids}

    def _check(
        self,
        tenant_id: str,
        record: dict[str, Any] | None,
        names: list[dict[str, Any]],
        claims: list[dict[str, Any]],
        activations: list[dict[str, Any]],
    ) -> Findings:
        found = Findings()
        files = tenant_files(self.stack, tenant_id)
        if record is None:
            if files:
                found.orphans.append(f"{tenant_id}: no record, files {sorted(files)}")
            return found
        status, model = record["status"], record.get("deploymentModel")
        if status == "ONBOARDING" or record.get("lock"):
            found.stuck.append(f"{tenant_id}: {status}, lock {record.get('lock')}")
        live = status in LIVE
        if live and not files:
            found.orphans.append(f"{tenant_id}: {status} without files in git")  # Flux would prune a live tenant
        if not live and files and status != "ONBOARDING":
            found.orphans.append(f"{tenant_id}: {status} with files {sorted(files)} in git")
        release = helm_release(files)
        if live and release is not None:
            values = release.get("spec", {}).get("values", {})
            want = {"tier": record["tier"], "deploymentModel": model, "suspended": status == "SUSPENDED"}
            got = {k: values.get(k) for k in want}
            if got != want:
                found.divergences.append(f"{tenant_id}: record {want}, git {got}")
            runs, deployed = release_of(record, release)  # a release moves the chart version, images, version
            if runs != deployed:
                found.divergences.append(f"{tenant_id}: record runs {runs}, git {deployed}")
        mine = [a for a in activations if a.get("DefaultInstanceName") == tenant_id]
        secret = self._secret(tenant_id)
        claimed = [c for c in claims if tenant_id in json.dumps(c)]
        name_claims = [n for n in names if tenant_id in json.dumps(n)]
        if live and model == "hybrid":
            live_ids = {a["ActivationId"] for a in mine if not a.get("Expired")}
            if len(mine) != 1 or secret is None or secret.get("activationId") not in live_ids:
                found.leftovers.append(
                    f"{tenant_id}: live hybrid with activations {sorted(live_ids)}, secret names "
                    f"{None if secret is None else secret.get('activationId')}"
                )
        if not live and status != "ONBOARDING":
            what = [f"activation {a['ActivationId']}" for a in mine]
            what += ["secret"] if secret is not None else []
            what += ["CIDR claims"] if claimed else []
            if status == "FAILED":
                what += ["name claim"] if name_claims else []
                if model == "remote" and record.get("awsAccountId"):
                    what += [f"repository {r}" for r in self._customer_repositories(record)]
            if what:
                found.leftovers.append(f"{tenant_id}: {status} but still has {', '.join(what)}")
        return found


def running_executions(stack: Any) -> list[str]:
    sfn = stack.client("stepfunctions")
    names: list[str] = []
    for machine in sfn.list_state_machines()["stateMachines"]:
        pages = sfn.get_paginator("list_executions").paginate(
            stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
        )
        names += [e["name"] for page in pages for e in page["executions"]]
    return names
