# secrets-sidecar configuration: every option, with its default.
#
# Check a config without contacting any backend:   secrets-sidecar validate -c sidecar.hcl
# The same structure is accepted as JSON (a file ending in .json): a labelled block such as
#   backend "file" "local" { ... }   is   {"backend": {"file": {"local": { ... }}}}
# and a repeatable block such as template { ... } is a list item: {"template": [{ ... }]}.
#
# Relative paths anywhere in this file are resolved against the directory of this file.
# Durations are written like "250ms", "10s", "5m", "1h30m". Each option has a range, given below; a value
# outside it is an error with file, line and column (README: "What it does" has the table and the reasons).
# Strings are kept exactly as written, spaces included; the file must be UTF-8, at most 1 MiB, nested at most 64
# levels deep.
# Unknown options are errors, reported with file, line and column.

# Log level: trace, debug, info, warn, error, fatal or silent. The command line's --log-level wins.
log_level = "info"

# Log format: "json" (one object per line, for collectors) or "pretty" (for people). --log-format wins.
log_format = "json"

# Destination directories are shared with the application, so a compromised application could plant files in
# them. A directory that is a symlink, writable by every user without the sticky bit, or owned by another user
# is logged as a warning; with strict = true it is an error (exit 5). Default false.
strict = false

# In `run` mode, write the sidecar's own pid here (removed on exit). Default: no pid file.
pid_file = "/run/secrets-sidecar.pid"

# In `run` mode, serve GET /healthz (the process answers), GET /readyz (200 once every template has rendered and
# while no secret has been failing for longer than readiness_grace, else 503), GET /metrics (Prometheus text)
# and POST /v1/refresh (fetch every secret again now, or one: ?ref=NAME:PATH). Off unless this block is here.
# Keep it on loopback or the pod's own address: it is for probes and scrapers, not the world.
listener {
  # Required: host:port ("[::1]:9102" for IPv6).
  address = "127.0.0.1:9102"
  # How long a secret may keep failing (the files in place stay good meanwhile) before /readyz turns 503.
  # Default "1m"; 0s to 8760h.
  readiness_grace = "1m"
  # POST /v1/refresh needs "Authorization: Bearer <token>" with the token from this file (16 characters or more),
  # or from the variable refresh_token_env names; it refuses requests carrying X-Forwarded-For. Neither set: the
  # endpoint is off. SIGUSR1 forces the same refresh without a token. The variable refresh_token_env names joins
  # the credential deny list: the supervised child and templates never see it unless an allow list names it.
  refresh_token_file = "/run/secrets/sidecar-refresh-token"
  # refresh_token_env = "SIDECAR_REFRESH_TOKEN"
}

# Audit records (every login, fetch, renewal, revocation, render and reload, failures included, with outcome,
# reference, version and duration, never a value) as JSON lines, besides the log and whatever the log level.
audit {
  # Appended to, created 0600.
  path = "/var/log/secrets-sidecar/audit.jsonl"
  # Or, instead of a path, to stdout (mixed with a supervised child's output, if there is one).
  # stdout = true
}

# Environment variables the `env` template helper may read: exact names, or prefixes ending in "*".
# Nothing else from the sidecar's environment (tokens, cloud credentials) is visible to templates.
env_allow = ["POD_NAME", "POD_NAMESPACE", "APP_*"]

# A backend block: `backend "<type>" "<name>"`. Templates refer to a secret as "<name>:<path>#<key>".
# Names are unique across all backend types.
#
# The file backend reads local files, and needs no server:
#   - a JSON or YAML document: <path> is a top-level key, and its value (text, number or object) is the secret;
#   - a directory with one file per secret (Docker's /run/secrets, a Kubernetes secret volume): <path> is a file
#     name directly in the directory. Files ending in .json, .yaml or .yml are parsed; others are read as text.
#     Names starting with "." are never read, and symlinks must resolve inside the directory.
# In `run` mode the backend watches its file or directory and re-renders on change, including a Kubernetes
# volume update (the kubelet swaps the "..data" symlink).
backend "file" "local" {
  # Required: the file or directory.
  path = "secrets.json"

  # "json", "yaml" or "directory". Default: a directory is "directory", a name ending in .json is "json",
  # .yaml/.yml is "yaml"; anything else must say.
  format = "json"

  # Default: unset, so changes are seen through inotify at once. Set it on filesystems without inotify (NFS,
  # some FUSE mounts) to poll at this interval instead; 100ms to 1h.
  poll_interval = "5s"
}

