"""The configuration reference in docs/operations.md against the settings classes.

It must be current (else: `uv run postdesk config-reference`), name every
field by the variable pydantic-settings really reads, describe every field,
and never show a secret's default; the placeholders it calls "refused in
production" must be. The renderer is also checked on a small settings class
and deployment of the test's own, and the command on a file of its own.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
from postdesk_cli import config_reference as ref
from postdesk_cli.main import main
from postdesk_runtime.keyring import Keyring
from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = REPO / "docs" / "operations.md"
COMMAND = "uv run postdesk config-reference"
SENTINEL = "sentinel-value"


@pytest.fixture(scope="module")
def processes() -> dict[str, type[BaseSettings]]:
    return ref.load_processes()


@pytest.fixture(scope="module")
def settings(processes: dict[str, type[BaseSettings]]) -> list[ref.Setting]:
    return ref.collect(processes)


def region(text: str) -> str:
    return text[text.index(ref.START) + len(ref.START) : text.index(ref.END)]


def documented_variables() -> set[str]:
    return set(re.findall(r"^\| `([A-Z0-9_]+)` \|", region(OPERATIONS.read_text()), re.MULTILINE))


def test_operations_md_is_current(processes: dict[str, type[BaseSettings]]) -> None:
    """Fails when a settings class, compose.yaml or k8s/ changed and the doc was not regenerated."""
    current = OPERATIONS.read_text()
    expected = ref.replace_region(current, ref.render(processes, ref.read_deployed(REPO)))
    assert current == expected, f"docs/operations.md is out of date: run `{COMMAND}`"


def test_every_field_of_every_settings_class_has_a_row(
    processes: dict[str, type[BaseSettings]],
) -> None:
    documented = documented_variables()
    missing = [
        f"{cls.__name__}.{name} ({ref.env_name(owner, name, info)})"
        for cls in processes.values()
        for owner, name, info in fields_of(cls)
        if ref.env_name(owner, name, info) not in documented
    ]
    assert not missing, f"not in docs/operations.md (run `{COMMAND}`): {missing}"


def fields_of(cls: type[BaseSettings]) -> list[tuple[type[BaseSettings], str, FieldInfo]]:
    """Every (owning class, field name, FieldInfo), nested settings models expanded."""
    found: list[tuple[type[BaseSettings], str, FieldInfo]] = []
    for name, info in cls.model_fields.items():
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseSettings):
            found += fields_of(nested)
        else:
            found.append((cls, name, info))
    return found


def settings_classes_in_the_code() -> set[type[BaseSettings]]:
    """Every class of the workspace's sources that is a pydantic-settings class."""
    found: set[type[BaseSettings]] = set()
    for root in [*REPO.glob("libs/*/src"), *REPO.glob("services/*/src"), REPO / "cli" / "src"]:
        for path in root.glob("**/*.py"):
            names = re.findall(r"^class (\w+)\([^)\n]*Settings\b", path.read_text(), re.MULTILINE)
            if not names:
                continue
            module = importlib.import_module(".".join(path.relative_to(root).with_suffix("").parts))
            for name in names:
                cls = getattr(module, name)
                if isinstance(cls, type) and issubclass(cls, BaseSettings):
                    found.add(cls)
    return found


def test_the_processes_cover_every_settings_class_in_the_code(
    processes: dict[str, type[BaseSettings]],
) -> None:
    """A new settings class must be a process's, a base of one, or nested in one."""
    covered = {
        klass
        for cls in processes.values()
        for owner, _, _ in fields_of(cls)
        for klass in (*cls.__mro__, *owner.__mro__)
    }
    in_code = settings_classes_in_the_code()
    assert len(in_code) >= len(processes)
    missing = sorted(cls.__name__ for cls in in_code - covered)
    assert not missing, f"add these to config_reference.PROCESSES: {missing}"


