# Sidecar for the compose example: secrets from a Docker secret directory (/run/secrets), rendered into the
# shared tmpfs volume, and the app told with SIGHUP through the shared PID namespace.
# Health, readiness and metrics for the compose healthcheck (and a Prometheus on the same network, if any).
listener {
  address = "127.0.0.1:9102"
}

backend "file" "docker" {
  path   = "/run/secrets"
  format = "directory"
}

notify "app" {
  pid_file = "/run/app-secrets/app.pid"
  signal   = "SIGHUP"
}

wait {
  min = "1s"
  max = "5s"
}

template {
  contents    = <<-EOT
    DB_USER=app
    DB_PASSWORD={{trim (secret "docker:db_password")}}
    EOT
  destination = "/run/app-secrets/db.env"
  perms       = "0600"
  notify      = ["app"]
}
