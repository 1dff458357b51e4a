"""Reads template.yaml and resolves the intrinsics the local stack needs (Ref, GetAtt, Sub, If, conditions)."""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT = "123456789012"
REGION = "us-east-1"


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML with CloudFormation's short tags; libyaml's parser when PyYAML has it (12x faster on template.yaml)."""


def _tag(name: str):  # type: ignore[no-untyped-def]
    key = "Ref" if name == "Ref" else f"Fn::{name}"

    def construct(loader: _Loader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            assert isinstance(node, yaml.MappingNode)
            value = loader.construct_mapping(node, deep=True)
        return {key: value}

    return construct


for _name in ("Ref", "GetAtt", "Sub", "If", "Not", "Equals", "And", "Or", "Join", "Select", "Split", "FindInMap"):
    _Loader.add_constructor(f"!{_name}", _tag(_name))


def load_template(path: Path) -> dict[str, Any]:
    """The template as data: parsed once per content (a stack starting again gets its own copy)."""
    text = path.read_text()
    return copy.deepcopy(_parse(text))


@functools.lru_cache(maxsize=8)
def _parse(text: str) -> dict[str, Any]:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass


_NO_VALUE = object()


@dataclass
class Template:
    path: Path
    parameters: dict[str, str] = field(default_factory=dict)
    stack_name: str = "onboarding-local"

    def __post_init__(self) -> None:
        self.doc = load_template(self.path)
        self.root = self.path.parent
        params = {k: str(v.get("Default", "")) for k, v in self.doc.get("Parameters", {}).items()}
        params.update(self.parameters)
        missing = [k for k, v in params.items() if v == "" and "Default" not in self.doc["Parameters"][k]]
        if missing:
            raise ValueError(f"template parameters without a value: {', '.join(missing)}")
        self.params = params
        self.resources: dict[str, dict[str, Any]] = self.doc["Resources"]
        self.conditions = {k: self._truthy(v) for k, v in self.doc.get("Conditions", {}).items()}

    # ------------------------------------------------------------------ naming
    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == kind}

    def ref(self, logical: str) -> Any:
        if logical in self.params:
            if self.doc["Parameters"][logical].get("Type") == "CommaDelimitedList":
                return [item.strip() for item in self.params[logical].split(",") if item.strip()]
            return self.params[logical]
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": "aws",
        }
        if logical in pseudo:
            return pseudo[logical]
        kind = self.resources[logical]["Type"]
        if kind == "AWS::Serverless::StateMachine":
            return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{logical}"
        if kind == "AWS::S3::Bucket":
            return f"{self.stack_name}-{logical}".lower()
        if kind == "AWS::SQS::Queue":
            return f"http://sqs.{REGION}.localhost.localstack:0/{ACCOUNT}/{logical}"  # replaced by the stack
        return logical

    def get_att(self, logical: str, attribute: str) -> str:
        if logical not in self.resources and logical.endswith("FunctionRole"):  # SAM's generated roles
            return f"arn:aws:iam::{ACCOUNT}:role/{self.stack_name}-{logical}"
        kind = self.resources[logical]["Type"]
        arns = {
            "AWS::Serverless::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{logical}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{logical}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{logical}:*",
            "AWS::Serverless::StateMachine": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{logical}",
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{self.stack_name}-{logical}",
            "AWS::CodeBuild::Project": f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/{logical}",
        }
        if attribute == "Arn":
            return arns[kind]
        if attribute in ("Name", "QueueName"):
            return logical
        raise KeyError(f"GetAtt {logical}.{attribute} is not supported by the local stack")

    # ------------------------------------------------------------------ intrinsics
    def _truthy(self, value: Any) -> bool:
        resolved = self.resolve(value)
        return bool(resolved) and resolved != "false"

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return _NO_VALUE if arg == "AWS::NoValue" else self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(arg[0], arg[1])
            if key == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

                def sub(match: re.Match[str]) -> str:
                    name = match.group(1)
                    if name in extra:
                        return str(extra[name])
                    if "." in name:
                        return self.get_att(*name.split(".", 1))
                    return self.ref(name)

                return re.sub(r"\$\{([^}!]+)\}", sub, text)
            if key == "Fn::If":
                return self.resolve(arg[1] if self.conditions[arg[0]] else arg[2])
            if key == "Fn::Not":
                return not self._truthy(arg[0])
            if key == "Fn::Equals":
                return str(self.resolve(arg[0])) == str(self.resolve(arg[1]))
            if key == "Fn::Join":
                return arg[0].join(str(v) for v in self.resolve(arg[1]))
        return {k: r for k, r in ((k, self.resolve(v)) for k, v in value.items()) if r is not _NO_VALUE}

    # ------------------------------------------------------------------ functions
    def function_environment(self, logical: str) -> dict[str, str]:
        glob = self.doc.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        own = self.resources[logical]["Properties"].get("Environment", {}).get("Variables", {})
        return {k: str(v) for k, v in self.resolve({**glob, **own}).items()}

    def function_property(self, logical: str, name: str) -> Any:
        own = self.resources[logical]["Properties"]
        if name in own:
            return self.resolve(own[name])
        return self.resolve(self.doc.get("Globals", {}).get("Function", {}).get(name))
