import { SidecarError } from '../../errors.js';
import { describeNetworkError } from '../network-error.js';
import { serverText } from '../server-text.js';
import { tlsVerificationError } from '../tls-error.js';
import { MAX_RESPONSE_BYTES, ResponseTooLargeError } from './response-limit.js';

/** AWS's names for "slow down" across services (Secrets Manager, SSM, STS, the query protocol). */
const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'ThrottledException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
]);

const DENIED = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'DecryptionFailure',
  'CredentialsProviderError',
]);

/** AWS SDK errors as coded errors: the exception name and status only (messages can carry request details). */
export function awsError(error: unknown, what: string): SidecarError {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number }; $response?: { headers?: Record<string, string | undefined> } };
  const name = serverText(e.name ?? 'Error', 100);
  const status = e.$metadata?.httpStatusCode;
  const detail = status === undefined ? name : `${name} (${status})`;
  if (name === 'ResourceNotFoundException' || name === 'ParameterNotFound')
    return new SidecarError('SIDECAR_ERR_BACKEND_NOT_FOUND', `${what}: not found (${detail})`);
  if (DENIED.has(name)) {
    return new SidecarError('SIDECAR_ERR_BACKEND_DENIED', `${what}: access denied (${detail})`, {
      hint: 'check the credentials the SDK found and their IAM policy for this secret',
    });
  }
  if (name === 'InvalidRequestException' || name === 'InvalidParameterException') {
    // The cause (the exception's name) lets the backend ask DescribeSecret whether a deletion is scheduled.
    return new SidecarError('SIDECAR_ERR_BACKEND_NOT_FOUND', `${what}: cannot be read (${detail}); is it scheduled for deletion?`, { cause: { name } });
  }
  if (THROTTLING.has(name) || status === 429) {
    const retryAfterMs = retryAfter(e.$response?.headers);
    return new SidecarError(
      'SIDECAR_ERR_BACKEND_THROTTLED',
      `${what}: throttled by AWS (${detail})${retryAfterMs === undefined ? '' : `; it asked to wait ${retryAfterMs / 1000}s`}`,
      {
        hint: "lower max_requests_per_second, or raise the account's API quota; the sidecar backs off longer meanwhile",
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      },
    );
  }
  if (error instanceof ResponseTooLargeError) {
    return new SidecarError(
      'SIDECAR_ERR_BACKEND_MALFORMED',
      `${what}: the answer is ${error.bytes} bytes or more, larger than any AWS answer (at most ${MAX_RESPONSE_BYTES}); not read further`,
      { retryable: false },
    );
  }
  const tls = tlsVerificationError(error, what);
  if (tls) return tls;
  const network = describeNetworkError(error);
  if (network) return new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `${what}: ${network}`);
  // A 2xx answer that does not parse: the SDK's deserializer threw (a proxy's page, a truncated body).
  if (name === 'SyntaxError' || (status !== undefined && status < 300)) {
    return new SidecarError(
      'SIDECAR_ERR_BACKEND_MALFORMED',
      `${what}: the answer${status === undefined ? '' : ` (HTTP ${status})`} is not the JSON AWS sends; a proxy or a truncated body?`,
    );
  }
  // 5xx and other transient failures: worth another try.
  return new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `${what}: ${detail}`);
}

/** Retry-After in seconds or as an HTTP date, in ms; undefined when absent or unreadable. */
export function retryAfter(headers: Record<string, string | undefined> | undefined): number | undefined {
  const raw = Object.entries(headers ?? {})
    .find(([key]) => key.toLowerCase() === 'retry-after')?.[1]
    ?.trim();
  if (!raw) return undefined;
  const seconds = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : (Date.parse(raw) - Date.now()) / 1000;
  return Number.isFinite(seconds) && seconds >= 0 ? Math.round(seconds * 1000) : undefined;
}
