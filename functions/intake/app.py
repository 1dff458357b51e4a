"""Intake: EventBridge ``Tenant Signup Requested`` -> validated signup -> one onboarding execution."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from onboarding.observability import MetricUnit, logger, metrics, tracer
from onboarding.ports import EventPublisher, ExecutionStarter, TenantStore
from onboarding.runtime import event_publisher, execution_starter, idempotency_store, tenant_store
from onboarding.settings.signup import SignupIntakeSettings
from onboarding.steps.intake import handle_signup

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer


@logger.inject_lambda_context(correlation_id_path="detail.signupId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(
    event: dict[str, Any],
    context: LambdaContext,
    starter: ExecutionStarter | None = None,
    publisher: EventPublisher | None = None,
    tenants: TenantStore | None = None,
    persistence: BasePersistenceLayer | None = None,
) -> dict[str, Any]:
    # Powertools' idempotency package imports boto3 with its DynamoDB layer: loaded with the first event, as the
    # other functions load boto3 with their first client, not during the cold start's import.
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

    settings = SignupIntakeSettings()
    envelope = parse(event=event, model=EventBridgeModel)
    config = IdempotencyConfig(expires_after_seconds=3600)
    config.register_lambda_context(context)

    # EventBridge delivers at least once: a redelivered event id returns the first result.
    @idempotent_function(
        data_keyword_argument="event_id",
        persistence_store=persistence or idempotency_store(settings.idempotency_table),
        config=config,
    )
    def process(event_id: str) -> dict[str, Any]:
        return handle_signup(
            envelope.detail,
            starter=starter or execution_starter(settings.onboarding_state_machine_arn),
            publisher=publisher or event_publisher(settings),
            tenants=tenants or tenant_store(settings),
            cluster_cidrs=settings.cluster_cidrs,
            name_release_after=timedelta(days=settings.name_release_after_days),
        ).wire()

    result = process(event_id=envelope.id)
    metrics.add_metric(name=f"Signup{result['outcome'].title()}", unit=MetricUnit.Count, value=1)
    return result
