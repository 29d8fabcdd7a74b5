import type { NotifyConfig } from '../config/types.js';
import { SidecarError } from '../errors.js';
import { callHttpHook } from './http-hook.js';
import { redactUrl } from './redact-url.js';
import { commandEnvironment, runCommandHook } from './command-hook.js';
import { findProcesses, readPidFile, sendSignal } from './process-signal.js';
import { RolloutTarget, type RolloutRef, type RolloutTargetOptions } from './rollout-target.js';

/** Something to tell that files changed. `fire` rejects with a coded error; the dispatcher retries by its flag. */
export interface ReloadTarget {
  readonly name: string;
  fire(): Promise<string>;
  /** Every template rendered for the first time (a rollout target records versions then); rejects with a coded error the sidecar cannot run with. */
  onFirstRender?(): Promise<void>;
}

export interface ReloadTargetDependencies {
  /** The environment command hooks get: the sidecar's, without its credentials. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** What a rollout target needs besides its settings. */
  readonly rollout?: Omit<RolloutTargetOptions, 'name' | 'action' | 'refs'> & { readonly refs: (target: string) => readonly RolloutRef[] };
}

/** Builds a reload target from a notify block. `fire` resolves with a short description of what it did. */
export function createReloadTarget(config: NotifyConfig, deps: ReloadTargetDependencies): ReloadTarget {
  const { action, name } = config;
  const what = `notify "${name}"`;
  switch (action.kind) {
    case 'pid-file':
      return {
        name,
        fire: async () => {
          const pid = await readPidFile(action.pidFile);
          sendSignal(pid, action.signal as NodeJS.Signals, what);
          return `${action.signal} to pid ${pid}`;
        },
      };
    case 'process': {
      const pattern = new RegExp(action.pattern);
      return {
        name,
        fire: async () => {
          const pids = await findProcesses(pattern);
          if (pids.length === 0) throw new SidecarError('SIDECAR_ERR_RELOAD_TARGET_MISSING', `${what}: no process matches /${action.pattern}/`);
          for (const pid of pids) sendSignal(pid, action.signal as NodeJS.Signals, what);
          return `${action.signal} to pid ${pids.join(', ')}`;
        },
      };
    }
    case 'http':
      return { name, fire: async () => `${action.method} ${redactUrl(action.url)}: ${await callHttpHook(action, what)}` };
    case 'rollout': {
      const rollout = deps.rollout;
      if (!rollout) throw new SidecarError('SIDECAR_ERR_INTERNAL', `${what}: a rollout target needs the session's secret versions`);
      return new RolloutTarget({ ...rollout, name, action, refs: () => rollout.refs(name) });
    }
    case 'command': {
      const env = commandEnvironment(deps.env);
      return {
        name,
        fire: async () => {
          await runCommandHook(action.command, action.timeoutMs, env, what);
          return `ran ${action.command[0] ?? ''}`;
        },
      };
    }
  }
}
