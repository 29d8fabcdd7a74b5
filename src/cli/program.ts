import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { constants as osConstants } from 'node:os';
import type { Writable } from 'node:stream';
import { loadConfig } from '../config/load-config.js';
import { applyOverrides, type CommandLineOverrides } from '../config/overrides.js';
import { DURATION_BOUNDS, parseBoundedDuration } from '../config/duration.js';
import type { ResolvedConfig } from '../config/types.js';
import { SidecarError, toSidecarError } from '../errors.js';
import { errorFields } from '../log/error-fields.js';
import { LOG_FORMATS, LOG_LEVELS, createLogger, type LogFormat, type LogLevel, type Logger } from '../log/logger.js';
import { Daemon } from '../runner/daemon.js';
import { exitStatus } from '../reload/child-supervisor.js';
import { loadTemplates } from '../runner/load-templates.js';
import { runOnce, withinTimeout } from '../runner/once.js';
import { openObservability } from '../observe/open-observability.js';
import { EXIT_CODES } from './exit-codes.js';
import { writeFileAtomically } from '../output/write-file.js';
import { providerCommands, providerSummary } from '../backends/provider-commands.js';
import { packageVersion } from './version.js';
import { addConvertCommand } from './convert-command.js';

/*
 * What loads when (start-up is most of a `once` run): modules imported statically from here are in the image's
 * start-up snapshot (scripts/build-snapshot.mjs), already evaluated when a process starts; what a command or a
 * provider needs only sometimes (a backend's SDK, observability, a converter) is `await import()`-ed where it is
 * used, as providers do through their descriptors. No module may compute per-process state at load time (a
 * random key, the environment, a clock reading, an open file): the snapshot would give every process the same.
 */

export interface CliIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where `run` listens for SIGHUP/SIGTERM/SIGINT; the process, outside tests. */
  readonly signals: NodeJS.EventEmitter;
  /** Where `convert` resolves a peer config's relative paths, as the peer would; the process's, by default. */
  readonly cwd?: string;
}

interface GlobalOptions {
  logLevel?: LogLevel;
  logFormat?: LogFormat;
}

const DEFAULT_TIMEOUT = '60s';
/** Signals the sidecar passes on to a supervised child (SIGHUP reloads the sidecar; SIGTERM/SIGINT stop it). */
const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGUSR2', 'SIGWINCH', 'SIGQUIT', 'SIGCONT'];

/** --timeout: bounded like the config's durations, so "600h" or 400 digits cannot become a timer that never fires. */
function durationArg(text: string): number {
  const parsed = parseBoundedDuration(text, DURATION_BOUNDS.onceTimeout);
  if ('error' in parsed) throw new InvalidArgumentError(`--timeout "${text.slice(0, 40)}": ${parsed.error}`);
  return parsed.ms;
}

/** The first SIGTERM or SIGINT, until disposed. */
function untilStopSignal(signals: NodeJS.EventEmitter): { signal: Promise<'SIGTERM' | 'SIGINT'>; dispose: () => void } {
  let dispose = () => undefined as void;
  const signal = new Promise<'SIGTERM' | 'SIGINT'>((resolve) => {
    const onTerm = () => resolve('SIGTERM');
    const onInt = () => resolve('SIGINT');
    signals.once('SIGTERM', onTerm).once('SIGINT', onInt);
    dispose = () => void signals.off('SIGTERM', onTerm).off('SIGINT', onInt);
  });
  return { signal, dispose };
}

