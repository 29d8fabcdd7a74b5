/** What a mount lookup tells about a path's mount. */
export interface MountInfo {
  /** The mount's path, with its trailing slash ("secret/"). */
  readonly path: string;
  readonly type: string;
  /** For kv: "1" or "2". */
  readonly version: string | undefined;
}

/**
 * Caches mount lookups so that secrets under one mount cost one lookup between them, where consul-template and
 * Vault Agent look one up for every secret. Lookups run one at a time: a path that arrives while one is in
 * flight waits for it, since it will most often answer for that path too. A mount can change under us (`kv
 * enable-versioning`, a remount): `forget` drops one entry, so that the next path under it is looked up again,
 * once for every path that waited on it.
 */
export class MountCache {
  #mounts: MountInfo[] = [];
  #inFlight: Promise<unknown> = Promise.resolve();

  /** `lookup` gets `derived`: the path is computed from a secret, and so is the mount it names (never to be shown). */
  constructor(private readonly lookup: (path: string, derived: boolean) => Promise<MountInfo>) {}

  async mountFor(path: string, derived = false): Promise<MountInfo> {
    for (;;) {
      const known = this.#find(path);
      if (known) return known;
      const waitingOn = this.#inFlight;
      await waitingOn.catch(() => undefined);
      if (this.#inFlight !== waitingOn) continue; // another lookup started meanwhile: it may cover this path
      const again = this.#find(path);
      if (again) return again;
      const lookup = this.lookup(path, derived).then((mount) => {
        if (!this.#find(mount.path)) this.#mounts.push(mount);
        return mount;
      });
      this.#inFlight = lookup;
      return lookup;
    }
  }

  /** Drops `mount` if it is still the cached one (a burst of failures under it drops it once). */
  forget(mount: MountInfo): void {
    this.#mounts = this.#mounts.filter((m) => m !== mount);
  }

  /** Forgets every mount (a forced refresh, a reload). */
  clear(): void {
    this.#mounts = [];
  }

  /** Vault refuses a mount under another mount's path, so the mount that prefixes a path is its mount. */
  #find(path: string): MountInfo | undefined {
    return this.#mounts.find((m) => `${path}/`.startsWith(m.path));
  }
}

/** A KV path as the API wants it: v2 reads go through `<mount>/data/<rest>`. Returns the path and query. */
export function kvReadPath(mount: MountInfo, path: string): { apiPath: string; query: string } {
  const [bare = '', query = ''] = path.split('?', 2);
  if (mount.type !== 'kv' || mount.version !== '2') return { apiPath: bare, query };
  const rest = bare.slice(mount.path.length);
  return { apiPath: rest.startsWith('data/') ? bare : `${mount.path}data/${rest}`, query };
}

/** A listing's API path: KV v2 lists under `<mount>/metadata/<rest>`; everything else lists the path itself. */
export function kvListPath(mount: MountInfo, path: string): string {
  if (mount.type !== 'kv' || mount.version !== '2') return path;
  const rest = path.slice(mount.path.length);
  return rest.startsWith('metadata/') || rest === 'metadata' ? path : `${mount.path}metadata/${rest}`;
}
