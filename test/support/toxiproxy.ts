import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './dirs.js';
import { freePort } from './openbao.js';
import { waitUntilUp } from './wait-until-up.js';

const SERVER = join(REPO_ROOT, '.cache', 'bin', 'toxiproxy-server');

/** A toxiproxy server on loopback with one proxy in front of `upstream` ("127.0.0.1:port"). */
export interface Toxiproxy {
  /** Where clients connect instead of the upstream. */
  readonly listen: string;
  /** Cuts (false) or restores (true) the proxy: open connections drop, new ones are refused. */
  setEnabled(enabled: boolean): Promise<void>;
  /**
   * Adds a toxic to the answers (downstream): `bandwidth` {rate: KB/s}, `slicer` {average_size, delay: µs} to
   * trickle, `timeout` {timeout: 0} to stall, `reset_peer`, `latency`. Returns its name, for removeToxic.
   */
  addToxic(type: string, attributes: Record<string, number>): Promise<string>;
  removeToxic(name: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startToxiproxy(upstream: string): Promise<Toxiproxy> {
  if (!existsSync(SERVER)) throw new Error(`toxiproxy is not installed at ${SERVER}: run test/infra/install-test-tools.sh (npm test does)`);
  const apiPort = await freePort();
  const child = spawn(SERVER, ['-host', '127.0.0.1', '-port', String(apiPort)], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const api = `http://127.0.0.1:${apiPort}`;
  await waitUntilUp(`${api}/version`, child, 'toxiproxy', 5_000);
  const listen = `127.0.0.1:${await freePort()}`;
  const created = await fetch(`${api}/proxies`, { method: 'POST', body: JSON.stringify({ name: 'upstream', listen, upstream, enabled: true }) });
  if (!created.ok) throw new Error(`toxiproxy: cannot create the proxy (${created.status})`);
  let toxics = 0;
  return {
    listen,
    setEnabled: async (enabled) => {
      const response = await fetch(`${api}/proxies/upstream`, { method: 'POST', body: JSON.stringify({ enabled }) });
      if (!response.ok) throw new Error(`toxiproxy: cannot set enabled=${enabled} (${response.status})`);
    },
    addToxic: async (type, attributes) => {
      const name = `${type}-${toxics++}`;
      const response = await fetch(`${api}/proxies/upstream/toxics`, {
        method: 'POST',
        body: JSON.stringify({ name, type, stream: 'downstream', toxicity: 1, attributes }),
      });
      if (!response.ok) throw new Error(`toxiproxy: cannot add the ${type} toxic (${response.status} ${await response.text()})`);
      return name;
    },
    removeToxic: async (name) => {
      const response = await fetch(`${api}/proxies/upstream/toxics/${name}`, { method: 'DELETE' });
      if (!response.ok) throw new Error(`toxiproxy: cannot remove the toxic ${name} (${response.status})`);
    },
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
