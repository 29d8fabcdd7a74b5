import { isAbsolute, relative } from 'node:path';

/** The first of `directories` that `path` is, or sits under (compared as resolved paths), if any. */
export function directoryHolding(directories: readonly string[], path: string): string | undefined {
  return directories.find((dir) => {
    const rel = relative(dir, path);
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  });
}
