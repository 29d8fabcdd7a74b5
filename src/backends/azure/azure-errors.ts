import { SidecarError } from '../../errors.js';
import { describeNetworkError } from '../network-error.js';
import { serverText } from '../server-text.js';
import { tlsVerificationError } from '../tls-error.js';

/**
 * Turns what the Key Vault SDK or @azure/identity threw into a coded error. Only the status, Key Vault's error
 * code and message are kept: a RestError also carries the request, whose headers hold the token.
 */
export function azureError(error: unknown, what: string): SidecarError {
  const e = error as {
    name?: string;
    statusCode?: number;
    code?: string;
    message?: string;
    details?: { error?: { code?: string; message?: string; innererror?: { code?: string }; innerError?: { code?: string } } };
  };
  const tls = tlsVerificationError(error, what) ?? tlsVerificationError((error as { cause?: unknown }).cause, what);
  if (tls) return tls;
  if (e.name === 'CredentialUnavailableError' || e.name === 'AggregateAuthenticationError') {
    return new SidecarError('SIDECAR_ERR_BACKEND_DENIED', `${what}: no Azure credential is available (${serverText(e.message)})`, {
      retryable: true,
      hint: 'check the credential mode and its variables (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE, IDENTITY_ENDPOINT)',
    });
  }
  if (e.name === 'AuthenticationError')
    return new SidecarError('SIDECAR_ERR_BACKEND_DENIED', `${what}: Azure sign-in failed (${serverText(e.message)})`, { retryable: true });
  const status = e.statusCode;
  const detail = e.details?.error;
  const text = `${serverText(detail?.code ?? e.code ?? 'error', 100)}: ${serverText(detail?.message ?? e.message)}`;
  if (status === 404) return new SidecarError('SIDECAR_ERR_BACKEND_NOT_FOUND', `${what}: not found (404 ${text})`);
  // The SDK's model names it innerError; the wire, innererror.
  if (status === 403 && (detail?.innerError ?? detail?.innererror)?.code === 'SecretDisabled')
    return new SidecarError('SIDECAR_ERR_BACKEND_INACTIVE', `${what}: the secret is disabled (403 SecretDisabled)`);
  if (status === 401 || status === 403)
    return new SidecarError('SIDECAR_ERR_BACKEND_DENIED', `${what}: access denied (${status} ${text})`, {
      hint: 'grant the identity "Key Vault Secrets User" on the vault, or get/list secret permissions',
    });
  if (status === 429) return new SidecarError('SIDECAR_ERR_BACKEND_THROTTLED', `${what}: throttled by Key Vault (429 ${text}), after the SDK's own retries`);
  if (status !== undefined && status < 300)
    return new SidecarError(
      'SIDECAR_ERR_BACKEND_MALFORMED',
      `${what}: the answer (HTTP ${status}) is not the JSON Key Vault sends; a proxy or a truncated body?`,
    );
  if (status !== undefined) {
    const retryable = status === 408 || status >= 500;
    return new SidecarError(retryable ? 'SIDECAR_ERR_BACKEND_UNAVAILABLE' : 'SIDECAR_ERR_BACKEND_MALFORMED', `${what}: ${status} ${text}`, { retryable });
  }
  const network = describeNetworkError(error);
  if (network) return new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `${what}: ${network}`);
  return new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `${what}: ${e.code === undefined ? serverText(e.message) : serverText(e.code, 100)}`);
}
