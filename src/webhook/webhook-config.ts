import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { readBounded } from '../bounded-read.js';
import { formatDuration, parseDuration } from '../config/duration.js';
import { formatPath, parseConfigTree, readConfigText, schemaError } from '../config/load-config.js';
import { locate, toPlain, type PathSegment } from '../config/located.js';
import { formatLocation } from '../config/syntax-error.js';
import { SidecarError } from '../errors.js';
import { SERVICE_ACCOUNT_DIR } from '../kubernetes-pod.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../log/logger.js';
import { parseQuantity } from './quantity.js';

/*
 * webhook.hcl: the webhook's own settings, read with the machinery of sidecar.hcl (same HCL/JSON parser, same
 * file:line:col errors, strict keys). The Helm chart renders this file from its values.
 */

/** One resource setting of the injected containers; cpu in cores, memory in bytes once parsed. */
export interface ResourceAmounts {
  readonly cpu: string | undefined;
  readonly memory: string | undefined;
}

export interface WebhookResources {
  readonly requests: ResourceAmounts;
  readonly limits: ResourceAmounts;
  /** The most an annotation may ask for (requests and limits alike). */
  readonly max: { readonly cpu: string; readonly memory: string };
}

export interface KubernetesAccess {
  /** https://host:port; undefined: in-cluster (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT). */
  readonly server: string | undefined;
  readonly caFile: string;
  readonly tokenFile: string;
}

export interface WebhookConfig {
  readonly file: string;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly host: string;
  readonly port: number;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  readonly tlsReloadMs: number;
  readonly image: string;
  readonly imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never' | undefined;
  /** The webhook's own namespace, never injected; undefined: $POD_NAMESPACE, then the service account's namespace file. */
  readonly namespace: string | undefined;
  /** Served namespaces; empty: all but excluded ones and its own. */
  readonly namespaces: readonly string[];
  readonly excludeNamespaces: readonly string[];
  readonly failurePolicy: 'Fail' | 'Ignore';
  /** The injected sidecar's listener port (probes, metrics). */
  readonly probePort: number;
  readonly secretsSizeLimit: string;
  readonly cacheSizeLimit: string;
  readonly resources: WebhookResources;
  /** The projected service-account token for Kubernetes auth. */
  readonly tokenAudience: string;
  readonly tokenExpirationSeconds: number;
  readonly kubernetes: KubernetesAccess;
  /** The budget of one API call (reading a ConfigMap, a page of the start-up scan). */
  readonly apiTimeoutMs: number;
}

const durationIn = (minMs: number, maxMs: number, why: string) =>
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined || ms < minMs || ms > maxMs) {
      ctx.addIssue({ code: 'custom', message: `expected a duration from ${formatDuration(minMs)} to ${formatDuration(maxMs)} (${why})` });
      return z.NEVER;
    }
    return ms;
  });

const quantity = (kind: 'cpu' | 'memory') =>
  z.string().refine((text) => parseQuantity(text) !== undefined && parseQuantity(text)! > 0, {
    message: kind === 'cpu' ? 'expected a CPU quantity such as "100m" or "1"' : 'expected a memory quantity such as "64Mi" or "1Gi"',
  });

const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'expected a namespace name (a DNS label: a-z, 0-9, "-", at most 63)');

/** A block that may appear once: HCL gives a one-item list. */
const once = <T extends z.ZodType>(schema: T, name: string) =>
  z.preprocess((value, ctx) => {
    if (!Array.isArray(value)) return value;
    if (value.length === 1) return value[0] as unknown;
    ctx.addIssue({ code: 'custom', message: `block "${name}" may appear only once`, input: value, path: [1] });
    return z.NEVER;
  }, schema);

const resourcesSchema = z.strictObject({
  cpu_request: quantity('cpu').optional(),
  memory_request: quantity('memory').optional(),
  cpu_limit: quantity('cpu').optional(),
  memory_limit: quantity('memory').optional(),
  max_cpu: quantity('cpu').optional(),
  max_memory: quantity('memory').optional(),
});

