"""`postdesk config-reference`: every environment variable, generated into docs/operations.md.

The rows come from the settings classes themselves: for each field of each
process's settings class (nested settings models included), the variable
pydantic-settings reads (alias or prefix), the processes whose class has the
field, its type and bounds, the default in the code (a secret's only as
"unset" or "development placeholder"), the value `compose.yaml` gives the
postdesk containers, what `k8s/` sets (ConfigMap, a workload's `env`, or the
Secret, with the overlays' ConfigMap patches), and the field's description.

Only the region between `START` and `END` of the output file is rewritten;
the rest of the file is written by hand.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import shlex
import sys
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
import yaml
from pydantic import AliasChoices, AliasPath, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"
DEFAULT_OUT = Path("docs/operations.md")

# Each process and its settings class, in the order of the tables.
PROCESSES: dict[str, str] = {
    "gateway": "postdesk_gateway.settings:GatewaySettings",
    "ingest": "postdesk_ingest.settings:IngestSettings",
    "parser": "postdesk_parser.settings:ParserSettings",
    "router": "postdesk_router.settings:RouterSettings",
    "notifier": "postdesk_notifier.settings:NotifierSettings",
    "outbound": "postdesk_outbound.settings:OutboundSettings",
    "cli": "postdesk_cli.settings:CliSettings",
    "mailsink": "postdesk_outbound.mailsink:MailsinkSettings",
}
TITLES = {
    "cli": "the `postdesk` command (migrate, demo, blobs, admin commands)",
    "mailsink": "mailsink (the development mail sink `postdesk up` starts)",
}
# Names of secrets whose type is a plain `str` (JWT_SECRET); SecretStr fields are secrets anyway.
SECRET_NAME = re.compile(r"_(SECRET|PASSWORD|TOKEN)$")
PLACEHOLDER = "development placeholder, refused in production"
FALLBACK = re.compile(r"^\$\{(\w+):-.*\}$")
MIB = 1024 * 1024


class ConfigReferenceError(Exception):
    """The output file cannot take the reference (no markers), or an input is missing."""


@dataclass(frozen=True)
class Source:
    """One field as one process's settings read it; `owner` is the class whose env source
    reads it (a nested settings model reads its own variables)."""

    process: str
    owner: type[BaseSettings]
    name: str
    info: FieldInfo


@dataclass
class Setting:
    env: str
    sources: list[Source] = field(default_factory=list)

    @property
    def processes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.process for s in self.sources))

    @property
    def secret(self) -> bool:
        return any(_is_secret(self.env, s.info) for s in self.sources)

    @property
    def description(self) -> str | None:
        for source in self.sources:
            if text := description_of(source.owner, source.name):
                return text
        return None


@dataclass(frozen=True)
class Deployed:
    """What the image, compose.yaml and k8s/ set, by variable."""

    image: dict[str, str]  # the Dockerfile's ENV of the final stage
    compose: dict[str, dict[str, str]]  # variable -> compose service -> value
    compose_services: tuple[str, ...]
    configmap: dict[str, str]
    overlays: dict[str, dict[str, str]]  # variable -> overlay -> ConfigMap value
    workload_env: dict[str, dict[str, str]]  # variable -> workload -> literal value
    secret_keys: frozenset[str]
    secret_refs: dict[str, list[str]]  # variable -> workloads reading it from the Secret
    workloads: tuple[str, ...]  # Deployments and Jobs
    deployments: tuple[str, ...]


def load_processes() -> dict[str, type[BaseSettings]]:
    """The settings class of every process (imports every service)."""
    loaded: dict[str, type[BaseSettings]] = {}
    for process, target in PROCESSES.items():
        module, _, name = target.partition(":")
        loaded[process] = getattr(importlib.import_module(module), name)
    return loaded


def env_name(owner: type[BaseSettings], name: str, info: FieldInfo) -> str:
    """The variable pydantic-settings reads first for the field (case-insensitive: upper)."""
    alias: Any = info.validation_alias
    if isinstance(alias, AliasChoices):
        alias = alias.choices[0]
    if isinstance(alias, AliasPath):
        alias = alias.path[0]
    if isinstance(alias, str):
        return alias.upper()
    return (str(owner.model_config.get("env_prefix", "")) + name).upper()


def _nested_settings(info: FieldInfo) -> type[BaseSettings] | None:
    annotation = info.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
        return annotation
    return None


def _sources(process: str, cls: type[BaseSettings]) -> Iterator[Source]:
    for name, info in cls.model_fields.items():
        nested = _nested_settings(info)
        if nested is not None:
            yield from _sources(process, nested)
        else:
            yield Source(process, cls, name, info)


def collect(processes: Mapping[str, type[BaseSettings]]) -> list[Setting]:
    """Every variable, in the order of first appearance, with the fields that read it."""
    settings: dict[str, Setting] = {}
    for process, cls in processes.items():
        for source in _sources(process, cls):
            env = env_name(source.owner, source.name, source.info)
            settings.setdefault(env, Setting(env)).sources.append(source)
    return list(settings.values())


def description_of(owner: type[BaseSettings], name: str) -> str | None:
    """The field's description, or the one of the class it overrides (`http_port: int = 8002`)."""
    for klass in owner.__mro__:
        fields: dict[str, FieldInfo] = getattr(klass, "__pydantic_fields__", {})
        if name in fields and fields[name].description:
            return fields[name].description
    return None


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _is_secret(env: str, info: FieldInfo) -> bool:
    return _without_none(info.annotation) is SecretStr or SECRET_NAME.search(env) is not None