# The vault backend reads HashiCorp Vault or OpenBao: KV secrets (v1 and v2, detected with one lookup per mount;
# the path is the logical KV path on either version, "main:secret/app#password", and "?version=3" pins a KV v2
# version), dynamic secrets with leases ("main:database/creds/app"), and writes that return secrets, with the
# template's arguments as the request body ((secret "main:pki/issue/web" common_name="app.internal" ttl="72h")).
backend "vault" "main" {
  # Default: VAULT_ADDR, else http://127.0.0.1:8200.
  address = "https://vault.internal:8200"
  # Vault Enterprise / OpenBao namespace. Default: VAULT_NAMESPACE, else none.
  namespace = ""
  # PEM CA bundle that signed the server's certificate. Default: VAULT_CACERT, else the system's trust store.
  ca_cert = "/etc/ssl/vault-ca.pem"
  # Client certificate and key (PEM) for a listener that requires mutual TLS; both or neither.
  # Default: VAULT_CLIENT_CERT and VAULT_CLIENT_KEY.
  client_cert = "/etc/sidecar/vault-client.pem"
  client_key = "/run/secrets/vault-client-key.pem"
  # The name to verify in the server's certificate, when it differs from the address's host.
  # Default: VAULT_TLS_SERVER_NAME.
  tls_server_name = "vault.internal"
  # Turns certificate verification off (logged as a warning at start). Default false. Never in production.
  tls_skip_verify = false
  # Token auth: `token`, or `token_file` (re-read when it changes, as when another agent renews it). With no auth
  # block, VAULT_TOKEN. Prefer a file on tmpfs to a token in the config.
  auth "token" {
    token_file = "/run/secrets/vault-token"
    # token = "s.…"   (a literal token: anyone who can read this file can use it)
  }
  # Or log in, and let the sidecar renew its token (at two thirds of its TTL) and log in again when renewal can
  # no longer extend it or the token is revoked. One auth block per backend. Credentials are read at each login.
  # auth "approle" {
  #   role_id_file   = "/etc/sidecar/role_id"
  #   role_id        = "…"                          # instead of role_id_file (a role id is not a secret)
  #   secret_id_file = "/run/secrets/secret_id"     # omitted for roles with bind_secret_id = false
  #   mount          = "approle"                    # where the method is mounted; default "approle"
  # }
  # auth "jwt" {
  #   role     = "sidecar"
  #   jwt_file = "/run/secrets/jwt"                 # required for jwt
  #   mount    = "jwt"
  # }
  # auth "kubernetes" {
  #   role     = "sidecar"
  #   jwt_file = "/var/run/secrets/vault/token"     # a projected token with Vault's audience; default: the pod's
  #                                                 # service-account token. Read again at each login.
  #   mount    = "kubernetes"
  # }
  # Connections kept open to the server at most. Default 10.
  max_connections = 10
  # The fraction of a lease's, a login token's or a certificate's lifetime after which it is renewed or replaced
  # (with up to 10% jitter, earlier). Between 0.1 and 0.95. Default 0.67 (two thirds).
  lease_renewal_threshold = 0.67
  # How long before a lease, a login token or a certificate ends its replacement must be in the application's
  # hands: the sidecar renews or replaces it at least this early (but never before half its lifetime). Default:
  # the longest `wait` max plus the longest notify timeout, the time the application may take to switch, and at
  # least "10s". 0s to 8760h.
  rotation_margin = "45s"
  # Revoke a lease its replacement made redundant once the rotation margin has passed (the application has been
  # told and has reloaded), instead of leaving it to run out. Default true.
  revoke_replaced_leases = true
  # How often a KV secret is read again to see whether it changed; unchanged versions render nothing. Default "5m";
  # 100ms to 8760h.
  static_refresh_interval = "5m"
  # A request that takes longer, all of it (connecting, headers, the body's last byte), fails and is retried.
  # Default "30s"; 100ms to 10m.
  request_timeout = "30s"
  # On SIGTERM/SIGINT in `run`, revoke every lease this sidecar was issued (database users are dropped at once).
  # Never on a SIGHUP reload, and never in `once`, whose files the application is about to use. Default false.
  revoke_leases_on_exit = false
  # How long those revocations may take, all together; leases not revoked by then are logged by lease id.
  # Default "10s" (Kubernetes kills a pod 30 s after SIGTERM); 100ms to 10m.
  revoke_timeout = "10s"
  # Where `once` leaves its login token, its leases and its certificates for the `run` sidecar, and `run` for
  # itself after a restart: they are adopted (checked with Vault first) instead of issued again. Give it a tmpfs
  # volume of its own, mounted into the init and sidecar containers only: it holds a token, so it may not be a
  # template's destination directory or sit under one. 0700 directory, 0600 files, the sidecar user's own (a
  # subdirectory, which the sidecar creates 0700: a Kubernetes emptyDir itself is 0777).
  # Default: none (tokens and leases are not handed over; certificates are still reused, from a private
  # .secrets-sidecar-certificates directory beside the first template's destination).
  cache_dir = "/run/secrets-sidecar-cache/vault"
}