const webhookSchema = z.strictObject({
  address: z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, such as "0.0.0.0:8443"'),
  tls_cert_file: z.string().min(1),
  tls_key_file: z.string().min(1),
  tls_reload_interval: durationIn(100, 3_600_000, 'how often the certificate files are checked for a new certificate').optional(),
  image: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/, 'expected an image reference such as "registry.example/secrets-sidecar:0.2.0"')
    .max(512),
  image_pull_policy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
  namespace: dnsLabel.optional(),
  namespaces: z.array(dnsLabel).optional(),
  exclude_namespaces: z.array(dnsLabel).optional(),
  failure_policy: z.enum(['Fail', 'Ignore']).optional(),
  probe_port: z.number().int().min(1024).max(65535).optional(),
  secrets_size_limit: quantity('memory').optional(),
  cache_size_limit: quantity('memory').optional(),
  api_timeout: durationIn(100, 8_000, "an admission must answer well inside the API server's 10 s").optional(),
  resources: once(resourcesSchema, 'resources').optional(),
  kubernetes_auth: once(
    z.strictObject({
      audience: z.string().min(1).max(253).optional(),
      // TokenRequest takes at least 10 minutes and the kubelet refreshes at 80 % of it.
      expiration: durationIn(600_000, 48 * 3_600_000, 'a projected token lives at least 10 minutes').optional(),
    }),
    'kubernetes_auth',
  ).optional(),
  kubernetes: once(
    z.strictObject({
      server: z.url({ protocol: /^https$/, error: 'expected an https:// URL' }).optional(),
      ca_file: z.string().min(1).optional(),
      token_file: z.string().min(1).optional(),
    }),
    'kubernetes',
  ).optional(),
});

const webhookFileSchema = z.strictObject({
  log_level: z.enum(LOG_LEVELS as [string, ...string[]]).optional(),
  log_format: z.enum(LOG_FORMATS as [string, ...string[]]).optional(),
  webhook: once(webhookSchema, 'webhook'),
});

type RawWebhook = z.output<typeof webhookSchema>;

export const WEBHOOK_DEFAULTS = Object.freeze({
  probePort: 9102,
  secretsSizeLimit: '16Mi',
  cacheSizeLimit: '4Mi',
  tlsReloadMs: 10_000,
  apiTimeoutMs: 3_000,
  tokenAudience: 'vault',
  tokenExpirationSeconds: 3600,
  cpuRequest: '10m',
  memoryRequest: '48Mi',
  memoryLimit: '128Mi',
  maxCpu: '1',
  maxMemory: '512Mi',
});

const HINT = 'the README section "Injecting into pods" documents every webhook option';

/** Reads, validates and resolves webhook.hcl (or .json). Every error names file:line:col and the option's path. */
export async function loadWebhookConfig(path: string): Promise<WebhookConfig> {
  const { text, file } = await readConfigText(path);
  return parseWebhookConfig(text, file);
}

export async function parseWebhookConfig(source: string, file: string): Promise<WebhookConfig> {
  const tree = await parseConfigTree(source, file);
  const parsed = webhookFileSchema.safeParse(toPlain(tree));
  if (!parsed.success) throw schemaError(parsed.error.issues, tree, file, HINT);
  const invalid = (path: PathSegment[], message: string) =>
    new SidecarError('SIDECAR_ERR_CONFIG_INVALID', `${formatLocation(file, locate(tree, path))}: ${formatPath(path)}: ${message}`, { hint: HINT });
  return resolveWebhook(parsed.data.webhook, file, invalid, parsed.data.log_level as LogLevel | undefined, parsed.data.log_format as LogFormat | undefined);
}

