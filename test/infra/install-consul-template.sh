#!/usr/bin/env bash
# Builds consul-template, the peer, into .cache/bin from its Go module (about a minute cold; a no-op when the
# right version is there). The converter's differential tests render the original templates with it, and
# `npm run bench` runs beside it. install-test-tools.sh calls this; the benchmarks call it alone.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="$root/.cache"
CONSUL_TEMPLATE_VERSION=0.42.1
consul_template="$cache/bin/consul-template"
if [ ! -x "$consul_template" ] || [[ "$("$consul_template" -version 2>&1)" != *"v$CONSUL_TEMPLATE_VERSION"* ]]; then
  echo "building consul-template $CONSUL_TEMPLATE_VERSION into $cache/bin" >&2
  mkdir -p "$cache/bin"
  GOBIN="$cache/bin" GOTOOLCHAIN=local CGO_ENABLED=0 go install -trimpath "github.com/hashicorp/consul-template@v$CONSUL_TEMPLATE_VERSION"
fi
"$consul_template" -version 2>&1 | head -n 1 >&2
