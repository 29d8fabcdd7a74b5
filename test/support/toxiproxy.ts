import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './dirs.js';
import { freePort } from './openbao.js';

const SERVER = join(REPO_ROOT, '.cache', 'bin', 'toxiproxy-server');

/** A toxiproxy server on loopback with one proxy in front of `upstream` ("127.0.0.1:port"). */
export interface Toxiproxy {
  /** Where clients connect instead of the upstream. */
  readonly listen: string;
  /** Cuts (false) or restores (true) the proxy: open connections drop, new ones are refused. */
  setEnabled(enabled: boolean): Promise<void>;
  stop(): Promise<void>;
}

export async function startToxiproxy(upstream: string): Promise<Toxiproxy> {
  if (!existsSync(SERVER)) throw new Error(`toxiproxy is not installed at ${SERVER}: run test/infra/install-test-tools.sh (npm test does)`);
  const apiPort = await freePort();
  const child = spawn(SERVER, ['-host', '127.0.0.1', '-port', String(apiPort)], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const api = `http://127.0.0.1:${apiPort}`;
  for (let i = 0; ; i++) {
    if (await fetch(`${api}/version`).then((r) => r.ok, () => false)) break;
    if (i > 200 || child.exitCode !== null) throw new Error('toxiproxy did not start');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const listen = `127.0.0.1:${await freePort()}`;
  const created = await fetch(`${api}/proxies`, { method: 'POST', body: JSON.stringify({ name: 'upstream', listen, upstream, enabled: true }) });
  if (!created.ok) throw new Error(`toxiproxy: cannot create the proxy (${created.status})`);
  return {
    listen,
    setEnabled: async (enabled) => {
      const response = await fetch(`${api}/proxies/upstream`, { method: 'POST', body: JSON.stringify({ enabled }) });
      if (!response.ok) throw new Error(`toxiproxy: cannot set enabled=${enabled} (${response.status})`);
    },
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
