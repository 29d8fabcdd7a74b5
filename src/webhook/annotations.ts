import { parseQuantity } from './quantity.js';
import type { ResourceAmounts, WebhookResources } from './webhook-config.js';

/*
 * The `secrets-sidecar.io/…` annotations a pod asks for injection with, read and checked. Every refusal names
 * the annotation; a value is quoted only after it has passed a character check or cut short and escaped, so a
 * newline or a control character cannot forge a line in the API server's answer or the webhook's log.
 */

export const PREFIX = 'secrets-sidecar.io/';
export const ANNOTATION = Object.freeze({
  inject: `${PREFIX}inject`,
  config: `${PREFIX}config`,
  mode: `${PREFIX}mode`,
  secretsPath: `${PREFIX}secrets-path`,
  containers: `${PREFIX}containers`,
  cpuRequest: `${PREFIX}cpu-request`,
  cpuLimit: `${PREFIX}cpu-limit`,
  memoryRequest: `${PREFIX}memory-request`,
  memoryLimit: `${PREFIX}memory-limit`,
  status: `${PREFIX}status`,
});

export const MODES = ['native', 'sidecar', 'init-only'] as const;
export type InjectionMode = (typeof MODES)[number];

export const DEFAULT_SECRETS_PATH = '/run/secrets-sidecar';
/** Where the ConfigMap is mounted in the sidecar, and the issuance cache. */
export const CONFIG_PATH = '/etc/secrets-sidecar';
export const CACHE_PATH = '/var/cache/secrets-sidecar';
/** Paths the secrets volume may not be mounted on, over or under. */
const RESERVED_PATHS = [CONFIG_PATH, CACHE_PATH, '/var/run/secrets', '/run/secrets/kubernetes.io', '/proc', '/sys', '/dev', '/etc', '/bin', '/usr', '/lib'];

export interface InjectionRequest {
  readonly mode: InjectionMode;
  readonly configMap: string;
  readonly secretsPath: string;
  /** Containers that get the secrets volume: app containers, and init containers when named. */
  readonly containers: readonly string[];
  readonly requests: ResourceAmounts;
  readonly limits: ResourceAmounts;
}

/** A pod refused: the message goes back to whoever created it, and names the annotation at fault. */
export class AdmissionRefusal extends Error {
  override readonly name = 'AdmissionRefusal';
}

/** A value as a message may show it: printable ASCII, at most 64 characters, else escaped. */
export function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const cut = text.length > 64 ? `${text.slice(0, 64)}…` : text;
  return JSON.stringify(cut).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const refuse = (annotation: string, message: string) => new AdmissionRefusal(`${annotation}: ${message}`);

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const KNOWN = new Set<string>(Object.values(ANNOTATION));

/** Whether the pod asks for injection; a value other than "true" or "false" is refused. */
export function wantsInjection(annotations: Readonly<Record<string, unknown>>): boolean {
  const value = annotations[ANNOTATION.inject];
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw refuse(ANNOTATION.inject, `${quote(value)} is not "true" or "false"`);
}

/**
 * Reads the annotations of a pod that asks for injection; `appContainers` are the names of its containers, and
 * `initContainers` of its own init containers, which get the secrets only when named (they run after the first
 * render in every mode).
 */
