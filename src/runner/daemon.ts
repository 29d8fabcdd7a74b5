import type { ResolvedConfig } from '../config/types.js';
import { toSidecarError, type SidecarError } from '../errors.js';
import { errorFields } from '../log/error-fields.js';
import type { Logger } from '../log/logger.js';
import { childEnvironment } from '../reload/child-env.js';
import { ChildSupervisor, type ChildExit } from '../reload/child-supervisor.js';
import { loadEnvTemplates, loadTemplates } from './load-templates.js';
import { openBackends } from './open-backends.js';
import { removePidFile, writePidFile } from './pid-file.js';
import { preflight } from './preflight.js';
import { Session, type SessionChild } from './session.js';

export interface DaemonOptions {
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Re-reads the config file (for SIGHUP). */
  readonly reloadConfig: () => Promise<ResolvedConfig>;
  readonly random?: () => number;
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
  #pidFile: string | undefined;
  #supervisor: ChildSupervisor | undefined;
  #child: SessionChild | undefined;
  #execSettings: string | undefined;
  readonly #fatal: Promise<SidecarError>;
  #reportFatal!: (error: SidecarError) => void;

  constructor(private readonly options: DaemonOptions) {
    this.#fatal = new Promise((resolve) => {
      this.#reportFatal = resolve;
    });
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
    this.#session = await this.#build(config);
    this.#pidFile = config.pidFile;
    if (this.#pidFile) await writePidFile(this.#pidFile);
    logger.info({ templates: config.templates.length, backends: config.backends.length }, 'started');
    this.#session.start();
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
    await this.#reloading?.catch(() => undefined);
    const session = this.#session;
    this.#session = undefined;
    await session?.stop({ final: true });
    await this.#supervisor?.stop();
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
    let next: Session;
    try {
      const config = await this.options.reloadConfig();
      if (JSON.stringify(config.exec) !== this.#execSettings) {
        logger.warn('the exec block changed; the running child keeps its settings until the sidecar restarts');
      }
      next = await this.#build(config);
      logger.level = config.logLevel;
    } catch (error) {
      logger.error({ error: errorFields(toSidecarError(error)) }, 'reload failed; keeping the running configuration');
      return false;
    }
    if (this.#stopping) return false;
    await this.#session?.stop({ final: false });
    this.#session = next;
    logger.info('configuration reloaded');
    next.start();
    return true;
  }

  async #build(config: ResolvedConfig): Promise<Session> {
    const { logger } = this.options;
    const [templates, envTemplates] = await Promise.all([loadTemplates(config), loadEnvTemplates(config)]);
    const destinations = await preflight(config.templates, logger);
    const backends = await openBackends(config, logger, this.options.env);
    return new Session(
      { config, templates, envTemplates, destinations, backends },
      {
        logger,
        env: this.options.env,
        child: this.#child,
        onFatal: (error) => this.#reportFatal(error),
        onFirstRender: () => {
          logger.info({ templates: config.templates.length }, 'all templates rendered');
          // The child starts only once every file and variable it needs is in place.
          this.#supervisor?.start();
        },
      },
    );
  }
}
