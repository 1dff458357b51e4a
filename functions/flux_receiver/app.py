"""FluxReceiver: notification-controller events (generic-hmac) -> verified verdicts -> the waiting execution."""

import base64
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.observability import MetricUnit, logger, metrics, tracer
from onboarding.runtime import reconcile_store, secret_value, task_callbacks, tenant_store, utcnow
from onboarding.settings.reconcile import FluxReceiverSettings
from onboarding.steps.flux_receiver import receive_flux_event


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = FluxReceiverSettings()
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    answer = receive_flux_event(
        body,
        headers.get("x-signature"),
        master_token=lambda: secret_value(settings.flux_receiver_token_secret),  # a failed read: 503, never 401
        tenants=tenant_store(settings),
        store=reconcile_store(settings.reconcile_table),
        callbacks=task_callbacks(),
        now=utcnow,
    )
    metrics.add_metric(name=f"FluxEvents{answer.status}", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="FluxVerdictFailures", unit=MetricUnit.Count, value=answer.body.get("failures", 0))
    headers = {"content-type": "application/json"}
    if answer.retry_after is not None:
        headers["retry-after"] = str(answer.retry_after)
    return {"statusCode": answer.status, "headers": headers, "body": answer.json()}
