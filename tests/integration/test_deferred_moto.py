"""The local stack defers moto's Batch and EC2 packages (onboarding_local.deferred): moto's Step Functions engine
and SSM models import without them, and both still work when something uses them. Run in a fresh interpreter,
as a stack's process starts: a test worker may have imported them already. This is the guard for a moto upgrade
that imports them some other way."""

from __future__ import annotations

import json
import subprocess
import sys

from onboarding_local.stack import REPO_ROOT

SCRIPT = """
import json, sys
from onboarding_local import deferred
deferred.defer_moto_packages()
import moto.stepfunctions.parser.models, moto.ssm.models, moto.ssm.responses
before = sorted(m for m in ("moto.ec2.models", "moto.batch.models") if m in sys.modules)
import moto.backends
from moto.core.base_backend import BackendDict
looked_up = moto.backends.get_backend("ec2")  # as moto's server and mock_aws find a service: the real one, loaded
from moto.ec2.models import EC2Backend
from moto.batch.models import BatchBackend
from moto.ssm.models import ec2_backends as bound_by_ssm
ec2 = bound_by_ssm["111122223333"]["eu-west-1"]
import moto.batch, moto.ec2
print(json.dumps({
    "loaded_before_use": before,
    "lookup_is_the_backends": isinstance(looked_up, BackendDict),
    "ssm_sees_ec2": isinstance(ec2, EC2Backend),
    "same_backends": moto.ec2.ec2_backends is sys.modules["moto.ec2.models"].ec2_backends,
    "batch": isinstance(moto.batch.batch_backends["111122223333"]["eu-west-1"], BatchBackend),
}))
"""


def test_moto_s_engine_and_ssm_load_without_ec2_and_batch_which_work_when_used() -> None:
    env = {"PYTHONPATH": f"{REPO_ROOT / 'local'}:{REPO_ROOT / 'layers' / 'shared'}", "AWS_DEFAULT_REGION": "eu-west-1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "loaded_before_use": [],
        "lookup_is_the_backends": True,
        "ssm_sees_ec2": True,
        "same_backends": True,
        "batch": True,
    }
