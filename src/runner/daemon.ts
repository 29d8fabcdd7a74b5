import type { ResolvedConfig } from '../config/types.js';
import { toSidecarError, type SidecarError } from '../errors.js';
import { errorFields } from '../log/error-fields.js';
import type { Logger } from '../log/logger.js';
import { childEnvironment } from '../reload/child-env.js';
import { ChildSupervisor, type ChildExit } from '../reload/child-supervisor.js';
import { loadEnvTemplates, loadTemplates } from './load-templates.js';
import { createBackend } from '../backends/create-backend.js';
import type { SecretBackend } from '../backends/types.js';
import { Watcher } from '../watch/watcher.js';
import { backendDependencies, closeBackends } from './open-backends.js';
import { removePidFile, writePidFile } from './pid-file.js';
import { preflight } from './preflight.js';
import { compactHeapSoon } from './compact-heap.js';
import { Session, type SessionChild } from './session.js';
import type { Observability } from '../observe/observability.js';
import type { VersionMap } from '../reload/rollout-annotation.js';
import { openObservability } from '../observe/open-observability.js';

interface Built {
  readonly pool: Map<string, { config: string; backend: SecretBackend }>;
  readonly backends: ReadonlyMap<string, SecretBackend>;
  /** Backends made for this config (closed if it is not swapped in). */
  readonly created: ReadonlyMap<string, SecretBackend>;
  /** Backends of the running config that this one no longer uses. */
  readonly retired: ReadonlyMap<string, SecretBackend>;
  readonly session: (watcher: Watcher) => Session;
}

export interface DaemonOptions {
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Re-reads the config file (for SIGHUP). */
  readonly reloadConfig: () => Promise<ResolvedConfig>;
  readonly random?: () => number;
  /** How a backend is built from its config; the registry's factory unless a test scripts its own. */
  readonly openBackend?: typeof createBackend;
}

/**
 * `run`: renders every template, then keeps each in step with its secrets until stopped. A reload builds a
 * complete new session first and swaps it in only if that worked; the files on disk are never removed, and the
 * supervised child, which outlives sessions, keeps running.
 */
export class Daemon {
  #session: Session | undefined;
  #stopping = false;
  #reloading: Promise<boolean> | undefined;
  /** A reload past reading its files, swapping sessions: stop waits for it; one still reading is left behind. */
  #swapping = false;
  #pidFile: string | undefined;
  #supervisor: ChildSupervisor | undefined;
  #child: SessionChild | undefined;
  #watcher: Watcher | undefined;
  /** The backends in use, with the config each was built from: a reload keeps those whose config is the same. */
  #backends = new Map<string, { config: string; backend: SecretBackend }>();
  #execSettings: string | undefined;
  #observability: Observability | undefined;
  readonly #rolloutMemory = new Map<string, VersionMap>();
  readonly #fatal: Promise<SidecarError>;
  #reportFatal!: (error: SidecarError) => void;
  readonly #shutdownRequested: Promise<void>;
  #requestShutdown!: () => void;

