import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './dirs.js';
import { freePort } from './openbao.js';

const MOTO = join(REPO_ROOT, '.cache', 'moto', 'bin', 'moto_server');

/** Static test credentials moto accepts; the sidecar finds them through the SDK's default chain (environment). */
export const AWS_TEST_ENV = { AWS_ACCESS_KEY_ID: 'AKIDSIDECARTEST', AWS_SECRET_ACCESS_KEY: 'sidecar-test-secret-key-5f5f', AWS_REGION: 'eu-west-1' } as const;

export interface Moto {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** moto's server on a free loopback port, ready when /moto-api/ answers. */
export async function startMoto(): Promise<Moto> {
  if (!existsSync(MOTO)) throw new Error(`moto is not installed at ${MOTO}: run test/infra/install-test-tools.sh (npm test does)`);
  const port = await freePort();
  const child = spawn(MOTO, ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const endpoint = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (await fetch(`${endpoint}/moto-api/`).then((r) => r.ok, () => false)) break;
    if (i > 400 || child.exitCode !== null) throw new Error('moto did not start');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return {
    endpoint,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