# The aws_secrets_manager backend reads AWS Secrets Manager: "prod:app/db#password" (a key of a JSON secret),
# "prod:app/db" (the whole secret: its JSON object, or its string), a SecretBinary as base64 text,
# "?stage=AWSPREVIOUS" or "?version_id=…". Credentials come from the AWS SDK's default chain (environment, shared
# files, web identity for EKS/IRSA, ECS container credentials, instance metadata).
backend "aws_secrets_manager" "prod" {
  # Default: the SDK's resolution (AWS_REGION, the shared config file, …).
  region = "eu-west-1"
  # For moto, LocalStack or a VPC endpoint. Default: AWS's own (or AWS_ENDPOINT_URL).
  endpoint = "https://secretsmanager.eu-west-1.amazonaws.com"
  # How often one DescribeSecret checks whether the version in the wanted stage changed; GetSecretValue runs only
  # when it did. A secret with a rotation schedule is also checked 15s after its NextRotationDate. Default "5m".
  # 100ms to 8760h, as every refresh_interval.
  refresh_interval = "5m"
  # A cap on this backend's API calls (a token bucket; bursts up to the rate), so a fleet of sidecars does not
  # exhaust the account's Secrets Manager or SSM quota. Default 20.
  max_requests_per_second = 20
  # The deadline of one whole call: connect, headers and every byte of the body (a server that trickles its answer
  # cannot hold it open). once --timeout and SIGTERM abort a call in flight sooner. Default "30s".
  request_timeout = "30s"
}

# The aws_ssm backend reads AWS SSM Parameter Store: "params:/app/db/password" is one parameter (a SecureString is
# decrypted); a path ending in "/" ("params:/app/db/") is an object of every parameter below it, nested by path,
# as chamber keeps them. Single reads made together are batched by 10 (GetParameters). Same options as above.
backend "aws_ssm" "params" {
  region           = "eu-west-1"
  refresh_interval = "5m"
}

# The azure_key_vault backend reads Azure Key Vault secrets: "kv:db-password" (JSON content is an object),
# "kv:db-password?version=<id>" (pinned: never polled), and the secret behind a Key Vault certificate as PEM parts,
# "kv:tls-cert?format=pem#private_key" (also #certificate, #chain, #bundle; PKCS#12 or PEM content), or
# "?format=pfx" for the PKCS#12 itself, base64. The Azure SDK is loaded only when such a backend is configured.
backend "azure_key_vault" "kv" {
  # Required: the vault's https URL.
  vault_url = "https://myvault.vault.azure.net"
  # How the sidecar signs in. "default": DefaultAzureCredential's chain (environment, workload identity, managed
  # identity, Azure CLI, ...). "workload_identity": AKS workload identity (AZURE_FEDERATED_TOKEN_FILE,
  # AZURE_CLIENT_ID, AZURE_TENANT_ID). "managed_identity": the VM's, App Service's or Container App's identity.
  # "client_secret": an app registration (client_id, tenant_id, client_secret_file). "azure_cli": `az login`'s
  # account, for development. Default "default".
  credential = "workload_identity"
  # A user-assigned identity's or an app registration's client id. Default: the credential's own.
  client_id = "00000000-0000-0000-0000-000000000000"
  # The directory (tenant) id, for client_secret and workload_identity. Default: AZURE_TENANT_ID.
  tenant_id = "00000000-0000-0000-0000-000000000000"
  # client_secret mode only: the file holding the app registration's secret (never the secret itself here).
  # client_secret_file = "/run/secrets/azure-client-secret"
  # How often the latest version is read (one request) to see whether it changed; a secret whose expiresOn comes
  # sooner is checked a minute before it. Default "5m"; 100ms to 8760h.
  refresh_interval = "5m"
  # A cap on requests to this vault. Key Vault throttles per vault; 429 and 5xx are retried after 1, 2, 4, 8 and
  # 16 s (or Retry-After), with jitter. Default 10.
  max_requests_per_second = 10
  # The deadline of one whole read: the sign-in, the SDK's own retries and every byte of each answer.
  # once --timeout and SIGTERM abort a read in flight sooner. Default "30s".
  request_timeout = "30s"
}

