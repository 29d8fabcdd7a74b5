import type { SecretBackend } from '../backends/types.js';
import type { ResolvedConfig } from '../config/types.js';
import type { SidecarError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { Watcher } from '../watch/watcher.js';
import { allowedEnvironment } from './environment.js';
import type { LoadedTemplate } from './load-templates.js';
import { closeBackends } from './open-backends.js';
import type { Destination } from './preflight.js';
import { createReloadTarget } from '../reload/reload-target.js';
import { ReloadDispatcher } from '../reload/reload-dispatcher.js';
import { TemplateRunner, type RenderOutcome } from './template-runner.js';
import { storeOf } from './watcher-store.js';

export interface SessionParts {
  readonly config: ResolvedConfig;
  readonly templates: readonly LoadedTemplate[];
  readonly destinations: ReadonlyMap<number, Destination>;
  readonly backends: ReadonlyMap<string, SecretBackend>;
}

export interface SessionOptions {
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly onFatal: (error: SidecarError) => void;
  /** Once every template has rendered completely for the first time. */
  readonly onFirstRender: () => void;
}

/** Tries per notify firing before it is logged as failed (the next burst fires it again). */
const NOTIFY_ATTEMPTS = 5;
/** With no `wait`, how long a burst of template writes is collected at most while templates stay busy. */
const DEFAULT_MAX_COLLECT_MS = 10_000;

/** One generation of `run`: the backends, views and template runners built from one config. SIGHUP swaps it. */
export class Session {
  readonly #watcher: Watcher;
  readonly #runners: TemplateRunner[];
  readonly #dispatcher: ReloadDispatcher;
  #firstRenderDone = false;

  constructor(
    private readonly parts: SessionParts,
    private readonly options: SessionOptions,
  ) {
    const { config } = parts;
    const { logger } = options;
    this.#watcher = new Watcher({ backends: parts.backends, logger, retry: config.retry, live: true, onUpdate: (key) => this.#onUpdate(key) });
    this.#dispatcher = new ReloadDispatcher({
      targets: new Map(config.notify.map((n) => [n.name, createReloadTarget(n, { env: options.env })])),
      logger,
      retry: config.retry,
      attempts: NOTIFY_ATTEMPTS,
      maxCollectMs: config.wait.maxMs > 0 ? config.wait.maxMs : DEFAULT_MAX_COLLECT_MS,
    });
    const renderOptions = { store: storeOf(this.#watcher), mask: false, env: allowedEnvironment(options.env, config.envAllow), envAllow: config.envAllow };
    this.#runners = parts.templates.map(
      (template) =>
        new TemplateRunner({
          template,
          destination: parts.destinations.get(template.config.index) ?? { uid: undefined, gid: undefined },
          watcher: this.#watcher,
          logger,
          renderOptions,
          retryBackoffMs: config.retry.backoffMs,
          maxBackoffMs: config.retry.maxBackoffMs,
          onRendered: (runner, outcome) => this.#afterRender(runner, outcome),
          onFatal: options.onFatal,
        }),
    );
  }

  start(): void {
    for (const runner of this.#runners) runner.schedule();
    if (this.#runners.length === 0) this.#checkFirstRender();
  }

  async stop(): Promise<void> {
    await this.#dispatcher.stop();
    await Promise.all(this.#runners.map((runner) => runner.stop()));
    await this.#watcher.stop();
    await closeBackends(this.parts.backends, this.options.logger);
  }

  #onUpdate(key: string): void {
    for (const runner of this.#runners) if (runner.deps.has(key)) runner.schedule();
  }

  #afterRender(runner: TemplateRunner, outcome: RenderOutcome): void {
    // Views no template reads any more (a reference computed from a secret that changed) are stopped.
    const inUse = new Set<string>();
    for (const r of this.#runners) for (const key of r.deps) inUse.add(key);
    void this.#watcher.retain(inUse);
    // Only new bytes reload anything; the targets fire once every template of the burst is written.
    if (outcome === 'written') this.#dispatcher.request(runner.config.notify);
    if (this.#runners.every((r) => !r.busy)) this.#dispatcher.flush();
    this.#checkFirstRender();
  }

  #checkFirstRender(): void {
    if (!this.#firstRenderDone && this.#runners.every((runner) => runner.rendered)) {
      this.#firstRenderDone = true;
      this.options.onFirstRender();
    }
  }
}
