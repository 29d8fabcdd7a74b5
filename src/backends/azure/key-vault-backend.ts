import { AzureLogger } from '@azure/logger';
import { SecretClient, type KeyVaultSecret } from '@azure/keyvault-secrets';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type { AzureKeyVaultBackendConfig } from './provider.js';
import { SidecarError, isSidecarError } from '../../errors.js';
import { boundedCall, logAbandoned } from '../bounded-call.js';
import type { Logger } from '../../log/logger.js';
import { Sealed } from '../../sealed.js';
import { timeOrder } from '../../source-version.js';
import { RateLimiter } from '../rate-limiter.js';
import type { FetchedSecret, FetchContext, Lifetime, SecretBackend } from '../types.js';
import { azureError } from './azure-errors.js';
import { certificateParts } from './certificate-bundle.js';
import { createCredential } from './credential.js';

/** How long before a secret's expiresOn it is checked for a new version, when that comes before the interval. */
const EXPIRY_CHECK_LEAD_MS = 60_000;

interface SecretRequest {
  readonly name: string;
  readonly version: string | undefined;
  readonly format: 'pem' | 'pfx' | undefined;
}

/** "db-password", "db-password?version=…", "tls-cert?format=pem". */
export function parseSecretRequest(path: string): SecretRequest {
  const [name = path, query = ''] = path.split('?', 2);
  const params = new URLSearchParams(query);
  const format = params.get('format') ?? undefined;
  if (format !== undefined && format !== 'pem' && format !== 'pfx')
    throw new SidecarError('SIDECAR_ERR_REF_INVALID', `"${path}": format is "pem" or "pfx", not "${format}"`);
  return { name, version: params.get('version') ?? undefined, format };
}

/**
 * Azure Key Vault through @azure/keyvault-secrets. A refresh reads the latest version (one request) and renders
 * only when its version changed; a pinned version is read once. Throttling and 5xx are retried by the SDK with
 * the backoff Azure recommends (1, 2, 4, 8, 16 s, or Retry-After), then by the watcher; requests are capped
 * per vault.
 */
export class KeyVaultBackend implements SecretBackend {
  readonly name: string;
  readonly #client: SecretClient;
  /** Aborts reads still running when the backend closes. */
  readonly #closing = new AbortController();

