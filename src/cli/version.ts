import { readFileSync } from 'node:fs';

/** The package version, read from package.json two levels up (from dist/cli or src/cli alike). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}
