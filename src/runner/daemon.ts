import type { ResolvedConfig } from '../config/types.js';
import { toSidecarError, type SidecarError } from '../errors.js';
import { errorFields } from '../log/error-fields.js';
import type { Logger } from '../log/logger.js';
import { loadTemplates } from './load-templates.js';
import { openBackends } from './open-backends.js';
import { removePidFile, writePidFile } from './pid-file.js';
import { preflight } from './preflight.js';
import { Session } from './session.js';

export interface DaemonOptions {
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Re-reads the config file (for SIGHUP). */
  readonly reloadConfig: () => Promise<ResolvedConfig>;
}

/**
 * `run`: renders every template, then keeps each in step with its secrets until stopped. A reload builds a
 * complete new session first and swaps it in only if that worked; the files on disk are never removed.
 */
export class Daemon {
  #session: Session | undefined;
  #stopping = false;
  #pidFile: string | undefined;
  #reloading: Promise<boolean> | undefined;
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

  async start(config: ResolvedConfig): Promise<void> {
    this.#session = await this.#build(config);
    this.#pidFile = config.pidFile;
    if (this.#pidFile) await writePidFile(this.#pidFile);
    this.options.logger.info({ templates: config.templates.length, backends: config.backends.length }, 'started');
    this.#session.start();
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
    await session?.stop();
    if (this.#pidFile) await removePidFile(this.#pidFile);
  }

  async #reload(): Promise<boolean> {
    const { logger } = this.options;
    let next: Session;
    try {
      const config = await this.options.reloadConfig();
      next = await this.#build(config);
      logger.level = config.logLevel;
    } catch (error) {
      logger.error({ error: errorFields(toSidecarError(error)) }, 'reload failed; keeping the running configuration');
      return false;
    }
    if (this.#stopping) return false;
    await this.#session?.stop();
    this.#session = next;
    logger.info('configuration reloaded');
    next.start();
    return true;
  }

  async #build(config: ResolvedConfig): Promise<Session> {
    const { logger } = this.options;
    const templates = await loadTemplates(config);
    const destinations = await preflight(config.templates, logger);
    const backends = await openBackends(config, logger);
    return new Session(
      { config, templates, destinations, backends },
      {
        logger,
        env: this.options.env,
        onFatal: (error) => this.#reportFatal(error),
        onFirstRender: () => logger.info({ templates: config.templates.length }, 'all templates rendered'),
      },
    );
  }
}
