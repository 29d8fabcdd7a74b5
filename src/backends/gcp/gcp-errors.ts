import { SidecarError } from '../../errors.js';
import { tlsVerificationError } from '../tls-error.js';

/** gRPC status codes (the REST transport maps HTTP statuses onto the same). */
const Status = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, UNAUTHENTICATED: 16 } as const;

/**
 * grpc-js keeps only the text of a failed TLS handshake ("… Last error: Error: self-signed certificate in
 * certificate chain"), so the verification failures are recognised by Node's wording of them.
 */
const TLS_TEXT: readonly (readonly [RegExp, string])[] = [
  [/self[- ]signed certificate in certificate chain/i, 'SELF_SIGNED_CERT_IN_CHAIN'],
  [/self[- ]signed certificate/i, 'DEPTH_ZERO_SELF_SIGNED_CERT'],
  [/unable to verify the first certificate/i, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
  [/unable to get (local )?issuer certificate/i, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'],
  [/certificate has expired/i, 'CERT_HAS_EXPIRED'],
  [/does not match certificate's altnames/i, 'ERR_TLS_CERT_ALTNAME_INVALID'],
];

/**
 * What the Secret Manager client or google-auth-library threw, as a coded error. Only the status name and the
 * first line of its details are kept: they name the resource, never a payload, and never the bearer token.
 */
export function gcpError(error: unknown, what: string): SidecarError {
  const e = error as { code?: unknown; details?: unknown; message?: unknown; cause?: unknown };
  const tls = tlsVerificationError(error, what) ?? tlsVerificationError(e.cause, what);
  if (tls) return tls;
  const text = firstLine(typeof e.details === 'string' && e.details !== '' ? e.details : typeof e.message === 'string' ? e.message : String(error));
  const tlsCode = TLS_TEXT.find(([pattern]) => pattern.test(text))?.[1];
  if (tlsCode) return tlsVerificationError({ code: tlsCode }, what) ?? new SidecarError('SIDECAR_ERR_BACKEND_TLS', `${what}: ${tlsCode}`);
  if (/could not load the default credentials|unable to detect a project id/i.test(text)) {
    return new SidecarError('SIDECAR_ERR_BACKEND_DENIED', `${what}: no Google credential is available (${text})`, {
      retryable: true,
      hint: 'set credentials_file or GOOGLE_APPLICATION_CREDENTIALS to a service-account key, or run where the metadata server answers (workload identity)',
    });
  }
  const code = typeof e.code === 'number' ? e.code : undefined;
  switch (code) {
    case Status.NOT_FOUND:
      return new SidecarError('SIDECAR_ERR_BACKEND_NOT_FOUND', `${what}: not found (NOT_FOUND: ${text})`);
    case Status.PERMISSION_DENIED:
    case Status.UNAUTHENTICATED:
      return new SidecarError(
        'SIDECAR_ERR_BACKEND_DENIED',
        `${what}: access denied (${code === Status.UNAUTHENTICATED ? 'UNAUTHENTICATED' : 'PERMISSION_DENIED'}: ${text})`,
        {
          hint: 'grant the identity roles/secretmanager.secretAccessor on the secret or the project',
        },
      );
    case Status.FAILED_PRECONDITION:
      // Secret Manager's answer for a version that is disabled or destroyed.
      return new SidecarError('SIDECAR_ERR_BACKEND_INACTIVE', `${what}: the version cannot be read (FAILED_PRECONDITION: ${text})`);
    case Status.INVALID_ARGUMENT:
      return new SidecarError('SIDECAR_ERR_BACKEND_NOT_FOUND', `${what}: cannot be read (INVALID_ARGUMENT: ${text})`);
    case Status.RESOURCE_EXHAUSTED:
      // The client's limit on an answer's size (Secret Manager's payloads are at most 64 KiB): not a quota.
      if (/larger than max/i.test(text))
        return new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `${what}: the answer is larger than a Secret Manager payload can be (${text})`, {
          retryable: false,
        });
      return new SidecarError('SIDECAR_ERR_BACKEND_THROTTLED', `${what}: throttled (RESOURCE_EXHAUSTED: ${text})`);
    default:
      // UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, a token the metadata server could not give: worth another try.
      return new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `${what}: ${code === undefined ? '' : `status ${code}: `}${text}`);
  }
}

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? '').slice(0, 300);
}
