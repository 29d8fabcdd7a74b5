import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { LogRecord } from './cli.js';
import { REPO_ROOT } from './dirs.js';
import { freePort } from './openbao.js';
import { waitUntilUp } from './wait-until-up.js';

const MOTO = join(REPO_ROOT, '.cache', 'moto', 'bin', 'moto_server');

/** Static test credentials moto accepts; the sidecar finds them through the SDK's default chain (environment). */
export const AWS_TEST_ENV = { AWS_ACCESS_KEY_ID: 'AKIDSIDECARTEST', AWS_SECRET_ACCESS_KEY: 'sidecar-test-secret-key-5f5f', AWS_REGION: 'eu-west-1' } as const;

/** SDK client options for the test's own calls to moto (creating secrets and parameters). */
export function motoClientConfig(moto: Moto): { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } } {
  return {
    endpoint: moto.endpoint,
    region: AWS_TEST_ENV.AWS_REGION,
    credentials: { accessKeyId: AWS_TEST_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: AWS_TEST_ENV.AWS_SECRET_ACCESS_KEY },
  };
}

/** Matches the sidecar's debug line for one AWS call of this operation (its SDK middleware logs each). */
export const awsCall = (operation: string) => (r: LogRecord) => r.msg === 'aws call' && r['operation'] === operation;

export interface Moto {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export interface MotoOptions {
  /**
   * Runs moto's clock this many seconds off (under libfaketime). moto schedules a rotation at least a day ahead
   * and never runs one; a clock a day behind puts NextRotationDate within seconds of the real time.
   */
  readonly clockOffsetSeconds?: number;
}

/** moto's server on a free loopback port, ready when /moto-api/ answers. */
export async function startMoto(options: MotoOptions = {}): Promise<Moto> {
  if (!existsSync(MOTO)) throw new Error(`moto is not installed at ${MOTO}: run test/infra/install-test-tools.sh (npm test does)`);
  const port = await freePort();
  const args = ['-H', '127.0.0.1', '-p', String(port)];
  const offset = options.clockOffsetSeconds;
  // A process group of its own: faketime forks moto as its child, and stop() must end both.
  const child =
    offset === undefined
      ? spawn(MOTO, args, { stdio: 'ignore', detached: true })
      : spawn('faketime', ['-f', `${offset >= 0 ? '+' : ''}${offset}`, MOTO, ...args], {
          stdio: 'ignore',
          detached: true,
          env: { ...process.env, FAKETIME_DONT_FAKE_MONOTONIC: '1' },
        });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntilUp(`${endpoint}/moto-api/`, child, 'moto', 10_000);
  return {
    endpoint,
    stop: async () => {
      if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
      await exited;
    },
  };
}
