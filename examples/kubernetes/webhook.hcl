# secrets-sidecar webhook -c webhook.hcl (the Helm chart renders this file from its values)
webhook {
  address       = "0.0.0.0:8443"
  tls_cert_file = "/tls/tls.crt"
  tls_key_file  = "/tls/tls.key"
  image         = "registry.example/secrets-sidecar:0.2.0"
  namespace     = "secrets-sidecar"
}
