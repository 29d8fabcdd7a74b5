import { SidecarError } from '../../errors.js';
import { describeNetworkError } from '../network-error.js';
import { tlsVerificationError } from '../tls-error.js';
import { VaultAnswerTooLargeError, VaultHttpError, VaultTimeoutError } from './vault-http.js';

export interface VaultErrorOptions {
  /** A login: Vault answers 400 to wrong credentials (an unknown role, a wrong secret_id), which is a refusal. */
  readonly login?: boolean;
}

/**
 * Turns whatever our HTTP client, node-vault or axios threw into a coded error. Only the status and Vault's own
 * error text are kept: a raw axios error carries the request, whose headers hold the token.
 */
export function vaultError(error: unknown, what: string, options: VaultErrorOptions = {}): SidecarError {
  if (error instanceof SidecarError) return error;
  const status = error instanceof VaultHttpError ? error.status : (error as { response?: { statusCode?: number } }).response?.statusCode;
  const message = vaultMessage(String((error as Error).message ?? error));
  if (status !== undefined) {
    if (status === 404) return new SidecarError('SIDECAR_ERR_BACKEND_NOT_FOUND', `${what}: not found (404)`);
    if (status === 403 || status === 401) {
      return new SidecarError('SIDECAR_ERR_BACKEND_DENIED', `${what}: ${message} (${status})`, { hint: "check the token's policies for this path" });
    }
    if (status === 400 && options.login) {
      return new SidecarError('SIDECAR_ERR_BACKEND_DENIED', `${what}: ${message} (${status})`, {
        hint: 'check the login credentials (role_id and secret_id, role and JWT)',
      });
    }
    // 429 (rate limit), 412 (eventual consistency), 5xx including a sealed (503) or standby server: try again.
    const retryable = status === 429 || status === 412 || status >= 500;
    const retryAfterMs = error instanceof VaultHttpError ? error.retryAfterMs : undefined;
    return new SidecarError(retryable ? 'SIDECAR_ERR_BACKEND_UNAVAILABLE' : 'SIDECAR_ERR_BACKEND_MALFORMED', `${what}: ${message} (${status})`, {
      retryable,
      retryAfterMs,
    });
  }
  if (error instanceof VaultAnswerTooLargeError) return new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `${what}: ${error.message}`);
  if (error instanceof VaultTimeoutError)
    return new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `${what}: ${error.message}`, {
      hint: 'the server is slow or trickling its answer; raise request_timeout if that is normal',
    });
  const tls = tlsVerificationError(error, what);
  if (tls) return tls;
  const code = (error as NodeJS.ErrnoException).code;
  return new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `${what}: ${describeNetworkError(error) ?? code ?? message}`);
}

/** Vault wraps errors as "1 error occurred:\n\t* permission denied\n\n": keep the items only. */
function vaultMessage(raw: string): string {
  const items = [...raw.matchAll(/^\s*\* (.+)$/gm)].map((m) => m[1]?.trim() ?? '');
  return (items.length > 0 ? items.join('; ') : raw.trim()).slice(0, 300);
}