export function readInjectionRequest(
  annotations: Readonly<Record<string, unknown>>,
  appContainers: readonly string[],
  resources: WebhookResources,
  initContainers: readonly string[] = [],
): InjectionRequest {
  for (const key of Object.keys(annotations)) {
    if (key.startsWith(PREFIX) && !KNOWN.has(key))
      throw refuse(quote(key).slice(1, -1), `unknown annotation (known: ${[...KNOWN].map((k) => k.slice(PREFIX.length)).join(', ')})`);
  }
  const text = (name: string): string | undefined => {
    const value = annotations[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw refuse(name, `expected a string, not ${quote(value)}`);
    return value;
  };

  const configMap = text(ANNOTATION.config);
  if (configMap === undefined) throw refuse(ANNOTATION.config, 'required with inject: the name of a ConfigMap holding sidecar.hcl');
  if (configMap.length > 253 || !DNS_SUBDOMAIN.test(configMap)) throw refuse(ANNOTATION.config, `${quote(configMap)} is not a ConfigMap name`);

  const mode = text(ANNOTATION.mode) ?? 'native';
  if (!(MODES as readonly string[]).includes(mode)) throw refuse(ANNOTATION.mode, `${quote(mode)} is not one of ${MODES.join(', ')}`);

  const secretsPath = checkSecretsPath(text(ANNOTATION.secretsPath) ?? DEFAULT_SECRETS_PATH);

  const listed = text(ANNOTATION.containers);
  let containers = appContainers;
  if (listed !== undefined) {
    const names = listed.split(',').map((name) => name.trim());
    const known = [...appContainers, ...initContainers];
    const unknown = names.find((name) => !known.includes(name));
    if (names.length === 0 || unknown !== undefined)
      throw refuse(ANNOTATION.containers, `${quote(unknown ?? listed)} is not a container of this pod (containers: ${known.map((n) => quote(n)).join(', ')})`);
    containers = [...new Set(names)];
  }

  const amount = (name: string, kind: 'cpu' | 'memory', fallback: string | undefined): string | undefined => {
    const value = text(name);
    if (value === undefined) return fallback;
    const parsed = parseQuantity(value);
    if (parsed === undefined || parsed <= 0) throw refuse(name, `${quote(value)} is not a ${kind} quantity (such as ${kind === 'cpu' ? '"100m"' : '"64Mi"'})`);
    if (parsed > parseQuantity(resources.max[kind])!) throw refuse(name, `${value} is more than the webhook allows (${resources.max[kind]})`);
    return value;
  };
  const requests = {
    cpu: amount(ANNOTATION.cpuRequest, 'cpu', resources.requests.cpu),
    memory: amount(ANNOTATION.memoryRequest, 'memory', resources.requests.memory),
  };
  const limits = { cpu: amount(ANNOTATION.cpuLimit, 'cpu', resources.limits.cpu), memory: amount(ANNOTATION.memoryLimit, 'memory', resources.limits.memory) };
  for (const kind of ['cpu', 'memory'] as const) {
    const request = requests[kind];
    const limit = limits[kind];
    if (request !== undefined && limit !== undefined && parseQuantity(request)! > parseQuantity(limit)!) {
      const name =
        annotations[kind === 'cpu' ? ANNOTATION.cpuRequest : ANNOTATION.memoryRequest] !== undefined
          ? ANNOTATION[`${kind}Request`]
          : ANNOTATION[`${kind}Limit`];
      throw refuse(name, `the ${kind} request (${request}) is more than its limit (${limit})`);
    }
  }
  return Object.freeze({ mode: mode as InjectionMode, configMap, secretsPath, containers: Object.freeze([...containers]), requests, limits });
}

/** An absolute, normal path of plain characters, clear of the sidecar's other mounts and the system's directories. */
function checkSecretsPath(path: string): string {
  const name = ANNOTATION.secretsPath;
  if (path.length > 256 || !/^(\/[A-Za-z0-9._-]+)+$/.test(path))
    throw refuse(name, `${quote(path)} is not an absolute path of letters, digits, ".", "_" and "-" (no trailing "/")`);
  if (path.split('/').some((segment) => segment === '.' || segment === '..')) throw refuse(name, `${quote(path)} may not hold "." or ".." segments`);
  const clash = RESERVED_PATHS.find((reserved) => path === reserved || path.startsWith(`${reserved}/`) || reserved.startsWith(`${path}/`));
  if (clash !== undefined) throw refuse(name, `${quote(path)} overlaps ${clash}, which the sidecar or the system needs`);
  return path;
}
