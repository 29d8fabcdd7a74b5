import { basename, dirname } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';

export interface SourceWatchOptions {
  /** The directory to watch, without descending into it. */
  readonly directory: string;
  /** Which entries of it matter; others are ignored. */
  readonly relevant: (entryName: string) => boolean;
  readonly pollIntervalMs: number | undefined;
  readonly onEvent: () => void;
  readonly onError: (error: unknown) => void;
}

/**
 * Watches one directory level with chokidar. Watching the directory rather than the file is what lets us see
 * replacements by rename (editors, atomic writers) and Kubernetes' `..data` symlink swap, where the file a
 * reference names never changes itself.
 */
export async function watchSource(options: SourceWatchOptions): Promise<FSWatcher> {
  const watcher = watch(options.directory, {
    depth: 0,
    ignoreInitial: true,
    followSymlinks: false,
    persistent: true,
    usePolling: options.pollIntervalMs !== undefined,
    ...(options.pollIntervalMs === undefined ? {} : { interval: options.pollIntervalMs, binaryInterval: options.pollIntervalMs }),
    ignored: (path: string) => path !== options.directory && dirname(path) === options.directory && !options.relevant(basename(path)),
  });
  watcher.on('all', (_event, path) => {
    if (path !== options.directory) options.onEvent();
  });
  watcher.on('error', options.onError);
  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  return watcher;
}

/** Kubernetes' atomic writer keeps its data in `..data` and timestamped `..YYYY_…` entries. */
export function isKubernetesAtomicEntry(name: string): boolean {
  return name.startsWith('..');
}
