# secrets-sidecar for the nginx-tls example: nginx's certificate and key, issued by OpenBao / Vault PKI, rendered
# from one issuance into tmpfs, and nginx reloaded (SIGHUP to its master) when they are replaced. See README.md.

backend "vault" "vault" {
  address = "http://openbao:8200"
  auth "approle" {
    role_id_file   = "/etc/secrets-sidecar/role_id"
    secret_id_file = "/run/secrets/secret_id"
  }
  # The login token and the certificate `once` hands to `run`, and `run` to itself after a restart: no second
  # login, no second certificate. A volume of its own (tmpfs, 0700), mounted into the sidecar containers only:
  # nginx must not see the token. Never under a destination directory (that is a config error).
  cache_dir = "/run/secrets-sidecar-cache"
  # nginx reloads in well under a second; 30 s covers the wait below and a busy machine.
  rotation_margin = "30s"
}

wait {
  min = "0s"
  max = "1s"
}

# Both files name the same issuance (same path, same arguments): one request, one certificate and its key,
# written together and announced to nginx in one reload. Re-issued at two thirds of the validity.
template {
  contents    = "{{#with (secret \"vault:pki/issue/web\" common_name=\"localhost\" ip_sans=\"127.0.0.1\" ttl=\"24h\")}}{{certificate}}\n{{issuing_ca}}\n{{/with}}"
  destination = "/run/nginx-tls/cert.pem"
  perms       = "0644"
  notify      = ["nginx"]
}

template {
  contents    = "{{#with (secret \"vault:pki/issue/web\" common_name=\"localhost\" ip_sans=\"127.0.0.1\" ttl=\"24h\")}}{{private_key}}\n{{/with}}"
  destination = "/run/nginx-tls/key.pem"
  perms       = "0600"
  notify      = ["nginx"]
}

# nginx re-reads its certificate on SIGHUP: new workers take new connections, old ones finish theirs.
notify "nginx" {
  pid_file = "/run/nginx-tls/nginx.pid"
  signal   = "SIGHUP"
}
