"""Remote tenants see only themselves: the Flux artifact of a remote tenant, and the customer's sync objects."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest
import yaml

from onboarding.contract.signup import SignupRequested
from onboarding.delivery import (
    FLUX_CONFIG_TYPE,
    FLUX_CONTENT_TYPE,
    artifact_of,
    customer_sync,
    deliver,
    manifests_repository,
    tenant_artifact_files,
)
from onboarding.identity import derive_tenant_id
from onboarding.manifests import GitOpsLayout, remote_path, tenant_files
from onboarding.records import ImageRef
from tests.utils.k8s import validate_object
from tests.utils.release import spec_of


class Pushed:
    def __init__(self) -> None:
        self.pushes: list[tuple[str, object, str]] = []

    def push(self, repository: str, artifact: object, tag: str) -> str:
        self.pushes.append((repository, artifact, tag))
        return "sha256:x"


def remote_files(signup_id: str, account: str) -> bytes:
    tenant_id = derive_tenant_id(signup_id)
    signup = SignupRequested.model_validate(
        {"signupId": signup_id, "tenantName": f"Remote {signup_id}", "adminEmail": "a@b.example", "tier": "advanced",
         "deploymentModel": "remote", "awsAccountId": account, "region": "eu-west-1"}
    )  # fmt: skip
    repo = f"{account}.dkr.ecr.eu-west-1.amazonaws.com/{tenant_id}"
    images = (ImageRef(name="api", repository=f"{repo}/api", digest="sha256:" + "a" * 64),)
    files = tenant_files(spec_of(tenant_id, signup, images=images), GitOpsLayout())
    return files[remote_path(tenant_id)]


def unpacked(layer: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def test_the_artifact_holds_the_tenants_objects_and_nothing_about_another_tenant() -> None:
    mine, theirs = remote_files("acme-remote", "222222222222"), remote_files("globex-remote", "333333333333")
    artifact = artifact_of(tenant_artifact_files(mine), source="s", revision="r")
    content = unpacked(artifact.layer)
    assert content == {"tenant.yaml": mine}
    text = b"".join(content.values())
    assert derive_tenant_id("globex-remote").encode() not in text and b"333333333333" not in text
    assert theirs not in text
    for document in yaml.safe_load_all(mine):
        validate_object(document)
    manifest = json.loads(artifact.manifest)
    assert manifest["config"]["mediaType"] == FLUX_CONFIG_TYPE
    assert [layer["mediaType"] for layer in manifest["layers"]] == [FLUX_CONTENT_TYPE]


def test_the_artifact_is_reproducible_so_an_unchanged_tenant_keeps_its_digest() -> None:
    files = tenant_artifact_files(remote_files("acme-remote", "222222222222"))
    assert artifact_of(files, source="s", revision="r").digest == artifact_of(files, source="s", revision="r").digest


def test_an_offboarded_tenant_gets_an_empty_artifact_so_its_flux_prunes_everything() -> None:
    registry = Pushed()
    deliver(registry, "t-x-0123456789", None, "abc")
    ((repository, artifact, tag),) = registry.pushes
    assert repository == manifests_repository("t-x-0123456789") == "t-x-0123456789/manifests" and tag == "latest"
    assert unpacked(artifact.layer) == {}  # type: ignore[attr-defined]


def test_the_customer_sync_reads_only_its_own_ecr_and_validates() -> None:
    documents = list(yaml.safe_load_all(customer_sync("t-x-0123456789", "222222222222", "eu-west-1")))
    source, kustomization = documents
    assert source["spec"]["url"] == "oci://222222222222.dkr.ecr.eu-west-1.amazonaws.com/t-x-0123456789/manifests"
    assert source["spec"]["provider"] == "aws" and kustomization["spec"]["prune"] is True
    for document in documents:
        validate_object(document)


def test_the_customer_sync_command_prints_it_and_names_a_bad_flag(capsys: pytest.CaptureFixture[str]) -> None:
    from onboarding.cli import main

    assert main(["customer-sync", "--tenant-id", "t-x-0123456789", "--account", "222222222222",
                 "--region", "eu-west-1"]) == 0  # fmt: skip
    assert list(yaml.safe_load_all(capsys.readouterr().out)) == list(
        yaml.safe_load_all(customer_sync("t-x-0123456789", "222222222222", "eu-west-1"))
    )
    assert main(["customer-sync", "--tenant-id", "t-x-0123456789", "--account", "12", "--region", "eu-west-1"]) == 2
    assert "--account" in capsys.readouterr().err
