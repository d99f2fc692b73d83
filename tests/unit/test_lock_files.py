"""The lock files pin, with hashes, every dependency pyproject.toml declares (no network).

``pip install --require-hashes -r requirements.lock`` installs exactly what was locked; a
dependency added to or tightened in pyproject.toml without recompiling the lock (README:
"Reproducible installs") fails here, not on a county's server.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$")
HASH = re.compile(r"^\s+--hash=sha256:[0-9a-f]{64}\s*\\?$")


def locked(path: Path) -> dict[str, list[tuple[Version, str | None, int]]]:
    """Each pinned package: its versions (a universal lock may pin one per Python version),
    their environment markers, and how many sha256 hashes each has."""
    pins: dict[str, list[tuple[Version, str | None, int]]] = {}
    current: tuple[str, Version, str | None] | None = None
    hashes = 0

    def close() -> None:
        if current is not None:
            name, version, marker = current
            pins.setdefault(name, []).append((version, marker, hashes))

    for line in path.read_text(encoding="utf-8").splitlines():
        entry = ENTRY.match(line)
        if entry:
            close()
            current = (canonicalize_name(entry[1]), Version(entry[2]), entry[3])
            hashes = 0
        elif HASH.match(line):
            hashes += 1
    close()
    return pins


def declared(*extras: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    texts = list(project["dependencies"])
    for extra in extras:
        texts += project["optional-dependencies"][extra]
    return [Requirement(text) for text in texts]


def python_311(marker: str | None) -> bool:
    """Whether a pin applies on Python 3.11 (CPython, Linux), what the container runs."""
    if marker is None:
        return True
    from packaging.markers import Marker

    return Marker(marker).evaluate({"python_version": "3.11", "python_full_version": "3.11.7"})


@pytest.mark.parametrize(
    ("lock", "extras"),
    [("requirements.lock", ()), ("requirements-dev.lock", ("test", "dev"))],
)
def test_every_declared_dependency_is_pinned_with_hashes_within_its_range(
    lock: str, extras: tuple[str, ...]
) -> None:
    pins = locked(ROOT / lock)
    for requirement in declared(*extras):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is declared in pyproject.toml but not in {lock}"
        for version, marker, hashes in pins[name]:
            assert hashes >= 1, f"{name}=={version} has no --hash in {lock}"
            if python_311(marker):
                assert requirement.specifier.contains(version, prereleases=True), (
                    f"{lock} pins {name}=={version}, outside pyproject.toml's "
                    f"{requirement.specifier}: recompile the lock"
                )


def test_every_locked_package_has_a_hash_and_the_build_backend_is_locked() -> None:
    for lock in ("requirements.lock", "requirements-dev.lock"):
        pins = locked(ROOT / lock)
        assert all(hashes for entries in pins.values() for _, _, hashes in entries), lock
        backend = Requirement(PYPROJECT["build-system"]["requires"][0])
        assert any(backend.specifier.contains(v) for v, _, _ in pins["setuptools"]), lock


def test_the_dev_lock_installs_the_same_runtime_versions_as_the_runtime_lock() -> None:
    runtime, dev = locked(ROOT / "requirements.lock"), locked(ROOT / "requirements-dev.lock")
    for name, entries in runtime.items():
        assert {v for v, _, _ in dev[name]} == {v for v, _, _ in entries}, name


def test_the_container_installs_from_the_lock_with_hashes_then_the_project_alone() -> None:
    build = (ROOT / "deploy" / "Containerfile").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements.lock" in build
    assert "--no-deps" in build and "--no-build-isolation" in build