def _number(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


BASIC_TYPES: dict[Any, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "text",
    Path: "path",
    SecretStr: "text",
}


def type_text(info: FieldInfo) -> str:
    """The type, its allowed values and bounds, as the reader sets it."""
    annotation = _without_none(info.annotation)
    if get_origin(annotation) is Literal:
        text = "one of " + ", ".join(f"`{choice}`" for choice in get_args(annotation))
    elif get_origin(annotation) is list:
        (item,) = get_args(annotation)
        text = f"list of {BASIC_TYPES.get(item, getattr(item, '__name__', str(item)))}"
    else:
        text = BASIC_TYPES.get(annotation, getattr(annotation, "__name__", str(annotation)))
    bounds = []
    for rule in info.metadata:
        if isinstance(rule, annotated_types.Ge):
            bounds.append(f"≥ {_number(rule.ge)}")  # type: ignore[arg-type]
        elif isinstance(rule, annotated_types.Gt):
            bounds.append(f"> {_number(rule.gt)}")  # type: ignore[arg-type]
        elif isinstance(rule, annotated_types.Le):
            bounds.append(f"≤ {_number(rule.le)}")  # type: ignore[arg-type]
        elif isinstance(rule, annotated_types.Lt):
            bounds.append(f"< {_number(rule.lt)}")  # type: ignore[arg-type]
        elif isinstance(rule, annotated_types.MinLen):
            bounds.append("non-empty" if rule.min_length == 1 else f"{rule.min_length}+ characters")
        elif isinstance(rule, annotated_types.MaxLen):
            bounds.append(f"at most {rule.max_length} characters")
    return ", ".join([text, *bounds])


def _size(env: str, value: int) -> str:
    if not env.endswith("_BYTES") or value < 1024 or value % 1024:
        return ""
    return f" ({_number(value / MIB)} MiB)" if value % MIB == 0 else f" ({value // 1024} KiB)"


def default_text(env: str, info: FieldInfo) -> str:
    """The default in the code; a secret's value never appears."""
    value = info.get_default(call_default_factory=True)
    if value is PydanticUndefined:
        return "required"
    if value is None:
        return "unset"
    if _is_secret(env, info):
        return f"(secret) {PLACEHOLDER}"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, int | float):
        return f"`{_number(value)}`" + (_size(env, value) if isinstance(value, int) else "")
    if isinstance(value, str) and not value:
        return "empty"
    if isinstance(value, list):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def _code(value: str) -> str:
    return f"`{value}`" if value else "empty"


def _grouped(values: Mapping[str, str], everyone: tuple[str, ...]) -> str:
    """`value` when all of `everyone` agree, else each value with who has it."""
    by_value: dict[str, list[str]] = {}
    for who, value in sorted(values.items(), key=lambda item: item[1]):
        by_value.setdefault(value, []).append(who)
    if len(by_value) == 1 and set(values) >= set(everyone):
        return _code(next(iter(by_value)))
    return "; ".join(f"{_code(value)} ({', '.join(who)})" for value, who in by_value.items())


def _short(workload: str) -> str:
    return workload.removeprefix("postdesk-")