# The gcp_secret_manager backend reads Google Cloud Secret Manager: "gsm:db-password" (the latest version; a JSON
# object exposes its keys, "gsm:db-config#user"; bytes that are not UTF-8 stay bytes), "gsm:db-password?version=3"
# (pinned: read once, never polled). Credentials are Application Default Credentials: credentials_file below, else
# GOOGLE_APPLICATION_CREDENTIALS, else gcloud's ADC file, else the metadata server (GKE workload identity, GCE).
# The Google client is loaded only when such a backend is configured.
backend "gcp_secret_manager" "gsm" {
  # Required: the project id (or number) that owns the secrets.
  project = "my-project"
  # host[:port] of the API, for a regional or Private Service Connect endpoint. Default: Google's global endpoint.
  # endpoint = "secretmanager.europe-west1.rep.googleapis.com"
  # A service-account key file (never the key itself here). Default: Application Default Credentials.
  # credentials_file = "/var/run/secrets/gcp/key.json"
  # How often the latest version is checked (one GetSecretVersion, metadata only); the payload is read again
  # only when the version changed, and renders once. Default "5m"; 100ms to 8760h.
  refresh_interval = "5m"
  # The whole of one fetch (version check and payload read); past it the fetch fails and is retried. Default "30s".
  request_timeout = "30s"
  # A cap on calls to the API from this sidecar, within the project's quota. Default 20.
  max_requests_per_second = 20
}

# The ejson backend reads a Shopify ejson file: secrets kept in the repository, encrypted to the file's
# "_public_key", decrypted here. "repo:database#password" reads a top-level key (and a key inside it);
# "repo:." is the whole decrypted document. Make keys and encrypt files with `secrets-sidecar ejson keygen`
# and `secrets-sidecar ejson encrypt FILE`. In `run`, the file is watched and re-rendered when it changes.
backend "ejson" "repo" {
  # Required.
  path = "/etc/app/secrets.ejson"
  # Where the private key is found, in a file named by the file's public key (hex) holding the private key (hex).
  # Default: EJSON_KEYDIR, else /opt/ejson/keys. A key file readable by group or others is logged as a warning.
  key_dir = "/opt/ejson/keys"
  # Or the private key's file itself (instead of key_dir).
  # key_file = "/run/secrets/ejson-private-key"
  # Poll instead of inotify, for filesystems without it. Default: unset.
  # poll_interval = "5s"
}

# How a failed fetch is retried: exponential backoff from `backoff`, doubling up to `max_backoff`, with jitter.
# Errors that no retry can fix (a secret that does not exist, access denied) are not retried; in `run` mode they
# are tried again when the backend reports a change, or at `max_backoff`.
# While a backend fails, the files already rendered stay as they are.
retry {
  # Retries after the first failure; 0 retries for as long as the process runs (`once` is bounded by --timeout).
  attempts = 0
  # First delay. Default "250ms"; 10ms to 1h.
  backoff = "250ms"
  # Longest delay. Default "1m" (or backoff, if longer); 100ms to 1h, and at least backoff.
  max_backoff = "1m"
}

# Quiescence in `run` mode: after a secret changes, render once no further change has arrived for `min`, and no
# later than `max` after the first change. Spreads a burst of rotations into one render (and one reload).
# Default: min = "0s", max = "0s": render on the next tick, coalescing changes that arrive together. Each 0s to 1h.
# A template that has never rendered does not wait.
wait {
  # Quiet period a burst must end with before the render.
  min = "2s"
  # Longest delay from the first change of a burst to the render.
  max = "10s"
}

