"""What ``serve`` tells the operator to paste: the AWS CLI's environment, a first signup, and how to subscribe to
the outcome events (an EventBridge rule to an SQS queue, as a consumer of the pipeline would on AWS).

The commands carry no endpoint: with the exports applied, the AWS CLI (v2, and v1 with botocore 1.31 or newer)
reads ``AWS_ENDPOINT_URL``, so they are the commands one runs on AWS. Except for SQS: AWS CLI v1 pins SQS in
us-east-1 to its legacy endpoint (queue.amazonaws.com) over ``AWS_ENDPOINT_URL``, so ``aws sqs`` is given
``--endpoint-url "$AWS_ENDPOINT_URL"`` (drop it on AWS).
"""

from __future__ import annotations

import json
import shlex

OUTCOME_QUEUE = "onboarding-outcomes"  # the queue and rule names the subscribe commands use


def exports(endpoint: str, region: str) -> list[str]:
    """One ``export`` line: any access key works on the local stack, but the AWS CLI refuses to sign without one."""
    values = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": region,
    }
    return ["export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in values.items())]


def try_commands(bus: str, signup_source: str, machine: str) -> list[str]:
    detail = {"signupId": "s-1", "tenantName": "Demo", "adminEmail": "a@b.example", "tier": "basic"}
    entry = {"Source": signup_source, "DetailType": "Tenant Signup Requested", "Detail": json.dumps(detail)}
    entry |= {"EventBusName": bus}
    return [
        f"aws events put-events --entries {shlex.quote(json.dumps([entry]))}",
        f"aws stepfunctions list-executions --state-machine-arn {machine}",
    ]


def subscribe_commands(bus: str, status_source: str, account: str, region: str) -> list[str]:
    """Make a queue and a rule on the bus sending it every outcome event (source ``status_source``); read it."""
    queue_arn = f"arn:aws:sqs:{region}:{account}:{OUTCOME_QUEUE}"
    pattern = json.dumps({"source": [status_source]})
    sqs = 'aws sqs --endpoint-url "$AWS_ENDPOINT_URL"'
    url = f'"$({sqs} get-queue-url --queue-name {OUTCOME_QUEUE} --query QueueUrl --output text)"'
    return [
        f"{sqs} create-queue --queue-name {OUTCOME_QUEUE}",
        f"aws events put-rule --name {OUTCOME_QUEUE} --event-bus-name {bus} --event-pattern {shlex.quote(pattern)}",
        f"aws events put-targets --rule {OUTCOME_QUEUE} --event-bus-name {bus} --targets Id=outcomes,Arn={queue_arn}",
        f"{sqs} receive-message --queue-url {url} --max-number-of-messages 10 --wait-time-seconds 5 "
        "--query 'Messages[].Body' --output text",
        "# on AWS: no --endpoint-url, and the queue needs a policy that lets events.amazonaws.com send to it",
    ]
