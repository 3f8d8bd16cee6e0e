"""The lock files that ``make run`` and ``make test`` install from match pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+) \\\n((?:\s+--hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)",
                  re.MULTILINE)


def _locked(name: str) -> dict[str, str]:
    text = (ROOT / "requirements" / name).read_text()
    return {canonicalize_name(m[1]): m[2] for m in _PIN.finditer(text)}


def _wanted(*extras: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


@pytest.mark.parametrize(("lock", "extras"), [("main.txt", ()), ("dev.txt", ("dev", "bench"))])
def test_every_dependency_is_locked_at_a_version_pyproject_allows(lock, extras):
    locked = _locked(lock)
    for requirement in _wanted(*extras):
        version = locked.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is missing from requirements/{lock}"
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements/{lock} pins {requirement.name}=={version}, outside {requirement.specifier}")


@pytest.mark.parametrize("lock", ["main.txt", "dev.txt"])
def test_every_locked_package_carries_its_hashes(lock):
    text = (ROOT / "requirements" / lock).read_text()
    pinned = re.findall(r"^[A-Za-z0-9_.-]+==", text, re.MULTILINE)
    assert pinned and len(pinned) == len(_locked(lock))
    # The build backend is locked too: the editable install runs without build isolation.
    assert {"setuptools", "wheel"} <= set(_locked(lock))
