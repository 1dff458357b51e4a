"""The GitOps bootstrap's options, each checked so that a bad value fails with its command-line flag named."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from onboarding.errors import OnboardingError

CHART_REGISTRY_PROVIDERS = ("aws", "generic")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_HOST_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# One component of an OCI repository name (distribution spec): lowercase alphanumerics and separators.
_OCI_PATH_COMPONENT = re.compile(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$")
_ECR_HOST = re.compile(r"^[0-9]{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
_FLUX_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")  # the pattern of Flux's interval fields
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_DURATION_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_BRANCH = re.compile(r"^[A-Za-z0-9._/-]+$")
_URL_CHARACTERS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$")  # RFC 3986: unreserved, reserved, %
_URL_MAX = 2048  # the Provider CRD's maxLength of spec.address


class InvalidBootstrapOption(OnboardingError):
    """A bootstrap option is not usable; ``option`` is the command-line flag that set it."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option


def _shown(value: str) -> str:
    """A user's value quoted for a one-line message: control characters escaped, long values cut."""
    return repr(value if len(value) <= 80 else value[:77] + "...")


@dataclass(frozen=True)
class BootstrapOptions:
    """The options of ``gitops-bootstrap``, checked on construction. Field names are the flags' names."""

    cluster: str
    chart_registry: str
    receiver_url: str
    chart_registry_provider: str | None = None  # None: aws for an ECR registry, generic otherwise
    interval: str = "5m"
    ingress_namespace: str = "ingress-nginx"
    gitops_branch: str = "main"

    def __post_init__(self) -> None:
        check_label("--cluster", self.cluster, "a cluster name")
        _check_chart_registry(self.chart_registry)
        _check_provider(self.chart_registry, self.chart_registry_provider)
        _check_receiver_url(self.receiver_url)
        _check_interval(self.interval)
        check_label("--ingress-namespace", self.ingress_namespace, "a namespace")
        _check_branch(self.gitops_branch)

    @property
    def registry_host(self) -> str:
        return urlsplit(self.chart_registry).netloc

    @property
    def provider(self) -> str:
        """The HelmRepository's provider: aws (ECR, credentials from the node or Pod Identity) or generic."""
        if self.chart_registry_provider is not None:
            return self.chart_registry_provider
        return "aws" if is_ecr_host(self.registry_host) else "generic"


def is_ecr_host(netloc: str) -> bool:
    return bool(_ECR_HOST.match(netloc))


def check_label(option: str, value: str, what: str) -> None:
    if not isinstance(value, str) or len(value) > 63 or not _DNS1123_LABEL.match(value):
        raise InvalidBootstrapOption(
            option,
            f"{what} must be a DNS-1123 label (lowercase letters, digits and '-', at most 63), got {_shown(value)}",
        )


def _split_url(option: str, value: str) -> SplitResult:
    if not isinstance(value, str) or not value or len(value) > _URL_MAX:
        raise InvalidBootstrapOption(option, f"must be a URL of at most {_URL_MAX} characters")
    if not _URL_CHARACTERS.match(value):
        raise InvalidBootstrapOption(
            option, f"must be a URL of the characters RFC 3986 allows (percent-encode the others), got {_shown(value)}"
        )
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise InvalidBootstrapOption(option, f"is not a URL ({exc}): {_shown(value)}") from exc
    if parts.username is not None or parts.password is not None:
        raise InvalidBootstrapOption(option, "must not carry credentials: the bootstrap files are committed to git")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise InvalidBootstrapOption(option, f"must have no query or fragment, got {_shown(value)}")
    return parts


def _host_ok(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname)
        return True
    except ValueError:
        pass
    labels = hostname.split(".")
    return len(hostname) <= 253 and all(len(label) <= 63 and _HOST_LABEL.match(label) for label in labels)


def _check_chart_registry(value: str) -> None:
    option = "--chart-registry"
    parts = _split_url(option, value)
    if parts.scheme != "oci":
        raise InvalidBootstrapOption(
            option, f"must be an OCI registry URL oci://HOST/PATH (the chart is an OCI artifact), got {_shown(value)}"
        )
    if not parts.hostname or not _host_ok(parts.hostname) or parts.netloc != parts.netloc.lower():
        raise InvalidBootstrapOption(option, f"has no valid lowercase registry host: {_shown(value)}")
    path = parts.path.removeprefix("/")
    if not path or not all(_OCI_PATH_COMPONENT.match(component) for component in path.split("/")):
        raise InvalidBootstrapOption(
            option,
            "must name a repository path under the host (oci://HOST/PATH, lowercase, no trailing '/'), "
            f"got {_shown(value)}",
        )


def _check_provider(registry: str, provider: str | None) -> None:
    option = "--chart-registry-provider"
    if provider is None:
        return
    if provider not in CHART_REGISTRY_PROVIDERS:
        raise InvalidBootstrapOption(
            option, f"must be one of {', '.join(CHART_REGISTRY_PROVIDERS)}, got {_shown(provider)}"
        )
    host = urlsplit(registry).netloc
    if provider == "aws" and not is_ecr_host(host):
        raise InvalidBootstrapOption(
            option, f"aws signs in to Amazon ECR only (<account>.dkr.ecr.<region>.amazonaws.com), not {_shown(host)}"
        )
    if provider == "generic" and is_ecr_host(host):
        raise InvalidBootstrapOption(
            option, f"generic cannot pull from ECR ({_shown(host)}) without credentials; use aws (the default for ECR)"
        )


def _check_receiver_url(value: str) -> None:
    option = "--receiver-url"
    parts = _split_url(option, value)
    if parts.scheme not in ("https", "http") or not parts.hostname or not _host_ok(parts.hostname):
        raise InvalidBootstrapOption(option, f"must be an https:// URL of the receiver, got {_shown(value)}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise InvalidBootstrapOption(
            option, f"must be https:// (http only for a loopback host, in a local stack), got {_shown(value)}"
        )


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _check_interval(value: str) -> None:
    option = "--interval"
    if not isinstance(value, str) or not _FLUX_DURATION.match(value):
        raise InvalidBootstrapOption(option, f"must be a duration such as 5m, 1m30s or 1h, got {_shown(value)}")
    seconds = sum(float(n) * _DURATION_UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(value))
    if seconds < 1:
        raise InvalidBootstrapOption(option, f"must be at least 1s, got {_shown(value)}")


def _check_branch(value: str) -> None:
    option = "--gitops-branch"
    if (
        not isinstance(value, str)
        or not _BRANCH.match(value)
        or value.startswith(("-", "/", "."))
        or value.endswith(("/", ".", ".lock"))
        or ".." in value
        or "//" in value
        or "/." in value
    ):
        raise InvalidBootstrapOption(option, f"must be a git branch name such as main, got {_shown(value)}")