def test_every_setting_has_a_description(settings: list[ref.Setting]) -> None:
    missing = [s.env for s in settings if not s.description]
    assert not missing, f"give these fields a Field(description=...): {missing}"


def test_the_documented_name_is_the_one_pydantic_settings_reads(
    settings: list[ref.Setting], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Setting the documented variable reaches the field, through pydantic-settings itself."""
    for setting in settings:
        for source in setting.sources:
            alias = source.info.validation_alias
            keys = {source.name, *(alias.choices if isinstance(alias, AliasChoices) else [])}
            with monkeypatch.context() as env:
                env.setenv(setting.env, f'["{SENTINEL}"]')
                read = EnvSettingsSource(source.owner)()
            assert any(
                read.get(key) in (f'["{SENTINEL}"]', [SENTINEL])
                for key in keys
                if isinstance(key, str)
            ), f"{setting.env} does not set {source.owner.__name__}.{source.name}"


def test_no_secret_value_appears(settings: list[ref.Setting]) -> None:
    """Neither a secret's default in the code nor the development value compose gives it."""
    text = region(OPERATIONS.read_text())
    deployed = ref.read_deployed(REPO)
    secrets = [s for s in settings if s.secret]
    assert {"ENCRYPTION_KEYS", "JWT_SECRET", "INGEST_WEBHOOK_SECRET"} <= {s.env for s in secrets}
    for setting in secrets:
        values = [str(v) for v in deployed.compose.get(setting.env, {}).values()]
        for source in setting.sources:
            default = source.info.get_default(call_default_factory=True)
            if isinstance(default, SecretStr):
                default = default.get_secret_value()
            if default:
                values.append(str(default))
        for value in values:
            fallback = ref.FALLBACK.match(value)
            secret = value.split(":-", 1)[1].rstrip("}") if fallback else value
            assert secret not in text, f"the value of {setting.env} is in docs/operations.md"


def test_placeholders_called_refused_in_production_are_refused(
    processes: dict[str, type[BaseSettings]],
    settings: list[ref.Setting],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    placeholders = [
        (setting, source)
        for setting in settings
        if setting.secret
        for source in setting.sources
        if source.info.get_default(call_default_factory=True) is not None
    ]
    assert placeholders
    for setting, _ in placeholders:
        monkeypatch.delenv(setting.env, raising=False)
    strong: dict[str, Any] = {
        source.name: SecretStr(Keyring.generate_setting("k"))
        if source.name == "encryption_keys"
        else "x" * 48
        for _, source in placeholders
    }
    for setting, source in placeholders:
        cls = processes[source.process]
        others: dict[str, Any] = {
            name: value
            for name, value in strong.items()
            if name != source.name and name in cls.model_fields
        }
        assert ref.PLACEHOLDER in ref.default_text(setting.env, source.info)
        with pytest.raises(ValidationError, match=setting.env):
            cls(environment="production", **others)
        cls(environment="production", **others, **{source.name: strong[source.name]})


class ExampleNested(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EX_NESTED_")

    depth: int = Field(default=3, ge=1, le=9, description="how deep")


class ExampleShared(BaseSettings):
    level: str = Field(default="INFO", description="the level")
    http_port: int = Field(default=9000, description="the port")
    upload_bytes: int = Field(default=2 * 1024 * 1024, gt=0, description="a size")
    api_secret: str = Field(default="example-placeholder-value", description="a key")


class ExampleOne(ExampleShared):
    http_port: int = 9001
    mode: str = Field(
        default="fast",
        validation_alias=AliasChoices("EXAMPLE_MODE", "mode"),
        description="a | b",
    )
    nested: ExampleNested = Field(default_factory=ExampleNested)


class ExampleTwo(ExampleShared):
    color: SecretStr | None = Field(default=None, description="unset secret")


def test_render_on_a_deployment_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        """
x-env: &env
  LEVEL: ${LEVEL:-INFO}
  API_SECRET: ${API_SECRET:-example-placeholder-value}
services:
  db:
    image: postgres:16
    environment: {LEVEL: ignored}
  one:
    build: {context: .}
    environment: {<<: *env, HTTP_PORT: "9001", EXAMPLE_MODE: slow}
  two:
    build: {context: .}
    environment: {<<: *env, HTTP_PORT: "9002"}
"""
    )
    (tmp_path / "Dockerfile").write_text(
        "FROM python AS build\nENV LEVEL=BUILD\nFROM python\nENV PATH=/x \\\n    LEVEL=WARNING\n"
    )
    base, overlay = tmp_path / "k8s" / "base", tmp_path / "k8s" / "overlays" / "dev"
    base.mkdir(parents=True)
    overlay.mkdir(parents=True)
    (base / "config.yaml").write_text(
        "kind: ConfigMap\nmetadata: {name: cfg}\ndata: {LEVEL: INFO, UPLOAD_BYTES: ''}\n"
    )
    (base / "secret.example.yaml").write_text(
        "kind: Secret\nmetadata: {name: s}\nstringData: {API_SECRET: REPLACE-ME}\n"
    )
    (base / "apps.yaml").write_text(
        """kind: Deployment
metadata: {name: postdesk-one}
spec:
  template:
    spec:
      containers:
        - env:
            - {name: HTTP_PORT, value: "9001"}
            - name: API_SECRET
              valueFrom: {secretKeyRef: {name: s, key: API_SECRET}}
---
kind: Deployment
metadata: {name: postdesk-two}
spec:
  template:
    spec:
      containers:
        - env:
            - {name: HTTP_PORT, value: "9002"}
"""
    )
    (overlay / "kustomization.yaml").write_text(
        """patches:
  - target: {kind: ConfigMap, name: cfg}
    patch: |-
      - op: replace
        path: /data/LEVEL
        value: DEBUG
"""
    )
    rendered = ref.render({"one": ExampleOne, "two": ExampleTwo}, ref.read_deployed(tmp_path))
    rows = [line for line in rendered.splitlines() if line.startswith("| `")]
    assert rows == [
        "| `LEVEL` | text | `INFO` (image: `WARNING`) | `${LEVEL:-INFO}` | ConfigMap: `INFO` (dev overlay: `DEBUG`) | the level |",
        "| `HTTP_PORT` | integer | `9001` (one); `9000` (two) | `9001` (one); `9002` (two) | `9001` (one); `9002` (two) | the port |",
        "| `UPLOAD_BYTES` | integer, > 0 | `2097152` (2 MiB) | default | ConfigMap: empty | a size |",
        "| `API_SECRET` | text | (secret) development placeholder, refused in production | `${API_SECRET}` from the shell or `.env`, else a development value | Secret (one) | a key |",
        "| `EXAMPLE_MODE` | text | `fast` | `slow` (one) | default | a \\| b |",
        "| `EX_NESTED_DEPTH` | integer, ≥ 1, ≤ 9 | `3` | default | default | how deep |",
        "| `COLOR` | text | unset | default | default | unset secret |",
    ]
    assert "### Every process" in rendered
    assert "### one" in rendered
    assert "### two" in rendered
    assert "example-placeholder-value" not in rendered


def test_the_command_rewrites_only_the_region(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ops.md"
    out.write_text(f"# hand-written\n\n{ref.START}\nstale\n{ref.END}\n\nmore prose\n")
    args = ["config-reference", "--out", str(out), "--root", str(REPO)]
    assert main([*args, "--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(args) == 0
    written = out.read_text()
    assert written.startswith(f"# hand-written\n\n{ref.START}\n")
    assert written.endswith(f"{ref.END}\n\nmore prose\n")
    assert region(written) == region(OPERATIONS.read_text())
    assert main([*args, "--check"]) == 0

    out.write_text("no markers here\n")
    assert main(args) == 1
    assert "markers" in capsys.readouterr().err
    assert out.read_text() == "no markers here\n"
