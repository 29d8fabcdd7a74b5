# Quickstart: render two files from a local JSON file into /dev/shm, which is tmpfs on any Linux machine.
#   npx secrets-sidecar once -c examples/quickstart/sidecar.hcl
# Relative paths are resolved against this file's directory.

backend "file" "local" {
  path = "secrets.json"
}

template {
  source      = "templates/app.env.hbs"
  destination = "/dev/shm/secrets-sidecar-quickstart/app.env"
  perms       = "0600"
}

template {
  source      = "templates/database.json.hbs"
  destination = "/dev/shm/secrets-sidecar-quickstart/database.json"
  perms       = "0640"
}
