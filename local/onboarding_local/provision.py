"""What template.yaml declares, created in moto: tables, buckets, queues, secrets, the bus, functions and their
rules, CodeBuild projects, the release parameter, and the state machines with their substitutions resolved.

Also the customer's side of a remote tenant: tenant-account/bootstrap.yaml's role, deployed into an account.
"""

from __future__ import annotations

import io
import json
import secrets
import string
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from onboarding_local.registry import Registry, ReleaseImage, seed_release
from onboarding_local.template import ACCOUNT, REGION, Template

REPO_ROOT = Path(__file__).resolve().parents[2]
RELEASE_VERSION = "1.4.2"
RELEASE_IMAGES = ("api", "worker")

Clients = Callable[[str], Any]  # service name -> a boto3 client of the local stack


def provision(
    t: Template, client: Clients, bus: str, release_registry: Registry, workdir: Path, chart_version: str
) -> list[ReleaseImage]:
    """Create everything the template declares, in dependency order; returns the seeded release."""
    create_tables(t, client)
    create_buckets_and_queues(t, client)
    create_secrets(t, client)
    if bus != "default":
        client("events").create_event_bus(Name=bus)
    create_functions(t, client)
    create_codebuild_projects(t, client)
    release = publish_release(t, client, release_registry, workdir, chart_version)
    create_state_machines(t, client)
    return release


def create_tables(t: Template, client: Clients) -> None:
    ddb = client("dynamodb")
    for logical, res in t.of_type("AWS::DynamoDB::Table").items():
        props = t.resolve(res["Properties"])
        indexes = (
            {"GlobalSecondaryIndexes": props["GlobalSecondaryIndexes"]} if "GlobalSecondaryIndexes" in props else {}
        )
        ddb.create_table(
            TableName=logical,
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
            **indexes,
        )


def create_buckets_and_queues(t: Template, client: Clients) -> None:
    s3 = client("s3")
    for logical in t.of_type("AWS::S3::Bucket"):
        s3.create_bucket(Bucket=t.ref(logical))
    sqs = client("sqs")
    for logical in t.of_type("AWS::SQS::Queue"):
        sqs.create_queue(QueueName=logical)


def create_secrets(t: Template, client: Clients) -> None:
    """Each secret under the name ``!Ref`` resolves to locally; ``GenerateSecretString`` gives a random value."""
    for logical, res in t.of_type("AWS::SecretsManager::Secret").items():
        props = t.resolve(res.get("Properties") or {})
        value = props.get("SecretString") or generated_secret(props.get("GenerateSecretString") or {})
        description = str(props.get("Description", "")).strip()
        client("secretsmanager").create_secret(Name=str(t.ref(logical)), SecretString=value, Description=description)


def generated_secret(spec: dict[str, Any]) -> str:
    """A value as CloudFormation's ``GenerateSecretString`` makes it: a random password of ``PasswordLength`` from
    the character types not excluded (one of each unless ``RequireEachIncludedType`` is false), put under
    ``GenerateStringKey`` in ``SecretStringTemplate`` when one is given."""
    excluded = set(str(spec.get("ExcludeCharacters", "")))
    kinds = [
        string.ascii_lowercase * (not spec.get("ExcludeLowercase")),
        string.ascii_uppercase * (not spec.get("ExcludeUppercase")),
        string.digits * (not spec.get("ExcludeNumbers")),
        string.punctuation * (not spec.get("ExcludePunctuation")),
        " " * bool(spec.get("IncludeSpace")),
    ]
    kinds = ["".join(c for c in kind if c not in excluded) for kind in kinds]
    alphabet, length = "".join(kinds), int(spec.get("PasswordLength", 32))
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if not spec.get("RequireEachIncludedType", True) or all(set(k) & set(password) for k in kinds if k):
            break
    if "SecretStringTemplate" not in spec:
        return password
    document = json.loads(spec["SecretStringTemplate"])
    document[spec["GenerateStringKey"]] = password
    return json.dumps(document)


def _lambda_role(client: Clients) -> str:
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    }
    role = client("iam").create_role(RoleName="onboarding-local-lambda", AssumeRolePolicyDocument=json.dumps(trust))
    return str(role["Role"]["Arn"])


def create_functions(t: Template, client: Clients) -> None:
    """Each function with a stub package (the local stack runs the real handler in-process), and its rules."""
    events = client("events")
    role = _lambda_role(client)
    lam = client("lambda")
    stub = io.BytesIO()
    with zipfile.ZipFile(stub, "w") as z:
        z.writestr("app.py", "# the local stack runs the real handler from functions/ in-process\n")
    for logical, res in t.of_type("AWS::Serverless::Function").items():
        lam.create_function(
            FunctionName=logical,
            Runtime=t.function_property(logical, "Runtime"),
            Role=role,
            Handler=t.function_property(logical, "Handler"),
            Code={"ZipFile": stub.getvalue()},
            Timeout=int(t.function_property(logical, "Timeout") or 3),
        )
        create_rules(t, events, logical, res)