# A notify block is a reload target: `notify "<name>"`, with exactly one of pid_file, process, http, rollout or
# command.
# In `run` mode, templates that write new bytes during a burst fire each of their targets once, after all of
# their files are written. Failures are logged and retried with backoff; they never stop the sidecar.
notify "app" {
  # Send `signal` to the process whose pid is in this file. Across containers this needs a shared PID namespace.
  pid_file = "/run/app/app.pid"
  # The signal to send (pid_file and process only). Default "SIGHUP".
  signal = "SIGHUP"
}
notify "nginx" {
  # Send `signal` to every process whose command line (arguments joined by spaces) matches this regex.
  process = "^nginx: master"
  signal  = "SIGHUP"
}
notify "prom" {
  # Call an HTTP endpoint; any 2xx status is success. The response body is never logged.
  http {
    # Required: an http:// or https:// URL, without user:password@ (refused: put credentials in a header). Its
    # query and fragment show as ?[redacted] and #[redacted] in logs.
    url = "http://127.0.0.1:9090/-/reload"
    # GET, POST or PUT. Default "POST".
    method = "POST"
    # Default "5s"; 10ms to 5m (fetch's own header timeout ends a longer wait).
    timeout = "5s"
    # Extra request headers.
    headers = { "X-Reload" = "secrets-sidecar" }
  }
}
notify "hook" {
  # Run a command, without a shell, with only PATH, HOME, LANG, LC_ALL, TZ and USER in its environment.
  command = ["nginx", "-s", "reload"]
  # Past this, the command's process group gets SIGTERM, then SIGKILL 2s later. Default "30s"; 10ms to 1h.
  timeout = "30s"
}

# Restart a Kubernetes workload's pods when a versioned secret changes, as `kubectl rollout restart` does, for apps
# that read secrets only at start. The pod-template annotation secrets-sidecar/secret-versions is set from the
# secrets' versions (KV v2, AWS, Azure, GCP, SSM), never from values, so every replica's sidecar writes the same
# text and N replicas cause one rollout. The first render after a start never patches; a patch never moves the
# annotation back to older versions; dynamic secrets (database leases, certificates) never trigger it; a template
# that reads a file, ejson or KV v1 secret is refused (SIDECAR_ERR_ROLLOUT_UNVERSIONED). Needs a Role with get and
# patch on that one workload (README, "Telling the application"). Commented out: it needs a cluster.
# notify "web" {
#   rollout {
#     # Required: Deployment, StatefulSet or DaemonSet.
#     kind = "Deployment"
#     # Required: the workload's name.
#     name = "web"
#     # Default: the pod's own namespace (the service account's namespace file), or the kubeconfig context's.
#     namespace = "default"
#     # Default: in-cluster (the service-account token and CA under /var/run/secrets/kubernetes.io/serviceaccount,
#     # KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT). A kubeconfig's current context may use a token, a
#     # tokenFile or a client certificate; exec plugins and insecure-skip-tls-verify are refused.
#     kubeconfig = "/etc/secrets-sidecar/kubeconfig"
#     # The bound of each request to the API server. Default "5s"; 10ms to 5m.
#     timeout = "5s"
#   }
# }

# The supervised child: the application runs under the sidecar (like consul-template's exec mode). It starts once
# every template and env_template has rendered, is reloaded or restarted when they change, receives the signals
# the sidecar gets (except SIGHUP, which reloads the sidecar's config, and SIGTERM/SIGINT, which stop both), and
# when it exits on its own the sidecar exits with its status. With exec, a template's default notify is ["exec"].
exec {
  # Required: the program and its arguments (no shell).
  command = ["node", "server.js"]
  # Signal the child with this when its files change. Omitted: restart the child instead.
  reload_signal = "SIGHUP"
  # How the child is asked to stop (shutdown, restart). Default "SIGTERM".
  kill_signal = "SIGTERM"
  # Then SIGKILL to its whole process group. Default "10s"; 0s to 1h.
  kill_timeout = "10s"
  # A random delay up to this long before each reload signal, to spread a fleet. Default "0s"; 0s to 1h.
  splay = "0s"
  # "never" (default): the sidecar exits with the child. "on-failure": a non-zero exit restarts it, with backoff.
  restart = "never"
  # Which of the sidecar's variables the child inherits.
  env {
    # true: start from an empty environment (only env_template values). Default false.
    pristine = false
    # When set, only these pass: names, or prefixes ending in "*". Naming a credential variable exactly lets it
    # through (a deliberate choice); a prefix never does.
    allow = ["PATH", "HOME", "LANG", "NODE_*"]
    # Never pass these. The sidecar's own credentials (VAULT_*, BAO_*, AWS_*, AZURE_*, ARM_*, IDENTITY_*, MSI_*,
    # IMDS_*, SYSTEM_OIDCREQUESTURI, EJSON_*, GOOGLE_*, GCP_*, KUBECONFIG, SECRETS_SIDECAR_*, and the variable
    # listener.refresh_token_env names) are always denied as well.
    deny = ["INTERNAL_*"]
  }
}

