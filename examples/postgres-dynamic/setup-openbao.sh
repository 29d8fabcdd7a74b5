#!/usr/bin/env bash
# Starts the example's throwaway OpenBao and PostgreSQL and configures OpenBao: the database secrets engine
# issuing PostgreSQL users that live 1 hour at most, and an AppRole login for the sidecar that may read them.
# Writes role_id and secret_id here; installs the app's dependency (pg) into app/node_modules.
set -euo pipefail
cd "$(dirname "$0")"
random() { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
[ -f .env ] || printf 'OPENBAO_DEV_ROOT_TOKEN=%s\nPOSTGRES_PASSWORD=%s\n' "$(random)" "$(random)" > .env
token="$(sed -n 's/^OPENBAO_DEV_ROOT_TOKEN=//p' .env)"
pgpassword="$(sed -n 's/^POSTGRES_PASSWORD=//p' .env)"
docker compose up -d --wait openbao postgres
bao() { docker compose exec -T -e BAO_ADDR=http://127.0.0.1:8200 -e BAO_TOKEN="$token" openbao bao "$@"; }
until bao status >/dev/null 2>&1; do sleep 1; done
bao secrets enable database
bao write database/config/pg plugin_name=postgresql-database-plugin allowed_roles=app \
  connection_url="postgresql://{{username}}:{{password}}@postgres:5432/postgres?sslmode=disable" \
  username=postgres password="$pgpassword"
bao write database/roles/app db_name=pg default_ttl=20m max_ttl=1h \
  creation_statements="CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"
printf 'path "database/creds/app" {\n  capabilities = ["read"]\n}\npath "sys/leases/renew" {\n  capabilities = ["update"]\n}\npath "sys/leases/revoke" {\n  capabilities = ["update"]\n}\n' | bao policy write app-db -
bao auth enable approle
bao write auth/approle/role/app token_policies=app-db token_ttl=1h token_max_ttl=24h
bao read -field=role_id auth/approle/role/app/role-id > role_id
bao write -f -field=secret_id auth/approle/role/app/secret-id > secret_id
docker run --rm -v "$PWD/app:/app" -w /app node:24.11.1-bookworm-slim npm install --omit=dev --no-audit --no-fund
echo "ready: docker compose up, then curl http://127.0.0.1:8080/ (the user changes as credentials rotate)"
