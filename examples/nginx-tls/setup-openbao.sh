#!/usr/bin/env bash
# Starts the example's throwaway OpenBao dev server and configures it: a PKI mount with a role for "localhost",
# and an AppRole login for the sidecar that may issue from it. Writes role_id, secret_id and ca.pem here.
set -euo pipefail
cd "$(dirname "$0")"
[ -f .env ] || printf 'OPENBAO_DEV_ROOT_TOKEN=%s\n' "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" > .env
token="$(sed -n 's/^OPENBAO_DEV_ROOT_TOKEN=//p' .env)"
docker compose up -d --wait openbao
bao() { docker compose exec -T -e BAO_ADDR=http://127.0.0.1:8200 -e BAO_TOKEN="$token" openbao bao "$@"; }
until bao status >/dev/null 2>&1; do sleep 1; done
bao secrets enable pki
bao secrets tune -max-lease-ttl=87600h pki
bao write -field=certificate pki/root/generate/internal common_name="secrets-sidecar example CA" ttl=87600h > ca.pem
bao write pki/roles/web allowed_domains=localhost allow_bare_domains=true allow_ip_sans=true max_ttl=72h
printf 'path "pki/issue/web" {\n  capabilities = ["create", "update"]\n}\n' | bao policy write nginx-tls -
bao auth enable approle
bao write auth/approle/role/nginx-tls token_policies=nginx-tls token_ttl=1h token_max_ttl=24h
bao read -field=role_id auth/approle/role/nginx-tls/role-id > role_id
bao write -f -field=secret_id auth/approle/role/nginx-tls/secret-id > secret_id
echo "ready: role_id, secret_id and ca.pem written; curl --cacert ca.pem https://localhost:8443/ once it is up"
