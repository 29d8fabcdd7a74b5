import { SidecarError, toSidecarError } from '../errors.js';
import { ANNOTATION, AdmissionRefusal, quote, readInjectionRequest, wantsInjection } from './annotations.js';
import type { KubeClient } from './kube-client.js';
import { appContainerNames, initContainerNames, injectionWarnings, isInjected, mutatePod } from './pod-mutation.js';
import { readSidecarFacts, type SidecarFacts } from './sidecar-facts.js';
import type { WebhookConfig } from './webhook-config.js';

/*
 * One AdmissionReview in, one answer out. A refusal is an answer (allowed: false, the message naming the
 * annotation); a failure of the webhook's own (the API server unreachable) is an HTTP 500, so that the
 * webhook configuration's failurePolicy decides, as it does when the webhook is down.
 */

export type AdmissionOutcome = 'injected' | 'skipped' | 'refused' | 'error';

export interface AdmissionAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly outcome: AdmissionOutcome;
  /** For the log: why it was skipped, refused or failed (never a value from the pod's spec beyond names). */
  readonly reason: string;
  readonly pod?: string | undefined;
}

export interface AdmissionDeps {
  readonly config: WebhookConfig;
  readonly ownNamespace: string;
  readonly kube: KubeClient;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value);

const CONFIG_KEY = 'sidecar.hcl';
const MAX_MESSAGE = 1024;

/** Answers one AdmissionReview body (already size-capped by the server). */
export async function answerReview(text: string, deps: AdmissionDeps, facts: FactsCache): Promise<AdmissionAnswer> {
  let review: unknown;
  try {
    review = JSON.parse(text);
  } catch {
    return badRequest('the body is not JSON');
  }
  if (!isObject(review) || review['apiVersion'] !== 'admission.k8s.io/v1' || review['kind'] !== 'AdmissionReview')
    return badRequest('expected an AdmissionReview of admission.k8s.io/v1');
  const request = review['request'];
  if (!isObject(request) || typeof request['uid'] !== 'string' || request['uid'].length === 0 || request['uid'].length > 128)
    return badRequest('the AdmissionReview has no request.uid');
  const uid = request['uid'];
  const allow = (reason: string, pod?: string): AdmissionAnswer => ({
    status: 200,
    body: reviewAnswer(uid, { allowed: true }),
    outcome: 'skipped',
    reason,
    pod,
  });

  const kind = request['kind'];
  if (!isObject(kind) || kind['kind'] !== 'Pod' || kind['group'] !== '' || request['subResource'] !== undefined) return allow('not a pod');
  if (request['operation'] !== 'CREATE') return allow('not a creation');
  const pod = request['object'];
  if (!isObject(pod)) return allow('no object');
  const metadata = isObject(pod['metadata']) ? pod['metadata'] : {};
  const namespace = typeof request['namespace'] === 'string' ? request['namespace'] : typeof metadata['namespace'] === 'string' ? metadata['namespace'] : '';
  const name =
    typeof metadata['name'] === 'string' && metadata['name']
      ? metadata['name']
      : typeof metadata['generateName'] === 'string'
        ? `${metadata['generateName']}*`
        : '?';
  const label = `${namespace}/${name}`.slice(0, 300);

  const { config } = deps;
  if (namespace === deps.ownNamespace) return allow("the webhook's own namespace", label);
  if (config.excludeNamespaces.includes(namespace) || (config.namespaces.length > 0 && !config.namespaces.includes(namespace)))
    return allow('namespace not served', label);

  const refuse = (message: string): AdmissionAnswer => ({
    status: 200,
    body: reviewAnswer(uid, { allowed: false, status: { code: 400, reason: 'BadRequest', message: message.slice(0, MAX_MESSAGE) } }),
    outcome: 'refused',
    reason: message.slice(0, MAX_MESSAGE),
    pod: label,
  });
  try {
    const annotations = isObject(metadata['annotations']) ? metadata['annotations'] : {};
    if (!wantsInjection(annotations)) return allow('not annotated', label);
    if (isInjected(pod)) return allow('already injected', label);
    const injection = readInjectionRequest(annotations, appContainerNames(pod), config.resources, initContainerNames(pod));
    const sidecar = await facts.get(deps.kube, namespace, injection.configMap);
    const patch = mutatePod(pod, injection, sidecar, config);
    const warnings = injectionWarnings(sidecar);
    return {
      status: 200,
      body: reviewAnswer(uid, {
        allowed: true,
        patchType: 'JSONPatch',
        patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
        ...(warnings.length > 0 ? { warnings } : {}),
      }),
      outcome: 'injected',
      reason: injection.mode,
      pod: label,
    };
  } catch (error) {
    if (error instanceof AdmissionRefusal) return refuse(error.message);
    const coded = toSidecarError(error);
    return { status: 500, body: { error: coded.code }, outcome: 'error', reason: coded.message, pod: label };
  }
}

function reviewAnswer(uid: string, response: Json): Json {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, ...response } };
}

function badRequest(message: string): AdmissionAnswer {
  return { status: 400, body: { error: message }, outcome: 'error', reason: message };
}

/**
 * sidecar.hcl's facts per ConfigMap version: admissions of a Deployment's pods read one ConfigMap, and parsing
 * it once per resourceVersion keeps an admission to one GET. A parse error is kept too (the same text fails the
 * same way). Bounded: the oldest entry goes first.
 */
export class FactsCache {
  readonly #entries = new Map<string, { facts: SidecarFacts } | { refusal: string }>();

  constructor(private readonly limit = 256) {}

  async get(kube: KubeClient, namespace: string, name: string): Promise<SidecarFacts> {
    const what = `ConfigMap ${quote(name)}`;
    const answer = await kube.get(`/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(name)}`);
    if (answer.status === 404) throw new AdmissionRefusal(`${ANNOTATION.config}: ${what} does not exist in namespace ${quote(namespace)}`);
    if (answer.status !== 200 || !answer.body)
      throw new SidecarError(
        'SIDECAR_ERR_WEBHOOK_KUBE',
        `GET ${what} in ${quote(namespace)}: HTTP ${answer.status}`,
        answer.status === 403 ? { hint: 'the webhook needs RBAC to get ConfigMaps in the namespaces it serves' } : {},
      );
    const metadata = isObject(answer.body['metadata']) ? answer.body['metadata'] : {};
    const key = `${namespace}/${name}@${String(metadata['uid'])}/${String(metadata['resourceVersion'])}`;
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = await this.#read(answer.body, what);
      if (this.#entries.size >= this.limit) this.#entries.delete(this.#entries.keys().next().value!);
      this.#entries.set(key, entry);
    }
    if ('refusal' in entry) throw new AdmissionRefusal(entry.refusal);
    return entry.facts;
  }

  async #read(configMap: Json, what: string): Promise<{ facts: SidecarFacts } | { refusal: string }> {
    const data = isObject(configMap['data']) ? configMap['data'] : {};
    const source = data[CONFIG_KEY];
    if (typeof source !== 'string') return { refusal: `${ANNOTATION.config}: ${what} has no key "${CONFIG_KEY}"` };
    try {
      return { facts: await readSidecarFacts(source) };
    } catch (error) {
      const coded = toSidecarError(error);
      const lines = coded.message.split('\n').slice(0, 3).join('; ');
      return { refusal: `${ANNOTATION.config}: ${what} key ${CONFIG_KEY} is not a valid config (${coded.code}): ${lines}` };
    }
  }
}
