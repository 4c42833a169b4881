"""A JSON Schema of cutover.toml, generated from the config models, for editors.

Taplo (Even Better TOML in VS Code), JetBrains IDEs and others complete keys and flag typos
from a JSON Schema. It is generated from the same pydantic models that validate a run, each time
it is asked for (`cutover schema`, or `pytest_cutover.schema.config_schema()`), so it never
drifts from what the plugin accepts. Editors see the file as written: a `${VAR}` stands where a
value will be, so a string is accepted wherever a number or a boolean is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import CoreSchema

SHIPPED = "cutover.schema.json"  # beside this module in the installed package
_VARIABLE = {"type": "string", "pattern": r"\$\{", "description": "a ${VARIABLE}"}


class _AsWritten(GenerateJsonSchema):
    """What a person may write, not what the models hold: numbers and booleans may be a `${VAR}`
    that load_config fills in, and a value a model converts before validating it ("5s", "1%",
    "10MB", one status for a list of them, a command line as one string) may also be a string,
    or one item where a list is expected."""

    def function_before_schema(self, schema: CoreSchema) -> JsonSchemaValue:
        inner = super().function_before_schema(schema)  # type: ignore[arg-type]
        text: JsonSchemaValue = {"type": "string"}
        if inner.get("type") != "array" or "items" not in inner:
            return {"anyOf": [inner, text]}
        item = {"anyOf": [inner["items"], text]}
        return {"anyOf": [{**inner, "items": item}, item]}

    def int_schema(self, schema: CoreSchema) -> JsonSchemaValue:
        return {"anyOf": [super().int_schema(schema), _VARIABLE]}  # type: ignore[arg-type]

    def float_schema(self, schema: CoreSchema) -> JsonSchemaValue:
        return {"anyOf": [super().float_schema(schema), _VARIABLE]}  # type: ignore[arg-type]

    def bool_schema(self, schema: CoreSchema) -> JsonSchemaValue:
        return {"anyOf": [super().bool_schema(schema), _VARIABLE]}  # type: ignore[arg-type]


def config_schema() -> dict[str, Any]:
    from pytest_cutover.config import CutoverConfig

    schema = CutoverConfig.model_json_schema(schema_generator=_AsWritten, mode="validation")
    schema["properties"]["steps"] = _steps_schema(sorted(CutoverConfig.model_fields))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "cutover.toml",
        "description": "pytest-cutover: the systems, the gates and the actions of a traffic step",
    }


def _steps_schema(sections: list[str]) -> dict[str, Any]:
    """`[steps.<percent>.<section>]` overlays are read before the models (config.load_config
    merges the run's step over the rest), so the models cannot describe them: an overlay holds
    any keys of its section, checked in full when the config is loaded."""
    overlay = {
        "type": "object",
        "properties": {section: {"type": "object"} for section in sections},
        "additionalProperties": False,
    }
    return {
        "title": "Steps",
        "description": "Overlays merged over the config when --cutover-step is that percent",
        "type": "object",
        "patternProperties": {r"^[0-9]+(\.[0-9]+)?%?$": overlay},
        "additionalProperties": False,
    }


def shipped_path() -> Path:
    """The copy in the installed package, for an editor setting that wants a file; a test
    fails when it differs from what the models generate."""
    return Path(__file__).with_name(SHIPPED)


def schema_text() -> str:
    return json.dumps(config_schema(), indent=2, allow_nan=False) + "\n"
