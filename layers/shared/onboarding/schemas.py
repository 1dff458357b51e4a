"""JSON Schemas of the event contract, generated from the pydantic models.

``python -m onboarding.schemas schemas/v1`` (``make schemas``) writes one file per detail-type; a
contract test regenerates them in memory and fails when the committed files drift.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from onboarding import CONTRACT_VERSION
from onboarding.contract.catalog import INBOUND_DETAIL_TYPES, OUTBOUND_DETAIL_TYPES

SCHEMA_BASE = "https://schemas.tenant-onboarding.dev/events"


def file_name(detail_type: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", detail_type.lower()).strip("-") + ".json"


def contract_schemas() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    for direction, models in (("inbound", INBOUND_DETAIL_TYPES), ("outbound", OUTBOUND_DETAIL_TYPES)):
        for model, detail_type in models.items():
            schema = model.model_json_schema(
                by_alias=True, mode="validation" if direction == "inbound" else "serialization"
            )
            name = file_name(detail_type)
            result[name] = {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": f"{SCHEMA_BASE}/v{CONTRACT_VERSION}/{name}",
                "title": detail_type,
                "description": f"{direction} event detail, contract version {CONTRACT_VERSION}",
                "x-detail-type": detail_type,
                "x-direction": direction,
                **{k: v for k, v in schema.items() if k != "title"},
            }
    return result


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def main(target: str) -> None:
    out = Path(target)
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in contract_schemas().items():
        (out / name).write_text(render(schema), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "schemas/v1")
