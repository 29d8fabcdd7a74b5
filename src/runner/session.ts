import { EXEC_TARGET, type ResolvedConfig } from '../config/types.js';
import { toSidecarError, type SidecarError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { errorFields } from '../log/error-fields.js';
import { createReloadTarget, type ReloadTarget } from '../reload/reload-target.js';
import { ReloadDispatcher } from '../reload/reload-dispatcher.js';
import type { VersionMap } from '../reload/rollout-annotation.js';
import type { RolloutRef } from '../reload/rollout-target.js';
import type { Watcher } from '../watch/watcher.js';
import { allowedEnvironment, withoutCredentials } from './environment.js';
import type { LoadedEnvTemplate, LoadedTemplate } from './load-templates.js';
import type { Destination } from './preflight.js';
import { envOutput, fileOutput } from './template-output.js';
import { TemplateRunner, type RenderOutcome } from './template-runner.js';
import { storeOf } from './watcher-store.js';

/** Tries per notify firing before it is logged as failed (the next burst fires it again). */
const NOTIFY_ATTEMPTS = 5;
/** With no `wait`, how long a burst of template writes is collected at most while templates stay busy. */
const DEFAULT_MAX_COLLECT_MS = 10_000;

export interface SessionParts {
  readonly config: ResolvedConfig;
  readonly templates: readonly LoadedTemplate[];
  readonly envTemplates: readonly LoadedEnvTemplate[];
  readonly destinations: ReadonlyMap<number, Destination>;
  /** The daemon's: views (and the leases behind them) outlive a reload when their backend is unchanged. */
  readonly watcher: Watcher;
}

/** What the daemon lends a session of the supervised child, which outlives sessions. */
export interface SessionChild {
  /** Rendered env_template values; the session updates them, the supervisor reads them at each start. */
  readonly envValues: Map<string, string>;
  /** Reloads the child, restarting it when an env_template value changed since it started. */
  readonly target: ReloadTarget;
  /** An env_template value changed: the next firing of the target must restart, not signal. */
  readonly markEnvChanged: () => void;
  /** A child not running yet will start with the files as they are: it needs no reload for them. */
  readonly isRunning: () => boolean;
}

export interface SessionOptions {
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly child: SessionChild | undefined;
  readonly onFatal: (error: SidecarError) => void;
  /**
   * A session built by a SIGHUP reload: what its rollout targets refuse at first render (an unversioned secret,
   * unreadable connection settings) is logged, and the sidecar keeps running, writing files, as for any broken
   * reload; only at start is it a config error that stops it.
   */
  readonly afterReload: boolean;
  /** Once every template (and env_template) has rendered completely for the first time. */
  readonly onFirstRender: () => void;
  /** The versions each rollout target last acted on; the daemon's, so that a SIGHUP reload does not forget them. */
  readonly rolloutMemory: Map<string, VersionMap>;
}

/** One generation of `run`: the template runners and notify targets built from one config. SIGHUP swaps it. */
export class Session {
  readonly #watcher: Watcher;
  readonly #runners: TemplateRunner[];
  readonly #dispatcher: ReloadDispatcher;
  readonly #targets: ReadonlyMap<string, ReloadTarget>;
  #firstRenderDone = false;
  #targetsStarted = false;
  /** Every runner has rendered at least once (complete or not): the secrets in use are known from then on. */
  #allPassed = false;

  constructor(
    private readonly parts: SessionParts,
    private readonly options: SessionOptions,
  ) {
    const { config } = parts;
    const { logger, child } = options;
    this.#watcher = parts.watcher;
    const rollout = { env: options.env, memory: options.rolloutMemory, logger, refs: (target: string) => this.#rolloutRefs(target) };
    const targets = new Map(config.notify.map((n) => [n.name, createReloadTarget(n, { env: withoutCredentials(options.env, config.credentialEnv), rollout })]));
    if (child) targets.set(EXEC_TARGET, child.target);
    this.#targets = targets;
    this.#dispatcher = new ReloadDispatcher({
      targets,
      logger,
      retry: config.retry,
      attempts: NOTIFY_ATTEMPTS,
      maxCollectMs: config.wait.maxMs > 0 ? config.wait.maxMs : DEFAULT_MAX_COLLECT_MS,
    });
    const common = {
      watcher: this.#watcher,
      logger,
      renderOptions: {
        store: storeOf(this.#watcher),
        mask: false,
        env: allowedEnvironment(options.env, config.envAllow, config.credentialEnv),
        envAllow: config.envAllow,
        envDeny: config.credentialEnv,
      },
      retryBackoffMs: config.retry.backoffMs,
      maxBackoffMs: config.retry.maxBackoffMs,
      onRendered: (runner: TemplateRunner, outcome: RenderOutcome) => this.#afterRender(runner, outcome),
      onFatal: options.onFatal,
    };
    const files = parts.templates.map(
      (t) =>
        new TemplateRunner({
          ...common,
          job: { name: t.config.name, compiled: t.compiled, errorOnMissingKey: t.config.errorOnMissingKey, wait: t.config.wait, notify: t.config.notify },
          output: fileOutput(t.config, parts.destinations.get(t.config.index) ?? { uid: undefined, gid: undefined }),
        }),
    );
    const envs = child
      ? parts.envTemplates.map(
          (t) =>
            new TemplateRunner({
              ...common,
              job: {
                name: `env_template "${t.config.name}"`,
                compiled: t.compiled,
                errorOnMissingKey: t.config.errorOnMissingKey,
                wait: config.wait,
                notify: [EXEC_TARGET],
              },
              output: envOutput(t.config.name, child.envValues, child.markEnvChanged),
            }),
        )
      : [];
    this.#runners = [...files, ...envs];
  }

  start(): void {
    for (const runner of this.#runners) runner.schedule();
    if (this.#runners.length === 0) this.#checkFirstRender();
  }

  /** Stops rendering and notifying; the watcher and backends belong to the daemon. */
  async stop(): Promise<void> {
    await this.#dispatcher.stop();
    await Promise.all(this.#runners.map((runner) => runner.stop()));
  }

  /** A secret got a new value: re-render the templates that use it. */
  onUpdate(key: string): void {
    for (const runner of this.#runners) if (runner.deps.has(key)) runner.changed(key);
  }

  #afterRender(runner: TemplateRunner, outcome: RenderOutcome): void {
    // Views no template reads any more (a reference computed from a secret that changed, a template removed by a
    // reload) are stopped; only once every runner has rendered, so a view another runner is about to read stays.
    // From then on only a render that stopped reading a secret can leave a view unread: collecting the secrets
    // of every runner after each render would be 200 × 1,000 steps for the first render of 200 templates.
    const firstTime = !this.#allPassed && this.#runners.every((r) => r.passes > 0);
    if (firstTime) this.#allPassed = true;
    if (firstTime || (this.#allPassed && runner.depsDropped)) {
      const inUse = new Set<string>();
      for (const r of this.#runners) for (const key of r.deps) inUse.add(key);
      void this.#watcher.retain(inUse);
    }
    // Before the first burst fires: a rollout target takes the versions of the first render as its starting point.
    if (!this.#targetsStarted && this.#runners.every((r) => r.rendered)) {
      this.#targetsStarted = true;
      for (const target of this.#targets.values())
        target.onFirstRender?.().catch((error: unknown) => {
          const coded = toSidecarError(error);
          if (!this.options.afterReload) return this.options.onFatal(coded);
          this.options.logger.error({ notify: target.name, error: errorFields(coded) }, 'notify target refused after the reload; files are still written');
        });
    }
    // Only new bytes reload anything; the targets fire once every template of the burst is written.
    if (outcome === 'written') {
      const childWaiting = this.options.child !== undefined && !this.options.child.isRunning();
      this.#dispatcher.request(childWaiting ? runner.job.notify.filter((n) => n !== EXEC_TARGET) : runner.job.notify);
    }
    if (this.#runners.every((r) => !r.busy)) this.#dispatcher.flush();
    this.#checkFirstRender();
  }

  /** What the templates that notify `target` read in their last render, with the versions the sources gave. */
  #rolloutRefs(target: string): RolloutRef[] {
    const refs: RolloutRef[] = [];
    for (const runner of this.#runners) {
      if (!runner.job.notify.includes(target)) continue;
      for (const key of runner.deps) {
        const view = this.#watcher.view(key);
        const current = view?.current;
        if (!view || !current) continue;
        const dynamic = current.source === undefined && (current.lifetime.kind === 'lease' || current.lifetime.kind === 'expiry');
        refs.push({ label: view.label, template: runner.job.name, source: current.source, dynamic });
      }
    }
    return refs;
  }

  #checkFirstRender(): void {
    if (!this.#firstRenderDone && this.#runners.every((runner) => runner.rendered)) {
      this.#firstRenderDone = true;
      this.options.onFirstRender();
    }
  }
}
