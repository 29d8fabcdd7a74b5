import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './dirs.js';
import { HELM } from './kube-control-plane.js';

export const CHART = join(REPO_ROOT, 'charts', 'secrets-sidecar');
const HELM_TIMEOUT_MS = 60_000;

export interface HelmResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A rendered object: what every manifest has, the rest left loose for the test to narrow. */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  readonly [field: string]: unknown;
}

/**
 * Runs helm with its cache, config and data in a private directory (nothing read from or written to $HOME);
 * bounded by a timeout; never throws on a non-zero exit.
 */
export async function helm(args: readonly string[], options: { kubeconfig?: string } = {}): Promise<HelmResult> {
  if (!existsSync(HELM)) throw new Error(`${HELM} is missing: run test/infra/install-test-tools.sh (npm test does)`);
  const home = await mkdtemp(join(tmpdir(), 'helm-'));
  try {
    const env = {
      ...process.env,
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_DATA_HOME: join(home, 'data'),
      KUBECONFIG: options.kubeconfig ?? join(home, 'no-kubeconfig'),
    };
    return await new Promise((resolve, reject) => {
      execFile(HELM, [...args], { env, timeout: HELM_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        // A number is helm's exit status; anything else (killed at the timeout, not spawned) is a failure to run it.
        if (error && typeof error.code !== 'number') reject(new Error(`helm ${args[0] ?? ''} did not finish: ${error.message}`, { cause: error }));
        else resolve({ status: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      });
    });
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

export interface RenderOptions {
  readonly release?: string;
  readonly namespace?: string;
  /** Extra helm arguments, e.g. ['--dry-run=server'] to let `lookup` see a cluster. */
  readonly args?: readonly string[];
  readonly kubeconfig?: string;
}

/** `helm template` with `values` (as a values file); the raw result, for tests of refusals. */
export async function helmTemplate(values: unknown = {}, options: RenderOptions = {}): Promise<HelmResult> {
  const dir = await mkdtemp(join(tmpdir(), 'helm-values-'));
  try {
    const file = join(dir, 'values.json');
    await writeFile(file, JSON.stringify(values));
    const { release = 'secrets-sidecar', namespace = 'secrets-sidecar-system', args = [] } = options;
    return await helm(
      ['template', release, CHART, '--namespace', namespace, '--values', file, ...args],
      options.kubeconfig ? { kubeconfig: options.kubeconfig } : {},
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `helm template`, which must succeed; the parsed objects in order. */
export async function renderChart(values: unknown = {}, options: RenderOptions = {}): Promise<Manifest[]> {
  const result = await helmTemplate(values, options);
  if (result.status !== 0) throw new Error(`helm template failed (${result.status}): ${result.stderr}`);
  return parseManifests(result.stdout);
}

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((document) => {
      if (document.errors.length > 0) throw new Error(`unparsable manifest: ${document.errors[0]?.message}`);
      return document.toJS() as Manifest | null;
    })
    .filter((manifest): manifest is Manifest => manifest !== null);
}

/** The one object of `kind` (and `name`, when several); throws when there is not exactly one. */
export function findManifest<T = Manifest>(manifests: readonly Manifest[], kind: string, name?: string): T {
  const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0] as T;
}
