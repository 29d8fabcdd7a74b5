import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:net';

export interface Nginx {
  stop(): Promise<void>;
}

/**
 * Debian's nginx in the foreground with its own config and prefix (never the system service): `prefix` gets
 * logs/ and tmp/; resolves once `port` on 127.0.0.1 accepts connections.
 */
export async function startNginx(prefix: string, config: string, port: number): Promise<Nginx> {
  if (!existsSync('/usr/sbin/nginx')) throw new Error('nginx is not installed: test/infra/install-test-tools.sh installs it (npm test runs it)');
  await mkdir(join(prefix, 'logs'), { recursive: true });
  await mkdir(join(prefix, 'tmp'), { recursive: true });
  await writeFile(join(prefix, 'nginx.conf'), config);
  const child = spawn('/usr/sbin/nginx', ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'logs', 'error.log'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  for (const deadline = Date.now() + 10_000; ;) {
    if (child.exitCode !== null) throw new Error(`nginx exited during start: ${stderr}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => resolve(true)).once('error', () => resolve(false));
      socket.once('connect', () => socket.destroy());
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port}: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return {
    stop: async () => {
      // SIGQUIT: a graceful shutdown; the workers finish and exit with the master.
      if (child.exitCode === null) child.kill('SIGQUIT');
      await exited;
    },
  };
}
