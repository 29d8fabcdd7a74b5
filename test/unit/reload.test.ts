import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SidecarError } from '../../src/errors.js';
import { createLogger } from '../../src/log/logger.js';
import { callHttpHook } from '../../src/reload/http-hook.js';
import { findProcesses, readPidFile, sendSignal } from '../../src/reload/process-signal.js';
import { ReloadDispatcher } from '../../src/reload/reload-dispatcher.js';
import type { ReloadTarget } from '../../src/reload/reload-target.js';
import { REPO_ROOT, makeTmpfsDir, removeDir } from '../support/dirs.js';
import { LogCapture } from '../support/leaks.js';

let dir: string | undefined;
let server: Server | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await removeDir(dir);
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  dir = server = undefined;
});

describe('process targets', () => {
  it('finds processes by their command line, like pgrep -f, never itself', async () => {
    dir = await makeTmpfsDir();
    const proc = (pid: number, argv: string[]) =>
      mkdir(join(dir ?? '', String(pid)), { recursive: true }).then(() => writeFile(join(dir ?? '', String(pid), 'cmdline'), argv.join('\0') + '\0'));
    await proc(10, ['nginx: master process nginx', '-g', 'daemon off;']);
    await proc(11, ['nginx: worker process']);
    await proc(12, ['node', 'server.js']);
    await proc(process.pid, ['nginx: master (this is us)']);
    await mkdir(join(dir, 'self'));
    expect(await findProcesses(/^nginx: master/, { procDir: dir })).toEqual([10]);
    expect(await findProcesses(/node server\.js$/, { procDir: dir })).toEqual([12]);
    expect(await findProcesses(/nginx/, { procDir: dir })).toEqual([10, 11]);
  });

  it('reads pid files, treating missing or garbled ones as a target not there yet', async () => {
    dir = await makeTmpfsDir();
    await writeFile(join(dir, 'ok.pid'), '4242\n');
    await writeFile(join(dir, 'bad.pid'), 'not a pid');
    expect(await readPidFile(join(dir, 'ok.pid'))).toBe(4242);
    await expect(readPidFile(join(dir, 'bad.pid'))).rejects.toMatchObject({ code: 'SIDECAR_ERR_RELOAD_TARGET_MISSING', retryable: true });
    await expect(readPidFile(join(dir, 'none.pid'))).rejects.toMatchObject({ code: 'SIDECAR_ERR_RELOAD_TARGET_MISSING', retryable: true });
  });

  it('maps a vanished process to a retryable error', () => {
    // Above the kernel's largest pid: never a live process.
    expect(() => sendSignal(4_194_305, 'SIGHUP', 'notify "x"')).toThrow(
      expect.objectContaining({ code: 'SIDECAR_ERR_RELOAD_TARGET_MISSING', retryable: true }) as Error,
    );
  });

  it('maps a forbidden signal to a clear, non-retryable error (run as an unprivileged user)', async () => {
    expect(process.getuid?.(), 'this test needs root to run a probe as the nobody user').toBe(0);
    // The probe loads the module, bundled, from a world-readable directory: the checkout may not be readable by nobody.
    dir = await makeTmpfsDir();
    await build({
      entryPoints: [join(REPO_ROOT, 'src/reload/process-signal.ts')],
      bundle: true,
      format: 'esm',
      platform: 'node',
      outfile: join(dir, 'process-signal.mjs'),
      logLevel: 'error',
    });
    await chmod(dir, 0o755);
    await chmod(join(dir, 'process-signal.mjs'), 0o644);
    const probe = `import('${join(dir, 'process-signal.mjs')}').then((m) => { try { m.sendSignal(${process.pid}, 'SIGHUP', 'notify "app"'); console.log('sent'); } catch (e) { console.log(JSON.stringify({ code: e.code, retryable: e.retryable, message: e.message, hint: e.hint })); } })`;
    const result = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', probe], { encoding: 'utf8', cwd: dir });
    expect(result.status, result.stderr).toBe(0);
    const error = JSON.parse(result.stdout) as { code: string; retryable: boolean; message: string; hint: string };
    expect(error).toMatchObject({ code: 'SIDECAR_ERR_RELOAD_DENIED', retryable: false });
    expect(error.message).toBe(`notify "app": not permitted to send SIGHUP to process ${process.pid}`);
    expect(error.hint).toContain('shareProcessNamespace');
  });
});

