import { basename, dirname } from 'node:path';
import { watch } from 'chokidar';
import { READ_DEADLINE_MS } from '../../bounded-read.js';
import { setSafeTimeout } from '../../timer.js';

export interface SourceWatchOptions {
  /** The directory to watch, without descending into it. */
  readonly directory: string;
  /** Which entries of it matter; others are ignored. */
  readonly relevant: (entryName: string) => boolean;
  readonly pollIntervalMs: number | undefined;
  readonly onEvent: () => void;
  readonly onError: (error: unknown) => void;
}

export interface SourceWatch {
  close(): Promise<void>;
}

/**
 * chokidar emits at most one `change` per path per 50 ms and drops the rest, with no trailing event: the last
 * write of a quick burst would go unseen. So every event is followed by one more notification after this delay.
 */
export const TRAILING_EVENT_DELAY_MS = 120;

/**
 * Watches one directory level with chokidar. Watching the directory rather than the file is what lets us see
 * replacements by rename (editors, atomic writers) and Kubernetes' `..data` symlink swap, where the file a
 * reference names never changes itself. Resolves once the watch is live.
 */
export async function watchSource(options: SourceWatchOptions): Promise<SourceWatch> {
  const watcher = watch(options.directory, {
    depth: 0,
    ignoreInitial: true,
    followSymlinks: false,
    persistent: true,
    usePolling: options.pollIntervalMs !== undefined,
    ...(options.pollIntervalMs === undefined ? {} : { interval: options.pollIntervalMs, binaryInterval: options.pollIntervalMs }),
    ignored: (path: string) => path !== options.directory && dirname(path) === options.directory && !options.relevant(basename(path)),
  });
  let trailing: NodeJS.Timeout | undefined;
  watcher.on('all', (_event, path) => {
    if (path === options.directory) return;
    options.onEvent();
    clearTimeout(trailing);
    trailing = setTimeout(options.onEvent, TRAILING_EVENT_DELAY_MS);
  });
  watcher.on('error', options.onError);
  // chokidar stats the directory before it is ready; on a hung mount that never ends. Go on without waiting
  // longer than a read may: events start whenever the scan finishes.
  await new Promise<void>((resolve) => {
    const timer = setSafeTimeout(() => {
      options.onError(new Error(`watching ${options.directory} did not start within ${READ_DEADLINE_MS} ms`));
      resolve();
    }, READ_DEADLINE_MS);
    watcher.once('ready', () => {
      timer.clear();
      resolve();
    });
  });
  return {
    close: async () => {
      clearTimeout(trailing);
      await watcher.close();
    },
  };
}

/** Kubernetes' atomic writer keeps its data in `..data` and timestamped `..YYYY_…` entries. */
export function isKubernetesAtomicEntry(name: string): boolean {
  return name.startsWith('..');
}
