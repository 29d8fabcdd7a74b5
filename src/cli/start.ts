import { exitProcess } from './exit-process.js';
import { runCli } from './program.js';

/**
 * The process around the CLI: its title, its signal and warning handlers, its exit. Called by the bin
 * (main.ts) and by the start-up snapshot's main function (snapshot.ts), which passes `argv` with the script path
 * that `node --snapshot-blob` leaves out.
 */
export async function startCli(argv: readonly string[] = process.argv): Promise<void> {
  process.title = 'secrets-sidecar';
  // Signal listeners are added by `run`; SIGHUP must not kill the process before they are.
  process.on('SIGHUP', () => undefined);
  // Node prints process warnings (an SDK's notice about the Node version, say) as loose text on stderr, in the
  // middle of the JSON log stream: keep them, as one log line each.
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    process.stderr.write(
      `${JSON.stringify({ level: 'warn', time: new Date().toISOString(), pid: process.pid, warning: warning.name, msg: warning.message.replace(/\s+/g, ' ').trim() })}\n`,
    );
  });
  const code = await runCli(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, signals: process });
  await exitProcess(code);
}
