import type { Writable } from 'node:stream';
import pMap from 'p-map';
import type { ResolvedConfig } from '../config/types.js';
import { formatDuration } from '../config/duration.js';
import { SidecarError } from '../errors.js';
import type { SecretBackend } from '../backends/types.js';
import type { Logger } from '../log/logger.js';
import { writeAtomically } from '../output/atomic-write.js';
import { setSafeTimeout, type SafeTimer } from '../timer.js';
import { Watcher } from '../watch/watcher.js';
import { allowedEnvironment } from './environment.js';
import { loadTemplates, type LoadedTemplate } from './load-templates.js';
import { closeBackends, openBackends } from './open-backends.js';
import { preflight, type Destination } from './preflight.js';
import { renderToCompletion } from './render-to-completion.js';

const WRITE_CONCURRENCY = 16;

export interface OnceOptions {
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly timeoutMs: number;
  /** The --timeout the user gave, for the message (timeoutMs is what is left of it). */
  readonly statedTimeoutMs?: number;
  /** Print each rendered template to `stdout` instead of writing it. */
  readonly dryRun: boolean;
  /** With dryRun: print real values instead of placeholders. */
  readonly showSecrets: boolean;
  readonly stdout: Writable;
}

/**
 * Renders every template completely, in memory, before writing any of them: a failure anywhere writes nothing
 * (a file already in place stays as it was).
 */
export async function runOnce(config: ResolvedConfig, options: OnceOptions): Promise<void> {
  const { logger } = options;
  let watcher: Watcher | undefined;
  let backends: Map<string, SecretBackend> | undefined;
  let timedOut = false;
  let timer: SafeTimer | undefined;
  // The timeout covers everything, template reads included: a read stuck on a hung mount cannot outlast it.
  const timeout = new Promise<never>((_, reject) => {
    timer = setSafeTimeout(() => {
      timedOut = true;
      reject(timeoutError(watcher, options.statedTimeoutMs ?? options.timeoutMs));
    }, options.timeoutMs);
  });
  const work = async () => {
    const templates = await loadTemplates(config);
    const destinations = options.dryRun ? undefined : await preflight(config.templates, logger, config.strict);
    if (timedOut) return;
    backends = await openBackends(config, logger, options.env, !options.dryRun);
    if (timedOut) return closeBackends(backends, logger);
    watcher = new Watcher({ backends, logger, retry: config.retry, live: false });
    await renderAndWrite(config, options, templates, watcher, destinations);
  };
  try {
    await Promise.race([work(), timeout]);
  } finally {
    timer?.clear();
    await watcher?.stop();
    if (backends) await closeBackends(backends, logger);
  }
}

async function renderAndWrite(
  config: ResolvedConfig,
  options: OnceOptions,
  templates: readonly LoadedTemplate[],
  watcher: Watcher,
  destinations: Map<number, Destination> | undefined,
): Promise<void> {
  const { logger } = options;
  const renderOptions = {
    mask: options.dryRun && !options.showSecrets,
    env: allowedEnvironment(options.env, config.envAllow, config.credentialEnv),
    envAllow: config.envAllow,
    envDeny: config.credentialEnv,
  };
  const texts = await Promise.all(templates.map((t) => renderToCompletion(t, watcher, { ...renderOptions, errorOnMissingKey: t.config.errorOnMissingKey })));
  if (options.dryRun) {
    if (options.showSecrets) logger.warn('printing secret values to stdout (--show-secrets)');
    for (const [i, t] of templates.entries()) {
      const bytes = texts[i] ?? Buffer.alloc(0);
      options.stdout.write(`==> ${t.config.destination} <==\n`);
      options.stdout.write(bytes);
      if (bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a) options.stdout.write('\n');
    }
    return;
  }
  // Each file is independent and atomic; writing them concurrently turns 200 sequential round trips to the
  // thread pool into a few batches.
  await pMap(
    templates.entries(),
    async ([i, template]) => {
      const owner = destinations?.get(template.config.index);
      const result = await writeAtomically({
        destination: template.config.destination,
        contents: texts[i] ?? Buffer.alloc(0),
        perms: template.config.perms,
        uid: owner?.uid,
        gid: owner?.gid,
        createDirs: template.config.createDestDirs,
        allowNonTmpfs: template.config.allowNonTmpfs,
        strict: config.strict,
      });
      logger.info({ template: template.config.name, destination: template.config.destination, outcome: result.outcome }, 'rendered');
    },
    { concurrency: WRITE_CONCURRENCY },
  );
}

/** Races `work` against the rest of a `once --timeout` (the config read happens before runOnce starts). */
export async function withinTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: SafeTimer | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setSafeTimeout(() => reject(timeoutError(undefined, timeoutMs)), timeoutMs);
      }),
    ]);
  } finally {
    timer?.clear();
  }
}

function timeoutError(watcher: Watcher | undefined, timeoutMs: number): SidecarError {
  const waiting: string[] = [];
  for (const key of watcher?.keys().filter((k) => !watcher.view(k)?.current) ?? []) {
    const view = watcher?.view(key);
    const error = view?.lastError;
    waiting.push(error ? `${view?.label ?? ''} (last error: ${error.message})` : (view?.label ?? ''));
  }
  return new SidecarError(
    'SIDECAR_ERR_TIMEOUT',
    `once did not finish within ${formatDuration(timeoutMs)}${waiting.length ? `; still waiting for ${waiting.join(', ')}` : ''}`,
    {
      hint: 'raise --timeout, or check that the backend is reachable',
    },
  );
}
