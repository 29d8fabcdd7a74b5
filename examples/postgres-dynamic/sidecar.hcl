# secrets-sidecar for the postgres-dynamic example: database credentials from OpenBao / Vault's database secrets
# engine, rendered to a file on tmpfs, and SIGHUP to the app when they are replaced. See README.md.

backend "vault" "vault" {
  address = "http://openbao:8200"
  auth "approle" {
    role_id_file   = "/etc/secrets-sidecar/role_id"
    secret_id_file = "/run/secrets/secret_id"
  }
  # The app swaps pools on SIGHUP at once; 15 s covers the wait below and a busy machine.
  rotation_margin = "15s"
  # Give replaced credentials back once the app has switched, rather than when they run out.
  revoke_replaced_leases = true
  # The login token and the database lease `once` hands to `run`, and `run` to itself after a restart: one
  # database user per pod, not one per start. Its own tmpfs volume, mounted into the sidecar containers only.
  cache_dir = "/run/secrets-sidecar-cache"
}

# Renew and render as soon as a change arrives: the app needs no batching.
wait {
  min = "0s"
  max = "1s"
}

template {
  # The secret's data as JSON: {"username": "...", "password": "..."}.
  contents    = "{{json (secret \"vault:database/creds/app\")}}\n"
  destination = "/run/app-secrets/db.json"
  perms       = "0600"
  notify      = ["app"]
}

notify "app" {
  pid_file = "/run/app-secrets/app.pid"
  signal   = "SIGHUP"
}