# An env_template renders a value into the supervised child's environment, for applications that only read
# variables; a change restarts the child. Prefer files: variables show in `docker inspect` and /proc/<pid>/environ,
# are inherited by every process the application starts, and end up in crash reports and debug dumps.
env_template "DATABASE_PASSWORD" {
  # Exactly one of source or contents.
  contents = "{{secret \"local:db#password\"}}"
  # As for templates. Default true.
  error_on_missing_key = true
}

# A template block renders one file. Repeat the block for more files.
template {
  # The Handlebars template: a file (`source`) or inline text (`contents`), exactly one of the two.
  source = "templates/app.env.hbs"
  # contents = <<-EOT
  #   DATABASE_PASSWORD={{secret "local:db#password"}}
  #   EOT

  # Required: where to write. Written atomically (temp file in the same directory, fsync, rename).
  destination = "/dev/shm/app/app.env"

  # File mode, as an octal string. Default "0600".
  perms = "0600"

  # Owner of the file: a numeric id or a name from /etc/passwd and /etc/group. Default: the sidecar's own user.
  user  = 1000
  group = "app"

  # Create missing parent directories (with mode 0700). Default true.
  create_dest_dirs = true

  # A reference to a key that the secret does not have fails the render (naming template, line and reference),
  # and so does a missing field looked up inside a secret (Handlebars strict mode). Default true.
  # `{{secret "local:db#port" default="5432"}}` gives a fallback for one reference either way.
  error_on_missing_key = true

  # The most this template may render, in bytes; a render that grows past it (a loop over a huge value, loops
  # inside loops) stops with SIDECAR_ERR_RENDER_TOO_LARGE before it exhausts memory. Default 1048576 (1 MiB);
  # at most 67108864 (64 MiB): a render is held in memory whole.
  max_size = 1048576

  # Secrets are only written onto tmpfs or ramfs; any other filesystem is refused before anything is written.
  # true allows disk for this template, with a warning in the log. Default false.
  allow_non_tmpfs = false

  # The notify targets to fire when this file changes: notify block names, and "exec" for the supervised child.
  # Default: ["exec"] with an exec block, else every notify block; [] fires none.
  notify = ["exec", "prom"]

  # Overrides the top-level wait for this template.
  wait {
    min = "1s"
    max = "5s"
  }
}

# Template language: Handlebars, without HTML escaping, with these helpers only (unknown helpers are errors when
# the template loads, and there is no helper that reads files or runs commands):
#   {{secret "name:path#key"}}            one value; "#a.b" follows nested keys, "\." is a literal dot in a key
#   {{#with (secret "name:path")}}…{{/with}}  the whole secret as an object ({{secret "name:path"}} prints JSON)
#   {{secret "name:path#key" default="x"}}  a fallback when the key is missing
#   {{json value}} {{json value indent=2}}  JSON text
#   {{base64Encode value}} {{base64Decode value}}
#   {{default value "fallback"}}           fallback for an empty or missing value (error_on_missing_key = false)
#   {{trim value}} {{indent value 4}}
#   {{env "POD_NAME"}}                     only variables listed in env_allow
# References may be computed from other secrets, e.g. {{secret (secret "local:pointer")}}.
# Other hash arguments are request parameters: with the vault backend, on a secrets engine other than KV, they make
# the reference a write that returns a secret, e.g. one certificate issuance shared by every template that names it:
#   {{#with (secret "main:pki/issue/web" common_name="app.internal" ttl="72h")}}{{certificate}}{{/with}}
