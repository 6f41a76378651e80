"""The lock never goes below the first release of a dependency without the advisories
issue 11 names (mail protocol handling: SMTP smuggling and STARTTLS command injection).

This is the offline half of the dependency check; `scripts/audit` asks PyPI's advisory
data about every locked package.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.version import Version

LOCK = Path(__file__).resolve().parents[2] / "uv.lock"
FLOORS = {"aiosmtpd": Version("1.4.6"), "aiosmtplib": Version("5.1.3")}


def locked_versions() -> dict[str, list[Version]]:
    found: dict[str, list[Version]] = {}
    for package in tomllib.loads(LOCK.read_text())["package"]:
        found.setdefault(package["name"], []).append(Version(package["version"]))
    return found


@pytest.mark.parametrize(("name", "floor"), FLOORS.items())
def test_locked_version_is_at_least_the_fixed_release(name: str, floor: Version) -> None:
    """The package is locked, and every locked version of it is at or above its floor."""
    versions = locked_versions().get(name)
    assert versions, f"{name} is not in uv.lock"
    assert min(versions) >= floor, f"{name} {min(versions)} < {floor}"