def compose_text(setting: Setting, deployed: Deployed) -> str:
    values = deployed.compose.get(setting.env)
    if not values:
        return "default"
    if setting.secret:
        value = next(iter(values.values()))
        matched = FALLBACK.match(value)
        return (
            f"`${{{matched.group(1)}}}` from the shell or `.env`, else a development value"
            if matched
            else "a development value"
        )
    return _grouped(values, deployed.compose_services)


def k8s_text(setting: Setting, deployed: Deployed) -> str:
    parts = []
    env = setting.env
    if env in deployed.configmap:
        value = "set" if setting.secret else _code(deployed.configmap[env])
        overlays = deployed.overlays.get(env, {})
        notes = "".join(f" ({name} overlay: {_code(v)})" for name, v in overlays.items())
        parts.append(f"ConfigMap: {value}{notes}")
    if literal := deployed.workload_env.get(env):
        everyone = tuple(map(_short, deployed.workloads))
        parts.append(_grouped({_short(w): v for w, v in literal.items()}, everyone))
    if env in deployed.secret_keys or env in deployed.secret_refs:
        readers = deployed.secret_refs.get(env, [])
        read_by_all = set(readers) >= set(deployed.deployments)
        parts.append(
            "Secret"
            if read_by_all or not readers
            else f"Secret ({', '.join(map(_short, readers))})"
        )
    return "; ".join(parts) or "default"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _compose(path: Path) -> tuple[dict[str, dict[str, str]], tuple[str, ...]]:
    document = yaml.safe_load(path.read_text())
    values: dict[str, dict[str, str]] = {}
    services = []
    for name, service in (document.get("services") or {}).items():
        if "build" not in service:
            continue  # PostgreSQL, RabbitMQ, Mailpit: not postdesk containers
        services.append(name)
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.partition("=")[::2] for item in environment)
        for key, value in environment.items():
            text = str(value).lower() if isinstance(value, bool) else str(value or "")
            values.setdefault(str(key).upper(), {})[name] = text
    return values, tuple(services)


def _image_env(dockerfile: Path) -> dict[str, str]:
    """The ENV of the Dockerfile's final stage (what the image sets), if there is a Dockerfile."""
    if not dockerfile.exists():
        return {}
    text = dockerfile.read_text().replace("\\\n", " ")
    final_stage = re.split(r"^FROM\s", text, flags=re.MULTILINE)[-1]
    values: dict[str, str] = {}
    for line in final_stage.splitlines():
        words = line.strip()
        if words.upper().startswith("ENV "):
            for pair in shlex.split(words[4:]):
                key, sep, value = pair.partition("=")
                if sep:
                    values[key.upper()] = value
    return values


