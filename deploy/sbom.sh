#!/usr/bin/env bash
# Install marac-bot from the lock file into a fresh virtual environment, exactly as the
# container build does (every file's sha256 checked, then the project alone with --no-deps),
# check the installed command starts, and write a CycloneDX software bill of materials (JSON)
# of that environment: every package, its version, licence and hashes where known, and what
# depends on what.
#
#   deploy/sbom.sh [OUT]        (default OUT: /tmp/marac-bot-sbom.cdx.json)
#
# Run from anywhere; needs python3 (3.11+) with venv, and PyPI (or a mirror pip is set up
# for). The tool (cyclonedx-bom, pinned below) gets a virtual environment of its own, so it
# is not part of what it describes. Any failure exits non-zero. CI runs it (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-/tmp/marac-bot-sbom.cdx.json}"
work="$(mktemp -d /tmp/marac-sbom.XXXXXX)"
trap 'rm -rf "$work"' EXIT
PYTHON="${PYTHON:-python3}"

echo "sbom: installing from requirements.lock into a fresh virtual environment"
"$PYTHON" -m venv "$work/runtime"
"$work/runtime/bin/pip" install -q --disable-pip-version-check --require-hashes -r requirements.lock
"$work/runtime/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation .
"$work/runtime/bin/pip" check
"$work/runtime/bin/marac-bot" --help > /dev/null

echo "sbom: cyclonedx-bom"
"$PYTHON" -m venv "$work/tool"
"$work/tool/bin/pip" install -q --disable-pip-version-check 'cyclonedx-bom==7.5.0'
"$work/tool/bin/cyclonedx-py" environment \
  --pyproject pyproject.toml --mc-type application \
  --output-reproducible --validate --of JSON -o "$out" \
  "$work/runtime/bin/python"
"$work/tool/bin/python" - "$out" <<'PY'
import json, sys
bom = json.load(open(sys.argv[1]))
names = {c["name"].lower() for c in bom.get("components", [])}
missing = {"python-telegram-bot", "sqlalchemy", "cryptography", "aiohttp"} - names
if missing:
    sys.exit(f"sbom: {sorted(missing)} missing from {sys.argv[1]}")
print(f"sbom: {len(names)} components written to {sys.argv[1]}")
PY
