import { SidecarError } from '../errors.js';

/** OpenSSL's and Node's codes for a server certificate that cannot be trusted. */
const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The server's TLS alerts that refuse our client certificate (none given, unknown CA, expired, revoked). */
const CLIENT_CERT_REFUSED =
  /^ERR_SSL_(TLSV13_ALERT_CERTIFICATE_REQUIRED|SSLV3_ALERT_BAD_CERTIFICATE|TLSV1_ALERT_UNKNOWN_CA|SSLV3_ALERT_CERTIFICATE_EXPIRED|SSLV3_ALERT_CERTIFICATE_REVOKED|TLSV1_ALERT_ACCESS_DENIED)$/;

/**
 * A certificate that cannot be verified, ours or the server's, is not an outage: retrying cannot fix it, and
 * the hint says what can. undefined when the error is something else.
 */
export function tlsVerificationError(error: unknown, what: string): SidecarError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && CLIENT_CERT_REFUSED.test(code)) {
    return new SidecarError('SIDECAR_ERR_BACKEND_TLS', `${what}: the server refused the client certificate (${code})`, {
      hint: 'the server requires mutual TLS: give a certificate it trusts with client_cert and client_key',
    });
  }
  if (code === undefined || !TLS_VERIFY_CODES.has(code)) return undefined;
  return new SidecarError('SIDECAR_ERR_BACKEND_TLS', `${what}: the server's certificate cannot be verified (${code})`, {
    hint:
      code === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? 'the certificate does not name this host: fix the address, or set tls_server_name'
        : "give the CA that signed it with ca_cert (or the SDK's CA setting)",
  });
}