def _yaml_documents(directory: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(directory.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict):
                yield document


def _overlay_configmap_patches(overlays: Path, configmap: str) -> dict[str, dict[str, str]]:
    values: dict[str, dict[str, str]] = {}
    for kustomization in sorted(overlays.glob("*/kustomization.yaml")):
        overlay = kustomization.parent.name
        for patch in yaml.safe_load(kustomization.read_text()).get("patches") or []:
            target = patch.get("target") or {}
            if target.get("kind") != "ConfigMap" or target.get("name") != configmap:
                continue
            operations = yaml.safe_load(patch.get("patch") or "[]")
            for operation in operations if isinstance(operations, list) else []:
                path = str(operation.get("path", ""))
                if operation.get("op") in ("add", "replace") and path.startswith("/data/"):
                    key = path.removeprefix("/data/")
                    values.setdefault(key, {})[overlay] = str(operation.get("value"))
    return values


def read_deployed(root: Path) -> Deployed:
    """What `root`'s compose.yaml and k8s/ (base and overlays) set."""
    compose_file, base = root / "compose.yaml", root / "k8s" / "base"
    for required in (compose_file, base):
        if not required.exists():
            raise ConfigReferenceError(f"{required} not found (run from the repository, or --root)")
    compose, compose_services = _compose(compose_file)
    configmap: dict[str, str] = {}
    configmap_name = "postdesk-config"
    secret_keys: set[str] = set()
    workload_env: dict[str, dict[str, str]] = {}
    secret_refs: dict[str, list[str]] = {}
    workloads: list[str] = []
    deployments: list[str] = []
    for document in _yaml_documents(base):
        kind, name = document.get("kind"), document.get("metadata", {}).get("name", "")
        if kind == "ConfigMap":
            configmap_name = name
            configmap.update({k: str(v) for k, v in (document.get("data") or {}).items()})
        elif kind == "Secret":
            secret_keys.update(document.get("stringData") or {})
            secret_keys.update(document.get("data") or {})
        elif kind in ("Deployment", "Job"):
            workloads.append(name)
            if kind == "Deployment":
                deployments.append(name)
            for container in document["spec"]["template"]["spec"].get("containers", []):
                for variable in container.get("env") or []:
                    env = str(variable["name"])
                    if "value" in variable:
                        workload_env.setdefault(env, {})[name] = str(variable["value"])
                    elif "secretKeyRef" in (variable.get("valueFrom") or {}):
                        secret_refs.setdefault(env, []).append(name)
    return Deployed(
        image=_image_env(root / "Dockerfile"),
        compose=compose,
        compose_services=compose_services,
        configmap=configmap,
        overlays=_overlay_configmap_patches(root / "k8s" / "overlays", configmap_name),
        workload_env=workload_env,
        secret_keys=frozenset(secret_keys),
        secret_refs=secret_refs,
        workloads=tuple(workloads),
        deployments=tuple(deployments),
    )


def _defaults(setting: Setting, deployed: Deployed) -> str:
    text = _code_defaults(setting)
    if setting.env in deployed.image and not setting.secret:
        text += f" (image: {_code(deployed.image[setting.env])})"
    return text


def _code_defaults(setting: Setting) -> str:
    by_text: dict[str, list[str]] = {}
    for source in setting.sources:
        text = default_text(setting.env, source.info)
        who = by_text.setdefault(text, [])
        if source.process not in who:
            who.append(source.process)
    if len(by_text) == 1:
        return next(iter(by_text))
    return "; ".join(f"{text} ({', '.join(who)})" for text, who in by_text.items())


def _title(processes: tuple[str, ...], everyone: tuple[str, ...]) -> str:
    if set(processes) >= set(everyone):
        return "Every process"
    return ", ".join(TITLES.get(p, p) for p in processes)


def render(processes: Mapping[str, type[BaseSettings]], deployed: Deployed) -> str:
    """The generated region: one table per set of processes sharing the variables."""
    everyone = tuple(processes)
    groups: dict[tuple[str, ...], list[Setting]] = {}
    for setting in collect(processes):
        groups.setdefault(setting.processes, []).append(setting)
    lines = [
        "<!-- Generated by `postdesk config-reference` from the settings classes, compose.yaml"
        " and k8s/. Do not edit: change the Field descriptions, then run the command. -->",
    ]
    for group, settings in groups.items():
        lines += [
            "",
            f"### {_title(group, everyone)}",
            "",
            "| variable | type | default (in the code) | compose | Kubernetes | meaning |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for setting in settings:
            cells = [
                f"`{setting.env}`",
                type_text(setting.sources[0].info),
                _defaults(setting, deployed),
                compose_text(setting, deployed),
                k8s_text(setting, deployed),
                setting.description or "**no description**",
            ]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def replace_region(document: str, region: str) -> str:
    """`document` with the text between the markers replaced by `region`."""
    start, end = document.find(START), document.find(END)
    if start < 0 or end < start:
        raise ConfigReferenceError(f"the file needs the markers {START} and {END}, in that order")
    return document[: start + len(START)] + "\n" + region + "\n" + document[end:]


def add_config_reference_command(commands: argparse._SubParsersAction[Any]) -> None:
    command = commands.add_parser(
        "config-reference",
        help="write the configuration reference (every environment variable) into the docs",
    )
    command.add_argument("--out", type=Path, default=DEFAULT_OUT)
    command.add_argument(
        "--root", type=Path, default=Path(), help="the repository (compose.yaml, k8s/)"
    )
    command.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if the file is out of date"
    )


def run_config_reference(args: argparse.Namespace) -> int:
    out: Path = args.out
    try:
        current = out.read_text()
        updated = replace_region(current, render(load_processes(), read_deployed(args.root)))
    except (OSError, ConfigReferenceError) as error:
        print(f"postdesk config-reference: {error}", file=sys.stderr)
        return 1
    if args.check:
        if updated != current:
            print(f"{out} is out of date: run `postdesk config-reference`", file=sys.stderr)
            return 1
        print(f"{out} is up to date")
        return 0
    out.write_text(updated)
    print(f"wrote the configuration reference into {out}")
    return 0
