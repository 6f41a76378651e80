"""The OpenAPI document is complete: every model it documents carries an example that its
model accepts, every operation is described and named once, every parameter described.

Built from the app without a database or broker: the document needs neither. The
examples are read from the rendered document, as clients and schemathesis see them
(Litestar drops `null` values from them, so a required nullable field needs a value).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections import Counter
from collections.abc import Iterator
from typing import Any

import postdesk_contracts
import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]  # no stubs installed
from postdesk_gateway.main import create_app
from postdesk_gateway.settings import GatewaySettings
from pydantic import BaseModel, ValidationError

UNREACHABLE_DB = "postgresql://postgres@127.0.0.1:1/nowhere"
UNREACHABLE_AMQP = "amqp://guest:guest@127.0.0.1:1/"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    app = create_app(GatewaySettings(database_url=UNREACHABLE_DB, amqp_url=UNREACHABLE_AMQP))
    assert app.openapi_schema is not None
    # The JSON round trip is what /schema/openapi.json serves.
    rendered: dict[str, Any] = json.loads(json.dumps(app.openapi_schema.to_schema()))
    return rendered


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value.rpartition("/")[2]
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def documented_models(document: dict[str, Any]) -> set[str]:
    """Component names of the models in request bodies and 2xx responses, nested ones too."""
    schemas = document["components"]["schemas"]
    found: set[str] = set()
    for _, _, operation in _operations(document):
        found.update(_refs(operation.get("requestBody", {})))
        for status, response in operation.get("responses", {}).items():
            if status.startswith("2"):
                found.update(_refs(response))
    pending = list(found)
    while pending:
        for name in _refs(schemas[pending.pop()]):
            if name not in found:
                found.add(name)
                pending.append(name)
    return {name for name in found if schemas[name].get("type") == "object"}


def contract_models() -> dict[str, type[BaseModel]]:
    """The API models by class name; Litestar names their components so."""
    models: dict[str, type[BaseModel]] = {}
    for module_info in pkgutil.iter_modules(postdesk_contracts.__path__):
        module = importlib.import_module(f"postdesk_contracts.{module_info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module.__name__
            ):
                models[value.__name__] = value
    return models


def _own_example(model: type[BaseModel]) -> Any:
    """The model's example unless it only inherits its parent's."""
    example = dict(model.model_config).get("example")
    parents = [base for base in model.__mro__[1:] if issubclass(base, BaseModel)]
    if any(dict(parent.model_config).get("example") is example for parent in parents):
        return None
    return example


def test_every_documented_model_has_its_own_example(document: dict[str, Any]) -> None:
    """Request and 2xx response models, and the models inside them, all carry an example of
    their own (a subclass does not pass on its parent's)."""
    documented = documented_models(document)
    assert {"ReplyRequest", "TicketDetail", "InboxPage", "AccountList"} <= documented
    models = contract_models()
    schemas = document["components"]["schemas"]

    not_contracts = sorted(documented - set(models))
    assert not not_contracts, f"API models belong in postdesk_contracts: {not_contracts}"
    lacking = sorted(name for name in documented if not schemas[name].get("examples"))
    assert not lacking, f"models without an example (see api_examples.example_config): {lacking}"
    inherited = sorted(name for name in documented if _own_example(models[name]) is None)
    assert not inherited, f"models that only inherit their parent's example: {inherited}"


def test_every_example_is_valid_for_its_model_and_its_schema(document: dict[str, Any]) -> None:
    """Each example, as rendered, is accepted by its pydantic model (as a JSON request body
    is), names only the model's fields and conforms to its schema in the document."""
    models = contract_models()
    schemas = document["components"]["schemas"]
    checked = 0
    failures: list[str] = []
    for name, schema in sorted(schemas.items()):
        if schema.get("type") != "object":
            continue
        model = models[name]
        fields = {info.alias or field for field, info in model.model_fields.items()}
        validator = Draft202012Validator(
            {"components": document["components"], "$ref": f"#/components/schemas/{name}"}
        )
        for example in schema.get("examples", []):
            checked += 1
            try:
                model.model_validate_json(json.dumps(example))
            except ValidationError as error:
                failures.append(f"{name}: {error}")
            if unknown := sorted(set(example) - fields):
                failures.append(f"{name}: fields it does not have: {unknown}")
            failures.extend(f"{name}: {e.message}" for e in validator.iter_errors(example))
    assert checked >= len(documented_models(document))
    assert not failures, "\n".join(failures)


def test_every_operation_is_described_and_named_once(document: dict[str, Any]) -> None:
    """Every operation has a summary or description, and an operationId no other has."""
    undescribed: list[str] = []
    ids: Counter[str] = Counter()
    for path, method, operation in _operations(document):
        if not (operation.get("summary") or operation.get("description")):
            undescribed.append(f"{method.upper()} {path}")
        ids[operation.get("operationId") or f"<none: {method.upper()} {path}>"] += 1
    assert sum(ids.values()) > 60
    assert not undescribed
    assert [name for name, count in ids.items() if count > 1 or name.startswith("<none")] == []


def test_every_parameter_is_described(document: dict[str, Any]) -> None:
    """Path, query and header parameters say what they do."""
    undescribed: set[tuple[str, str]] = set()
    for path, _, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            if not parameter.get("description"):
                undescribed.add((path, parameter["name"]))
    assert sorted(undescribed) == []