  constructor(
    private readonly config: AzureKeyVaultBackendConfig,
    private readonly logger: Logger,
  ) {
    this.name = config.name;
    // The SDK logs through @azure/logger (when AZURE_LOG_LEVEL asks) straight to stderr; its lines join ours as
    // debug records instead, so stderr stays JSON. It logs headers through an allowlist, never Authorization.
    AzureLogger.log = (...args: unknown[]) => logger.debug({ azure: concealNames(args.map(String).join(' ')).slice(0, 500) }, 'azure sdk');
    const limiter = new RateLimiter(config.maxRequestsPerSecond);
    const rateLimit: PipelinePolicy = {
      name: 'secretsSidecarRateLimit',
      sendRequest: async (request, next) => {
        await limiter.take();
        logger.debug({ method: request.method, path: concealNames(new URL(request.url).pathname) }, 'azure call');
        return next(request);
      },
    };
    this.#client = new SecretClient(config.vaultUrl, createCredential(config), {
      retryOptions: { maxRetries: 5, retryDelayInMs: 1_000, maxRetryDelayInMs: 16_000 },
      additionalPolicies: [{ policy: rateLimit, position: 'perRetry' }],
    });
  }

  async fetch(path: string, context: FetchContext): Promise<FetchedSecret> {
    const request = parseSecretRequest(path);
    // A name computed from a secret shows as its label, in errors and in the log of a call in flight; it is in the
    // URL of each request for it, which the debug lines show.
    if (context.label !== undefined && request.name !== '') concealedNames.add(request.name);
    const what = `backend "${this.name}": ${context.label ?? path}`;
    let secret: KeyVaultSecret;
    try {
      // request_timeout bounds the whole read: sign-in, the SDK's own retries and every byte of each answer.
      secret = await boundedCall(
        (abortSignal) => this.#client.getSecret(request.name, { abortSignal, ...(request.version ? { version: request.version } : {}) }),
        {
          signals: [context.signal, this.#closing.signal],
          timeoutMs: this.config.requestTimeoutMs,
          what,
          onAbandon: (reason) => logAbandoned(this.logger, what, reason),
        },
      );
    } catch (error) {
      throw isSidecarError(error) ? error : azureError(error, what);
    }
    const { properties } = secret;
    const now = Date.now();
    if (properties.enabled === false) throw new SidecarError('SIDECAR_ERR_BACKEND_INACTIVE', `${what}: the secret is disabled`);
    if (properties.notBefore && properties.notBefore.getTime() > now) {
      throw new SidecarError('SIDECAR_ERR_BACKEND_INACTIVE', `${what}: the secret is not valid before ${properties.notBefore.toISOString()}`);
    }
    if (properties.expiresOn && properties.expiresOn.getTime() <= now) {
      throw new SidecarError('SIDECAR_ERR_BACKEND_INACTIVE', `${what}: the secret expired at ${properties.expiresOn.toISOString()}`);
    }
    const value = this.#decode(secret.value ?? '', properties.contentType, request, what);
    return {
      value: new Sealed(value),
      version: `az:${properties.version ?? ''}`,
      lifetime: this.#lifetime(request, properties.expiresOn),
      source: properties.version ? { id: properties.version, order: [timeOrder(properties.createdOn)] } : undefined,
    };
  }

  async close(): Promise<void> {
    this.#closing.abort(new SidecarError('SIDECAR_ERR_BACKEND_UNAVAILABLE', `backend "${this.name}": closed`));
    await Promise.resolve();
  }

  #decode(text: string, contentType: string | undefined, request: SecretRequest, what: string): unknown {
    if (request.format === 'pem') return certificateParts(text, contentType, what);
    if (request.format === 'pfx') {
      if (contentType !== 'application/x-pkcs12')
        throw new SidecarError(
          'SIDECAR_ERR_BACKEND_MALFORMED',
          `${what}: format=pfx needs a PKCS#12 certificate, and this secret is ${contentType ?? 'plain text'}`,
          { retryable: false },
        );
      return text;
    }
    const looksJson = contentType === 'application/json' || text.trimStart().startsWith('{');
    if (!looksJson) return text;
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      if (contentType === 'application/json')
        throw new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `${what}: content type is application/json but the value is not JSON`, {
          cause: error,
          retryable: false,
        });
      return text;
    }
  }

  #lifetime(request: SecretRequest, expiresOn: Date | undefined): Lifetime {
    // A pinned version never changes.
    if (request.version) return { kind: 'until-changed' };
    const checkAt = expiresOn ? expiresOn.getTime() - EXPIRY_CHECK_LEAD_MS : undefined;
    return { kind: 'poll', intervalMs: this.config.refreshIntervalMs, checkAt };
  }
}

/**
 * Secret names computed from a secret, from every Key Vault backend: the SDK's logger is one for the process. Kept
 * for the process's life (a name is short, and a reload keeps what it once read secret).
 */
const concealedNames = new Set<string>();

/**
 * `text` (a request's path, an SDK log line) with every concealed name, as written or URL-encoded, replaced where it
 * is a whole path segment (`/secrets/<name>/…`): elsewhere a short name would garble the text and spell itself out.
 */
function concealNames(text: string): string {
  let shown = text;
  for (const name of concealedNames) {
    for (const form of new Set([name, encodeURIComponent(name)])) {
      const escaped = form.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      shown = shown.replace(new RegExp(`/${escaped}(?=[/?#\\s"']|$)`, 'g'), '/[derived from a secret]');
    }
  }
  return shown;
}
