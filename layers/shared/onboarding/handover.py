"""The customer handover guide of a hybrid tenant: node image, activation, network, upgrades.

It names the secret that holds the activation, never the activation id or code themselves.
"""

from __future__ import annotations

from datetime import datetime

from onboarding.contract.signup import HybridSpec
from onboarding.manifests import NODE_LABEL, TAINT_KEY, GitOpsLayout


def render_handover(
    *,
    tenant_id: str,
    tenant_name: str,
    spec: HybridSpec,
    activation_secret_arn: str,
    region: str,
    cluster_name: str,
    expires: datetime,
    layout: GitOpsLayout,
) -> str:
    node_cidrs = ", ".join(str(c) for c in spec.node_cidrs)
    pod_cidrs = ", ".join(str(c) for c in spec.pod_cidrs)
    services = (
        "A PostgreSQL database runs on your hybrid nodes, deployed and upgraded by the provider through GitOps. "
        "Give the nodes a persistent volume provisioner (for example a local-path or CSI driver)."
        if spec.supporting_services == "bundled"
        else f"Your own database at `{spec.database_endpoint}` is used. The provider reads its credentials from "
        f"`{spec.database_secret_arn}`; keep that endpoint reachable from the pod ranges below."
    )
    endpoints = "\n".join(f"| {e.cidr} | {e.port}/{e.protocol} | {e.description} |" for e in layout.shared_endpoints)
    return f"""# EKS Hybrid Nodes handover - {tenant_name} (`{tenant_id}`)

This guide is for the customer's infrastructure team. Your workloads run on your own machines,
joined as EKS Hybrid Nodes to the provider's cluster `{cluster_name}` in `{region}`.

## 1. Get the activation

The provider hands you the Systems Manager hybrid activation (id and code) over a secure channel.
It is stored in AWS Secrets Manager as `{activation_secret_arn}` and is **not** part of this document.

- Nodes it can register: **{spec.node_count}**
- Expires: **{expires:%Y-%m-%d %H:%M} UTC**. Ask the provider for a new one if you boot nodes later.

## 2. Build and boot the node image

1. Start from the provider's node image (OVA/AMI) with `nodeadm` and the container runtime installed.
2. Write `/etc/eks/nodeconfig.yaml`:

   ```yaml
   apiVersion: node.eks.aws/v1alpha1
   kind: NodeConfig
   spec:
     cluster:
       name: {cluster_name}
       region: {region}
     hybrid:
       ssm:
         activationId: <activation id from the secret>
         activationCode: <activation code from the secret>
     kubelet:
       flags:
         - --node-labels={NODE_LABEL}={tenant_id}
         - --register-with-taints={TAINT_KEY}={tenant_id}:NoSchedule
   ```

3. Run `nodeadm init -c file:///etc/eks/nodeconfig.yaml` on each node (at most {spec.node_count}).

The label and taint pin your workloads to your nodes: only this tenant's workloads tolerate the
taint, and they select only nodes with the label.

## 3. Routes and VPN

- Node ranges: `{node_cidrs}`. Pod ranges: `{pod_cidrs}`.
- Set up an AWS Site-to-Site VPN (or Direct Connect) between your network and the provider's VPC.
- Route your node and pod ranges to the VPN, and accept traffic from the cluster's VPC ranges.
- Allow outbound HTTPS (443) to the EKS API endpoint and Systems Manager in `{region}`, and inbound
  10250/tcp (kubelet) from the cluster's control plane.
- The tenant's pods may reach only their own namespace and these shared endpoints:

| CIDR | port | purpose |
|---|---|---|
{endpoints}

## 4. Supporting services

{services}

## 5. Who upgrades what

| | you (the customer) | the provider |
|---|---|---|
| hybrid nodes: OS, kubelet, `nodeadm upgrade` | yes, in your maintenance windows | publishes supported versions |
| EKS control plane version | | yes, announced ahead of time |
| tenant workloads and their manifests (GitOps) | | yes |
| network, VPN, physical security of the nodes | yes | |

Upgrade nodes one at a time, draining each first (`kubectl drain`), and keep node versions within
the skew the control plane supports.
"""  # noqa: S608 - a Markdown document, not SQL