  constructor(private readonly options: DaemonOptions) {
    this.#fatal = new Promise((resolve) => {
      this.#reportFatal = resolve;
    });
    this.#shutdownRequested = new Promise((resolve) => {
      this.#requestShutdown = resolve;
    });
  }

  /** Resolves when POST /v1/shutdown asks the sidecar to stop (the CLI then stops it as on SIGTERM). */
  get shutdownRequested(): Promise<void> {
    return this.#shutdownRequested;
  }

  /** Resolves with an error the daemon cannot recover from; the CLI exits with its code. */
  get fatal(): Promise<SidecarError> {
    return this.#fatal;
  }

  /** Resolves when the supervised child exits on its own for good; never without an exec block. */
  get childFinished(): Promise<ChildExit> {
    return this.#supervisor?.finished ?? new Promise(() => undefined);
  }

  async start(config: ResolvedConfig): Promise<void> {
    const { logger } = this.options;
    if (process.pid === 1) {
      logger.warn('running as PID 1: orphaned grandchildren will not be reaped; run under an init (the image uses tini; docker run --init)');
    }
    if (config.exec) this.#setUpChild(config);
    // Listener and audit settings apply from the start; a SIGHUP reload keeps them as they were.
    this.#observability = await openObservability(config, logger, true);
    await this.#observability?.start(
      this.options.env,
      (ref) => this.refresh(ref),
      () => this.#watcher?.labels() ?? new Set<string>(),
      () => this.#requestShutdown(),
    );
    const built = await this.#build(config, true);
    if (this.#stopping) {
      // SIGTERM came while templates were still being read: leave without starting anything.
      await closeBackends(built.created, logger);
      return;
    }
    this.#backends = built.pool;
    this.#watcher = new Watcher({ backends: built.backends, logger, retry: config.retry, live: true });
    this.#watcher.onUpdate = (key) => this.#session?.onUpdate(key);
    this.#session = built.session(this.#watcher);
    this.#pidFile = config.pidFile;
    if (this.#pidFile) await writePidFile(this.#pidFile);
    logger.info({ templates: config.templates.length, backends: config.backends.length }, 'started');
    this.#session.start();
  }

  /** A forced refresh (SIGUSR1, POST /v1/refresh): fetches one reference, or all, again now. */
  refresh(ref?: string): string[] {
    return this.#watcher?.refresh(ref) ?? [];
  }

  /** Passes a signal on to the supervised child. */
  forward(signal: NodeJS.Signals): void {
    this.#supervisor?.forward(signal);
  }

  /** SIGHUP: re-read config and templates. A broken new config is logged and the running one kept. */
  reload(): Promise<boolean> {
    this.#reloading ??= this.#reload().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    // A reload still reading (a template on a hung mount) finds #stopping set and closes what it made.
    if (this.#swapping) await this.#reloading?.catch(() => undefined);
    const session = this.#session;
    this.#session = undefined;
    await session?.stop();
    await this.#watcher?.stop();
    // The child stops (and drains) while its credentials still work; leases are given back after.
    await this.#supervisor?.stop();
    await closeBackends(new Map([...this.#backends].map(([name, b]) => [name, b.backend])), this.options.logger, { final: true });
    this.#backends.clear();
    // Last: revocations above are audited too.
    await this.#observability?.stop();
    if (this.#pidFile) await removePidFile(this.#pidFile);
  }

  #setUpChild(config: ResolvedConfig): void {
    const exec = config.exec;
    if (!exec) return;
    const envValues = new Map<string, string>();
    let envChanged = false;
    const supervisor = new ChildSupervisor({
      exec,
      environment: () => childEnvironment(this.options.env, exec.env, envValues),
      logger: this.options.logger.child({ component: 'exec' }),
      random: this.options.random ?? Math.random,
    });
    this.#supervisor = supervisor;
    this.#execSettings = JSON.stringify(exec);
    this.#child = {
      envValues,
      markEnvChanged: () => {
        // Before the first start the child simply starts with the value.
        if (supervisor.running) envChanged = true;
      },
      isRunning: () => supervisor.running,
      target: {
        name: 'exec',
        fire: async () => {
          if (!supervisor.running) return 'child not started yet';
          if (envChanged) {
            envChanged = false;
            return supervisor.restart();
          }
          return supervisor.reload();
        },
      },
    };
  }

  async #reload(): Promise<boolean> {
    const { logger } = this.options;
    let built: Built;
    try {
      const config = await this.options.reloadConfig();
      if (JSON.stringify(config.exec) !== this.#execSettings) {
        logger.warn('the exec block changed; the running child keeps its settings until the sidecar restarts');
      }
      // A reload takes over nothing an earlier run left, and issues nothing for a backend it keeps.
      built = await this.#build(config, false);
      logger.level = config.logLevel;
    } catch (error) {
      logger.error({ error: errorFields(toSidecarError(error)) }, 'reload failed; keeping the running configuration');
      return false;
    }
    if (this.#stopping || !this.#watcher) {
      await closeBackends(built.created, logger);
      return false;
    }
    this.#swapping = true;
    try {
      await this.#swap(built);
    } finally {
      this.#swapping = false;
    }
    return true;
  }

  async #swap(built: Built): Promise<void> {
    const { logger } = this.options;
    if (!this.#watcher) return;
    await this.#session?.stop();
    // Views of unchanged backends live on: no new lease, no new certificate, for a reload.
    await this.#watcher.replaceBackends(built.backends);
    // A kept backend forgets what it cached of the servers' layout (a secret store's mounts), as a restart would.
    for (const [name, backend] of built.backends) if (!built.created.has(name)) backend.invalidate?.();
    await closeBackends(built.retired, logger);
    this.#backends = built.pool;
    this.#session = built.session(this.#watcher);
    logger.info({ reusedBackends: built.backends.size - built.created.size }, 'configuration reloaded');
    this.#session.start();
  }

  /** Everything a session needs except the watcher; nothing is swapped in until it all succeeded. */
  async #build(config: ResolvedConfig, adopt: boolean): Promise<Built> {
    const { logger } = this.options;
    const [templates, envTemplates] = await Promise.all([loadTemplates(config), loadEnvTemplates(config)]);
    const destinations = await preflight(config.templates, logger, config.strict);
    const pool = new Map<string, { config: string; backend: SecretBackend }>();
    const created = new Map<string, SecretBackend>();
    try {
      for (const backendConfig of config.backends) {
        const key = JSON.stringify(backendConfig);
        const existing = this.#backends.get(backendConfig.name);
        if (existing?.config === key) {
          pool.set(backendConfig.name, existing);
          continue;
        }
        const backend = await (this.options.openBackend ?? createBackend)(backendConfig, backendDependencies(config, logger, this.options.env, true, adopt));
        created.set(backendConfig.name, backend);
        pool.set(backendConfig.name, { config: key, backend });
      }
    } catch (error) {
      await closeBackends(created, logger);
      throw error;
    }
    const backends = new Map([...pool].map(([name, b]) => [name, b.backend]));
    const retired = new Map([...this.#backends].filter(([name, b]) => pool.get(name) !== b).map(([name, b]) => [name, b.backend]));
    return { pool, backends, created, retired, session: (watcher) => this.#newSession(config, { config, templates, envTemplates, destinations, watcher }) };
  }

  #newSession(config: ResolvedConfig, parts: ConstructorParameters<typeof Session>[0]): Session {
    const { logger } = this.options;
    return new Session(parts, {
      logger,
      env: this.options.env,
      child: this.#child,
      onFatal: (error) => this.#reportFatal(error),
      afterReload: this.#session !== undefined,
      rolloutMemory: this.#rolloutMemory,
      onFirstRender: () => {
        logger.info({ templates: config.templates.length }, 'all templates rendered');
        this.#observability?.markRendered();
        // The child starts only once every file and variable it needs is in place.
        this.#supervisor?.start();
        compactHeapSoon();
      },
    });
  }
}
