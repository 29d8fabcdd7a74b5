import { SidecarError } from '../../errors.js';

/** AWS SDK errors as coded errors: the exception name and status only (messages can carry request details). */
export function awsError(error: unknown, what: string): SidecarError {
  const name = (error as { name?: string }).name ?? 'Error';
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const detail = status === undefined ? name : `${name} (${status})`;
  if (name === 'ResourceNotFoundException' || name === 'ParameterNotFound') return new SidecarError('SIDECAR_ERR_BACKEND_NOT_FOUND', `${what}: not found (${detail})`);
  if (['AccessDeniedException', 'UnrecognizedClientException', 'InvalidSignatureException', 'ExpiredTokenException', 'DecryptionFailure', 'CredentialsProviderError'].includes(name)) {
    return new SidecarError('SIDECAR_ERR_BACKEND_DENIED', `${what}: access denied (${detail})`, { hint: 'check the credentials the SDK found and their IAM policy for this secret' });
  }
  if (name === 'InvalidRequestException' || name === 'InvalidParameterException') {
    return new SidecarError('SIDECAR_ERR_BACKEND_NOT_FOUND', `${what}: cannot be read (${detail}); is it scheduled for deletion?`);
  }
  // Throttling, 5xx, timeouts and network errors: worth another try.
  return new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `${what}: ${detail}`);
}
