import { dirname, join } from 'node:path';
import { SidecarError } from '../errors.js';
import type { ResolvedConfig } from './types.js';
import { directoryHolding } from './within-directory.js';

/**
 * Settings given on the command line that win over the config file: what an injecting webhook must control
 * whatever the user's sidecar.hcl says (the probes' listener, the issuance cache directory).
 */
export interface CommandLineOverrides {
  /** host:port; the host may be a bare IPv6 address (the port is always last), as $(POD_IP):9102 expands. */
  readonly listen?: string | undefined;
  /**
   * An absolute directory (an injected in-memory volume) under which every backend that keeps a cache gets its own
   * subdirectory, `backend-<name>`: the sidecar creates it 0700 as the cache needs, where the volume's root is
   * 0777, and two backends never share cache files.
   */
  readonly cacheDir?: string | undefined;
}

const DEFAULT_READINESS_GRACE_MS = 60_000;

export function applyOverrides(config: ResolvedConfig, overrides: CommandLineOverrides): ResolvedConfig {
  let next = config;
  if (overrides.listen !== undefined) {
    const { host, port } = parseListenAddress(overrides.listen);
    const listener = next.listener ?? { readinessGraceMs: DEFAULT_READINESS_GRACE_MS, refreshTokenFile: undefined, refreshTokenEnv: undefined };
    next = { ...next, listener: Object.freeze({ ...listener, host, port }) };
  }
  if (overrides.cacheDir !== undefined) {
    const cacheDir = overrides.cacheDir;
    if (!cacheDir.startsWith('/')) throw new SidecarError('SIDECAR_ERR_USAGE', `--cache-dir must be an absolute path`);
    // The same rule as cache_dir: the application, which sees the destinations, must not see the token.
    const inside = directoryHolding(next.templates.map((t) => dirname(t.destination)), cacheDir);
    if (inside !== undefined)
      throw new SidecarError(
        'SIDECAR_ERR_USAGE',
        `--cache-dir ${cacheDir} is inside ${inside}, a template's destination directory: the application would see the Vault token it holds; give it a volume of its own`,
      );
    // Providers are not named here: a backend that keeps a cache has a cacheDir.
    const backends = next.backends.map((b) => ('cacheDir' in b ? Object.freeze({ ...b, cacheDir: join(cacheDir, `backend-${b.name}`) }) : b));
    next = { ...next, backends: Object.freeze(backends) };
  }
  return next === config ? config : Object.freeze(next);
}

export function parseListenAddress(text: string): { host: string; port: number } {
  const colon = text.lastIndexOf(':');
  const host = text.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(text.slice(colon + 1));
  if (colon < 1 || !/^\d{1,5}$/.test(text.slice(colon + 1)) || port > 65535 || !/^[A-Za-z0-9.:-]+$/.test(host))
    throw new SidecarError('SIDECAR_ERR_USAGE', `--listen ${JSON.stringify(text.slice(0, 80))}: expected host:port, such as 10.1.2.3:9102 or [::1]:9102`);
  return { host, port };
}
