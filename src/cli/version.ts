import { readFileSync } from 'node:fs';

/** Set by scripts/build.mjs in the bundles; undefined when src/ runs as is (tests). */
declare const __SIDECAR_VERSION__: string | undefined;

/**
 * The package version: built into the bundles (a file read at every start costs a `once` run more than its
 * own bytes: the first fs call after a snapshot is restored); from src/, read from package.json two levels up.
 */
export function packageVersion(): string {
  if (typeof __SIDECAR_VERSION__ === 'string') return __SIDECAR_VERSION__;
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}