/** Runs the CLI; resolves with the process exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode: number = EXIT_CODES.success;
  const program = new Command()
    .name('secrets-sidecar')
    .description(`Render secrets from ${providerSummary()} into tmpfs, and keep them fresh.`)
    .version(packageVersion(), '-V, --version')
    .addOption(new Option('--log-level <level>', 'log level (overrides the config)').choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', 'log format (overrides the config)').choices(LOG_FORMATS))
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });

  const setUp = async (configPath: string, overrides: CommandLineOverrides = {}) => {
    const globals = program.opts<GlobalOptions>();
    // Until the config is read, log with the CLI's settings (or defaults), so config errors are logged too.
    let logger = createLogger({ level: globals.logLevel ?? 'info', format: globals.logFormat ?? 'json' });
    const config = await loadConfig(configPath)
      .then((loaded) => applyOverrides(loaded, overrides))
      .catch((error: unknown) => {
        throw Object.assign(toSidecarError(error), { logger });
      });
    logger = createLogger({ level: globals.logLevel ?? config.logLevel, format: globals.logFormat ?? config.logFormat });
    return { config, logger, globals };
  };

  const fail = (error: unknown, logger: Logger | undefined) => {
    const coded = toSidecarError(error);
    const target = logger ?? (error as { logger?: Logger }).logger ?? createLogger({ level: 'info', format: 'json' });
    target.error({ error: errorFields(coded) }, coded.message.split('\n')[0] ?? 'failed');
    exitCode = EXIT_CODES[coded.category];
  };

  program
    .command('once')
    .description('render every template once, write the files, and exit (for init containers and CI)')
    .requiredOption('-c, --config <file>', 'config file (.hcl, or .json)')
    .option('--dry-run', 'print each rendered template to stdout instead of writing it; secret values are masked', false)
    .option('--show-secrets', 'with --dry-run: print real secret values', false)
    .option('--timeout <duration>', 'give up after this long', durationArg, durationArg(DEFAULT_TIMEOUT))
    .option('--cache-dir <dir>', "the issuance cache directory of every backend that keeps one (overrides the config's cache_dir)")
    .action(async (opts: { config: string; dryRun: boolean; showSecrets: boolean; timeout: number; cacheDir?: string }) => {
      if (opts.showSecrets && !opts.dryRun) throw new SidecarError('SIDECAR_ERR_USAGE', '--show-secrets only applies with --dry-run');
      let logger: Logger | undefined;
      const startedAt = Date.now();
      const work = async () => {
        // --timeout bounds the whole run, the config read included.
        const setup = await withinTimeout(setUp(opts.config, { cacheDir: opts.cacheDir }), opts.timeout);
        logger = setup.logger;
        // The audit file records a one-shot run's accesses too.
        const observability = await openObservability(setup.config, logger, false);
        try {
          const timeoutMs = Math.max(1, opts.timeout - (Date.now() - startedAt));
          await runOnce(setup.config, {
            logger,
            env: io.env,
            timeoutMs,
            statedTimeoutMs: opts.timeout,
            dryRun: opts.dryRun,
            showSecrets: opts.showSecrets,
            stdout: io.stdout,
          });
        } finally {
          await observability?.stop();
        }
      };
      // SIGTERM/SIGINT end `once` with 128 + the signal's number, as their default action would, but through the
      // exit path, which lets writes under way finish or removes their temp files.
      const interrupt = untilStopSignal(io.signals);
      try {
        const signal = await Promise.race([work().then(() => undefined), interrupt.signal]);
        if (signal) {
          (logger ?? createLogger({ level: 'info', format: 'json' })).warn({ signal }, 'interrupted; exiting');
          exitCode = 128 + osConstants.signals[signal];
        }
      } catch (error) {
        fail(error, logger);
      } finally {
        interrupt.dispose();
      }
    });

  program
    .command('run')
    .description('render every template, then re-render when a secret changes, until SIGTERM or SIGINT (SIGHUP reloads)')
    .requiredOption('-c, --config <file>', 'config file (.hcl, or .json)')
    .option('--listen <host:port>', "serve the listener here (overrides the config's listener address; adds one if it has none)")
    .option('--cache-dir <dir>', "the issuance cache directory of every backend that keeps one (overrides the config's cache_dir)")
    .action(async (opts: { config: string; listen?: string; cacheDir?: string }) => {
      let logger: Logger | undefined;
      try {
        const overrides = { listen: opts.listen, cacheDir: opts.cacheDir };
        const setup = await setUp(opts.config, overrides);
        logger = setup.logger;
        exitCode = await runDaemon(setup.config, setup.logger, setup.globals, opts.config, io, overrides);
      } catch (error) {
        fail(error, logger);
      }
    });

  program
    .command('validate')
    .description('check the config and the templates, without contacting any backend or writing anything')
    .requiredOption('-c, --config <file>', 'config file (.hcl, or .json)')
    .action(async (opts: { config: string }) => {
      let logger: Logger | undefined;
      try {
        const setup = await setUp(opts.config);
        logger = setup.logger;
        await loadTemplates(setup.config);
        io.stdout.write(`${setup.config.file}: valid (${setup.config.backends.length} backends, ${setup.config.templates.length} templates)\n`);
      } catch (error) {
        fail(error, logger);
      }
    });

  program
    .command('webhook')
    .description('serve the mutating admission webhook that injects the sidecar into annotated pods (see "Injecting into pods")')
    .requiredOption('-c, --config <file>', 'webhook config file (webhook.hcl, or .json)')
    .action(async (opts: { config: string }) => {
      const { runWebhookCommand } = await import('./webhook-command.js');
      exitCode = await runWebhookCommand(opts.config, program.opts<GlobalOptions>(), io);
    });
  addConvertCommand(program, { stdout: io.stdout, cwd: io.cwd ?? process.cwd() }, (error) => fail(error, undefined));

  // Commands the providers add.
  for (const group of providerCommands()) {
    const parent = program.command(group.name).description(group.description);
    for (const spec of group.commands) {
      const command = parent.command(spec.name).description(spec.description);
      for (const option of spec.options ?? []) command.option(option.flags, option.description, option.defaultValue as string | boolean | string[] | undefined);
      if (spec.argument) command.argument(spec.argument.spec, spec.argument.description);
      command.action(async (...input: unknown[]) => {
        // commander passes the positional argument (if declared), then the options, then the command.
        const args = spec.argument ? [input[0]].flat().map(String) : [];
        const options = (spec.argument ? input[1] : input[0]) as Record<string, unknown>;
        try {
          await spec.run(args, options, { stdout: io.stdout, env: io.env, writeFile: writeFileAtomically });
        } catch (error) {
          fail(error, undefined);
        }
      });
    }
  }

  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      const benign = error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help';
      return benign ? EXIT_CODES.success : EXIT_CODES.usage;
    }
    if (error instanceof SidecarError && error.code === 'SIDECAR_ERR_USAGE') {
      io.stderr.write(`error: ${error.message}\n`);
      return EXIT_CODES.usage;
    }
    throw error;
  }
  return exitCode;
}

async function runDaemon(
  config: ResolvedConfig,
  logger: Logger,
  globals: GlobalOptions,
  configPath: string,
  io: CliIo,
  overrides: CommandLineOverrides,
): Promise<number> {
  const daemon = new Daemon({
    logger,
    env: io.env,
    reloadConfig: async () => {
      const next = applyOverrides(await loadConfig(configPath), overrides);
      return globals.logLevel ? { ...next, logLevel: globals.logLevel } : next;
    },
  });
  let stopRequested = false;
  const stopped = new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      // SIGTERM and POST /v1/shutdown may both come: one stop.
      if (stopRequested) return;
      stopRequested = true;
      logger.info({ signal }, 'shutting down');
      daemon.stop().then(
        () => resolve(EXIT_CODES.success),
        (error: unknown) => {
          logger.error({ error: errorFields(error) }, 'shutdown failed');
          resolve(EXIT_CODES.internal);
        },
      );
    };
    io.signals.once('SIGTERM', () => shutdown('SIGTERM'));
    io.signals.once('SIGINT', () => shutdown('SIGINT'));
    void daemon.shutdownRequested.then(() => shutdown('POST /v1/shutdown'));
  });
  const onHup = () => void daemon.reload();
  io.signals.on('SIGHUP', onHup);
  // SIGUSR1: a forced refresh of every secret, as POST /v1/refresh without a reference.
  const onUsr1 = () => logger.info({ signal: 'SIGUSR1', refreshed: daemon.refresh().length }, 'forced refresh');
  io.signals.on('SIGUSR1', onUsr1);
  // Other signals are the application's: pass them on to the supervised child.
  const forwarders = FORWARDED_SIGNALS.map((signal) => [signal, () => daemon.forward(signal)] as const);
  if (config.exec) for (const [signal, forward] of forwarders) io.signals.on(signal, forward);
  try {
    // SIGTERM must end the process within its grace even while start is still reading (a hung mount).
    const starting = daemon.start(config);
    const early = await Promise.race([starting.then(() => undefined), stopped]);
    if (early !== undefined) {
      starting.catch(() => undefined);
      return early;
    }
    const fatal = daemon.fatal.then(async (error) => {
      logger.error({ error: errorFields(error) }, error.message);
      await daemon.stop();
      return EXIT_CODES[error.category];
    });
    const childExit = daemon.childFinished.then(async (exit) => {
      const status = exitStatus(exit);
      logger.info({ code: exit.code, signal: exit.signal, status }, 'child exited; stopping');
      await daemon.stop();
      return status;
    });
    return await Promise.race([stopped, fatal, childExit]);
  } finally {
    io.signals.off('SIGHUP', onHup);
    io.signals.off('SIGUSR1', onUsr1);
    for (const [signal, forward] of forwarders) io.signals.off(signal, forward);
  }
}