function resolveWebhook(
  raw: RawWebhook,
  file: string,
  invalid: (path: PathSegment[], message: string) => SidecarError,
  logLevel: LogLevel | undefined,
  logFormat: LogFormat | undefined,
): WebhookConfig {
  const base = dirname(file);
  const colon = raw.address.lastIndexOf(':');
  const port = Number(raw.address.slice(colon + 1));
  if (port > 65535) throw invalid(['webhook', 'address'], `port ${port} is out of range`);
  const probePort = raw.probe_port ?? WEBHOOK_DEFAULTS.probePort;
  const r = raw.resources ?? {};
  const resources: WebhookResources = Object.freeze({
    requests: Object.freeze({ cpu: r.cpu_request ?? WEBHOOK_DEFAULTS.cpuRequest, memory: r.memory_request ?? WEBHOOK_DEFAULTS.memoryRequest }),
    limits: Object.freeze({ cpu: r.cpu_limit, memory: r.memory_limit ?? WEBHOOK_DEFAULTS.memoryLimit }),
    max: Object.freeze({ cpu: r.max_cpu ?? WEBHOOK_DEFAULTS.maxCpu, memory: r.max_memory ?? WEBHOOK_DEFAULTS.maxMemory }),
  });
  const at = (key: string) => ['webhook', 'resources', key];
  for (const kind of ['cpu', 'memory'] as const) {
    const max = parseQuantity(resources.max[kind])!;
    const request = resources.requests[kind];
    const limit = resources.limits[kind];
    if (request !== undefined && parseQuantity(request)! > max)
      throw invalid(at(`${kind}_request`), `${request} is more than max_${kind} (${resources.max[kind]})`);
    if (limit !== undefined && parseQuantity(limit)! > max) throw invalid(at(`${kind}_limit`), `${limit} is more than max_${kind} (${resources.max[kind]})`);
    if (request !== undefined && limit !== undefined && parseQuantity(request)! > parseQuantity(limit)!)
      throw invalid(at(`${kind}_request`), `${request} is more than ${kind}_limit (${limit})`);
  }
  const namespaces = raw.namespaces ?? [];
  if (raw.namespace !== undefined && namespaces.includes(raw.namespace))
    throw invalid(['webhook', 'namespaces'], `"${raw.namespace}" is the webhook's own namespace, which it never serves`);
  const k = raw.kubernetes ?? {};
  return Object.freeze({
    file,
    logLevel: logLevel ?? 'info',
    logFormat: logFormat ?? 'json',
    host: raw.address.slice(0, colon).replace(/^\[|\]$/g, ''),
    port,
    tlsCertFile: resolve(base, raw.tls_cert_file),
    tlsKeyFile: resolve(base, raw.tls_key_file),
    tlsReloadMs: raw.tls_reload_interval ?? WEBHOOK_DEFAULTS.tlsReloadMs,
    image: raw.image,
    imagePullPolicy: raw.image_pull_policy,
    namespace: raw.namespace,
    namespaces: Object.freeze([...namespaces]),
    excludeNamespaces: Object.freeze([...(raw.exclude_namespaces ?? [])]),
    failurePolicy: raw.failure_policy ?? 'Fail',
    probePort,
    secretsSizeLimit: raw.secrets_size_limit ?? WEBHOOK_DEFAULTS.secretsSizeLimit,
    cacheSizeLimit: raw.cache_size_limit ?? WEBHOOK_DEFAULTS.cacheSizeLimit,
    resources,
    tokenAudience: raw.kubernetes_auth?.audience ?? WEBHOOK_DEFAULTS.tokenAudience,
    tokenExpirationSeconds: Math.round((raw.kubernetes_auth?.expiration ?? WEBHOOK_DEFAULTS.tokenExpirationSeconds * 1000) / 1000),
    kubernetes: Object.freeze({
      server: k.server,
      caFile: resolve(base, k.ca_file ?? `${SERVICE_ACCOUNT_DIR}/ca.crt`),
      tokenFile: resolve(base, k.token_file ?? `${SERVICE_ACCOUNT_DIR}/token`),
    }),
    apiTimeoutMs: raw.api_timeout ?? WEBHOOK_DEFAULTS.apiTimeoutMs,
  });
}

/** The webhook's own namespace: the config's, else $POD_NAMESPACE, else the service account's namespace file. */
export async function ownNamespace(config: WebhookConfig, env: Readonly<Record<string, string | undefined>>): Promise<string> {
  if (config.namespace) return config.namespace;
  const fromEnv = env['POD_NAMESPACE'];
  if (fromEnv && /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(fromEnv)) return fromEnv;
  const fromFile = await readBounded(`${SERVICE_ACCOUNT_DIR}/namespace`, { maxBytes: 253 }).then(
    (bytes) => bytes.toString('utf8').trim(),
    () => '',
  );
  if (fromFile) return fromFile;
  throw new SidecarError(
    'SIDECAR_ERR_CONFIG_INVALID',
    `${config.file}: webhook.namespace is not set, and neither POD_NAMESPACE nor ${SERVICE_ACCOUNT_DIR}/namespace gives it`,
    {
      hint: 'the webhook never injects into its own namespace, so it must know it: set webhook.namespace',
    },
  );
}