describe('http hook', () => {
  async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/-/reload`;
  }
  const hook = (url: string, timeoutMs = 2000) => ({ url, method: 'POST' as const, headers: { 'x-test': '1' }, timeoutMs });

  it('succeeds on 2xx, sending the method and headers', async () => {
    const seen: string[] = [];
    const url = await serve((req, res) => {
      seen.push(`${req.method} ${String(req.headers['x-test'])}`);
      res.writeHead(204).end();
    });
    expect(await callHttpHook(hook(url), 'notify "p"')).toBe(204);
    expect(seen).toEqual(['POST 1']);
  });

  it('fails on other statuses without quoting the body', async () => {
    const url = await serve((_req, res) => res.writeHead(500).end('config: password=echoed-back-secret'));
    const error = (await callHttpHook(hook(url), 'notify "p"').catch((e: unknown) => e)) as SidecarError;
    expect(error).toMatchObject({ code: 'SIDECAR_ERR_RELOAD_FAILED', retryable: true });
    expect(error.message).toBe(`notify "p": POST ${url} answered 500`);
  });

  it('times out a server that does not answer', async () => {
    const url = await serve(() => undefined);
    await expect(callHttpHook(hook(url, 200), 'notify "p"')).rejects.toMatchObject({ code: 'SIDECAR_ERR_RELOAD_TIMEOUT' });
  });

  it('reports a refused connection', async () => {
    const url = await serve(() => undefined);
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
    await expect(callHttpHook(hook(url), 'notify "p"')).rejects.toMatchObject({
      code: 'SIDECAR_ERR_RELOAD_FAILED',
      message: expect.stringContaining('ECONNREFUSED') as unknown,
    });
  });
});

describe('reload dispatcher', () => {
  function target(name: string, results: (() => string)[]): ReloadTarget & { calls: number } {
    const t = {
      name,
      calls: 0,
      fire: () => {
        const step = results[Math.min(t.calls, results.length - 1)];
        t.calls++;
        try {
          return Promise.resolve(step ? step() : 'ok');
        } catch (error) {
          return Promise.reject(error instanceof Error ? error : new Error(String(error)));
        }
      },
    };
    return t;
  }
  const missing = () => {
    throw new SidecarError('SIDECAR_ERR_RELOAD_TARGET_MISSING', 'no pid file');
  };
  const denied = () => {
    throw new SidecarError('SIDECAR_ERR_RELOAD_DENIED', 'not permitted');
  };
  function dispatcher(targets: ReloadTarget[], capture = new LogCapture()) {
    return new ReloadDispatcher({
      targets: new Map(targets.map((t) => [t.name, t])),
      logger: createLogger({ level: 'debug', format: 'json', stream: capture }),
      retry: { attempts: 0, backoffMs: 100, maxBackoffMs: 1000 },
      attempts: 3,
      maxCollectMs: 5000,
    });
  }

  it('fires each requested target once per flush, however often it was requested', async () => {
    vi.useFakeTimers();
    const a = target('a', [() => 'ok']);
    const b = target('b', [() => 'ok']);
    const d = dispatcher([a, b]);
    d.request(['a']);
    d.request(['a', 'b']);
    d.request([]);
    expect(a.calls).toBe(0);
    d.flush();
    await vi.advanceTimersByTimeAsync(0);
    expect([a.calls, b.calls]).toEqual([1, 1]);
    d.flush();
    await vi.advanceTimersByTimeAsync(0);
    expect([a.calls, b.calls]).toEqual([1, 1]);
  });

  it('fires on its own after maxCollect when the burst never settles', async () => {
    vi.useFakeTimers();
    const a = target('a', [() => 'ok']);
    const d = dispatcher([a]);
    d.request(['a']);
    await vi.advanceTimersByTimeAsync(4999);
    expect(a.calls).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(a.calls).toBe(1);
  });

  it('retries a target that is not there yet, but not one it may not signal', async () => {
    vi.useFakeTimers();
    const late = target('late', [missing, missing, () => 'ok']);
    const forbidden = target('forbidden', [denied]);
    const capture = new LogCapture();
    const d = dispatcher([late, forbidden], capture);
    d.request(['late', 'forbidden']);
    d.flush();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(late.calls).toBe(3);
    expect(forbidden.calls).toBe(1);
    const messages = capture.records().map((r) => `${String(r['notify'])}:${String(r['msg'])}`);
    expect(messages).toEqual(expect.arrayContaining(['late:notify failed, retrying', 'late:notified', 'forbidden:notify failed']));
  });
});