def create_rules(t: Template, events: Any, logical: str, res: dict[str, Any]) -> None:
    """The function's EventBridgeRule events: a rule each, targeting the function (retry policy, DLQ)."""
    for event_name, spec in (res["Properties"].get("Events") or {}).items():
        if spec["Type"] != "EventBridgeRule":
            continue
        props = t.resolve(spec["Properties"])
        rule = f"{logical}{event_name}"
        events.put_rule(
            Name=rule,
            EventBusName=props.get("EventBusName", "default"),
            EventPattern=json.dumps(props["Pattern"]),
            State="ENABLED",
        )
        target: dict[str, Any] = {"Id": logical, "Arn": t.get_att(logical, "Arn")}
        if "RetryPolicy" in props:
            target["RetryPolicy"] = props["RetryPolicy"]
        if "DeadLetterConfig" in props:
            target["DeadLetterConfig"] = {"Arn": props["DeadLetterConfig"]["Arn"]}
        events.put_targets(Rule=rule, EventBusName=props.get("EventBusName", "default"), Targets=[target])


def create_codebuild_projects(t: Template, client: Clients) -> None:
    for logical, res in t.of_type("AWS::CodeBuild::Project").items():
        props = t.resolve(res["Properties"])
        client("codebuild").create_project(
            name=logical,
            source={"type": "NO_SOURCE", "buildspec": props["Source"]["BuildSpec"], "location": "none"},
            artifacts={"type": "NO_ARTIFACTS"},
            environment={
                "type": "LINUX_CONTAINER",
                "image": props["Environment"]["Image"],
                "computeType": props["Environment"]["ComputeType"],
            },
            serviceRole=props["ServiceRole"],
            timeoutInMinutes=int(props.get("TimeoutInMinutes", 60)),
        )


def publish_release(
    t: Template, client: Clients, registry: Registry, workdir: Path, chart_version: str
) -> list[ReleaseImage]:
    """Push the demo release's images to the release registry and describe it in the release parameter."""
    release = seed_release(registry, workdir, RELEASE_VERSION, RELEASE_IMAGES)
    client("ssm").put_parameter(
        Name=t.params["ReleaseParameterName"],
        Type="String",
        Value=json.dumps(
            {
                "version": RELEASE_VERSION,
                "chartVersion": chart_version,
                "registry": registry.host,
                "region": REGION,
                # repositories relative to the registry, as on AWS (the pipeline puts the registry in front)
                "images": [
                    {"name": i.name, "repository": i.repository.removeprefix(f"{registry.host}/"), "digest": i.digest}
                    for i in release
                ],
            }
        ),
    )
    return release


def create_state_machines(t: Template, client: Clients) -> None:
    sfn = client("stepfunctions")
    for logical, res in t.of_type("AWS::Serverless::StateMachine").items():
        props = res["Properties"]
        definition = (t.root / props["DefinitionUri"]).read_text()
        for key, value in t.resolve(props.get("DefinitionSubstitutions", {})).items():
            definition = definition.replace("${" + key + "}", str(value))
        sfn.create_state_machine(
            name=logical,
            definition=definition,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/onboarding-local-states",
            type=props.get("Type", "STANDARD"),
        )


def bootstrap_tenant_account(account: str, tenant_id: str, trusted_account: str, external_id: str | None) -> str:
    """Deploy tenant-account/bootstrap.yaml's role into ``account`` (as the customer would); returns its ARN."""
    from moto.iam.models import iam_backends

    bootstrap = Template(
        REPO_ROOT / "tenant-account" / "bootstrap.yaml",
        parameters={
            "TenantId": tenant_id,
            "ProviderPipelineRoleArns": f"arn:aws:iam::{trusted_account}:role/onboarding-pipeline",
        },
    )
    role = bootstrap.resolve(bootstrap.resources["OnboardingRole"]["Properties"])
    trust = role["AssumeRolePolicyDocument"]
    if external_id is not None:
        trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"] = external_id
    iam = iam_backends[account]["global"]
    created = iam.create_role(
        role_name=role["RoleName"],
        assume_role_policy_document=json.dumps(trust),
        path="/",
        permissions_boundary=None,
        description=role.get("Description", ""),
        tags=[],
        max_session_duration=str(role.get("MaxSessionDuration", 3600)),
    )
    for policy in role.get("Policies", []):
        iam.put_role_policy(role["RoleName"], policy["PolicyName"], json.dumps(policy["PolicyDocument"]))
    return str(created.arn)
