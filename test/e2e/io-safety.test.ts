import { execFileSync, spawn } from 'node:child_process';
import { existsSync, linkSync, lstatSync, readFileSync, readdirSync, readlinkSync, renameSync, statSync } from 'node:fs';
import { chown, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, Daemon, runCli } from '../support/cli.js';
import { makeDiskDir, removeDir } from '../support/dirs.js';
import { httpCall } from '../support/http.js';
import { HungMount } from '../support/hung-fuse.js';
import { expectNoSecrets } from '../support/leaks.js';
import { freePort } from '../support/openbao.js';
import { makeProject, type Project } from '../support/project.js';

/*
 * Local files the sidecar reads (config, templates, secrets) may sit on a mount that hangs, and the directory it
 * writes to is shared with an application that may be hostile. A FIFO with no writer stands in for a hung mount:
 * a plain read of it blocks forever.
 */
const SECRET = 'io-safety-secret-51e7';
let project: Project | undefined;
let daemon: Daemon | undefined;
let hung: HungMount | undefined;
const mounts: HungMount[] = [];
const extraDirs: string[] = [];
afterEach(async () => {
  // First: the mount's stuck reads must fail before the processes holding them can end.
  await hung?.stop();
  hung = undefined;
  for (const mount of mounts.splice(0)) await mount.stop();
  await daemon?.stop();
  await removeDir(project?.root);
  for (const d of extraDirs.splice(0)) await removeDir(d);
  project = daemon = undefined;
});

function mkfifo(path: string): void {
  execFileSync('mkfifo', [path]);
}

const fileBackend = (path = '@ROOT@/secrets.json') => `backend "file" "local" {\n  path = "${path}"\n}\n`;
const template = (contents: string, destination: string, extra = '') => `template {\n  contents = "${contents}"\n  destination = "${destination}"\n${extra}}\n`;
const sourceTemplate = (source: string, destination: string) => `template {\n  source = "${source}"\n  destination = "${destination}"\n}\n`;

describe('blocked reads (a FIFO standing in for a hung mount)', () => {
  it('once --timeout bounds template loading: a FIFO template ends with exit 6, a FIFO secrets file too', async () => {
    project = await makeProject({ config: sourceTemplate('@ROOT@/hung.tmpl', '@OUT@/a') });
    mkfifo(join(project.root, 'hung.tmpl'));
    const started = Date.now();
    const result = await runCli(['once', '-c', project.config, '--timeout', '2s']);
    const seconds = (Date.now() - started) / 1000;
    expect(result.code, result.stderr).toBe(6);
    expect(result.stderr).toContain('SIDECAR_ERR_TIMEOUT');
    console.info(`once --timeout 2s, FIFO template: exit ${result.code} after ${seconds.toFixed(2)} s`);

    await removeDir(project.root);
    project = await makeProject({ config: fileBackend() + template('S={{secret \\"local:s\\"}}', '@OUT@/a') });
    mkfifo(project.secretsFile);
    const fromSource = await runCli(['once', '-c', project.config, '--timeout', '2s']);
    expect(fromSource.code, fromSource.stderr).toBe(6);
    expect(existsSync(join(project.out, 'a'))).toBe(false);
  });

  it('validate reports a template it cannot read in time (exit 2) instead of hanging', async () => {
    project = await makeProject({ config: sourceTemplate('@ROOT@/hung.tmpl', '@OUT@/a') });
    mkfifo(join(project.root, 'hung.tmpl'));
    const result = await runCli(['validate', '-c', project.config]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('SIDECAR_ERR_TEMPLATE_READ');
    expect(result.stderr).toContain('did not finish in time');
  });

  it('ends on SIGTERM while start is stuck reading a template', async () => {
    project = await makeProject({ config: sourceTemplate('@ROOT@/hung.tmpl', '@OUT@/a') });
    mkfifo(join(project.root, 'hung.tmpl'));
    daemon = new Daemon(['-c', project.config]);
    // Start is in the template read once the sidecar holds the FIFO open.
    const fifo = join(project.root, 'hung.tmpl');
    expect(await holdsOpen(daemon.child.pid ?? -1, fifo)).toBe(true);
    daemon.signal('SIGTERM');
    expect(await daemon.exited).toEqual({ code: 0, signal: null });
    // It did not wait for the read's deadline: that error was never reached.
    expect(daemon.stderr).not.toContain('SIDECAR_ERR_TEMPLATE_READ');
  });

  it('keeps writing and answering probes with five secret reads stuck, survives a stuck SIGHUP reload, and ends on SIGTERM', async () => {
    const port = await freePort();
    const stuck = [1, 2, 3, 4, 5].map((n) => template(`{{secret \\"pipes:s${n}\\"}}`, `@OUT@/stuck-${n}`)).join('');
    const config = `listener {\n  address = "127.0.0.1:${port}"\n}\n${fileBackend()}backend "file" "pipes" {\n  path = "@ROOT@/pipes"\n}\n${template('S={{secret \\"local:s\\"}}', '@OUT@/good')}${stuck}`;
    project = await makeProject({ config, secrets: { s: `${SECRET}-1` } });
    await mkdir(join(project.root, 'pipes'));
    for (const n of [1, 2, 3, 4, 5]) mkfifo(join(project.root, 'pipes', `s${n}`));
    daemon = new Daemon(['-c', project.config]);
    await daemon.waitFor((r) => r.msg === 'rendered' && r['destination'] === join(project?.out ?? '', 'good'));
    expect((await httpCall(port, 'GET', '/healthz')).status).toBe(200);
    // A secret change is written while the five reads wait on their pipes.
    const mark = daemon.mark;
    await writeFile(project.secretsFile, JSON.stringify({ s: `${SECRET}-2` }));
    await daemon.waitFor((r) => r.msg === 'rendered' && r['destination'] === join(project?.out ?? '', 'good'), mark);
    expect(readFileSync(join(project.out, 'good'), 'utf8')).toBe(`S=${SECRET}-2`);
    expect((await httpCall(port, 'GET', '/healthz')).status).toBe(200);

    // A reload whose new template hangs fails after the read deadline; the next SIGHUP works.
    const good = readFileSync(project.config, 'utf8');
    mkfifo(join(project.root, 'hung.tmpl'));
    await writeFile(project.config, good + sourceTemplate(join(project.root, 'hung.tmpl'), join(project.out, 'hung')));
    const beforeHup = daemon.mark;
    daemon.signal('SIGHUP');
    const failed = await daemon.waitFor((r) => r.msg === 'reload failed; keeping the running configuration', beforeHup);
    expect(JSON.stringify(failed)).toContain('SIDECAR_ERR_TEMPLATE_READ');
    await writeFile(project.config, good);
    const again = daemon.mark;
    daemon.signal('SIGHUP');
    await daemon.waitFor((r) => r.msg === 'configuration reloaded', again);

    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    expectNoSecrets(daemon.stderr, [`${SECRET}-1`, `${SECRET}-2`]);
  }, 60_000);
});

describe('blocked reads of regular files (a FUSE mount whose reads never answer, as a hung NFS mount)', () => {
  it('once --timeout 2s reports its timeout, then ends itself with SIGKILL since Node cannot exit past the stuck read', async () => {
    project = await makeProject({ config: sourceTemplate('@ROOT@/mnt/app.tmpl', '@OUT@/a') });
    hung = await HungMount.start(join(project.root, 'mnt'));
    const started = Date.now();
    const child = spawn(process.execPath, [CLI, 'once', '-c', project.config, '--timeout', '2s'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal })),
    );
    // Its last words: the timeout, then why it ends itself with a signal.
    await new Promise<void>((resolve) =>
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('"blockedReads"')) resolve();
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    // SIGKILL ended it, but a FUSE read the filesystem has taken cannot be interrupted: the process stays a zombie
    // until the mount answers or is aborted (an NFS read is killable and ends at once).
    await hung.stop();
    const final = await closed;
    console.info(`once --timeout 2s, template on a hung FUSE file: last words after ${seconds.toFixed(2)} s, ended by ${final.signal}`);
    expect(stderr).toContain('SIDECAR_ERR_TIMEOUT');
    expect(stderr).toMatch(/"blockedReads":1,"exitCode":6/);
    expect(final).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('with five reads stuck on regular files of five hung mounts, holds two pool threads, answers probes, writes, and ends on SIGTERM', async () => {
    const port = await freePort();
    const numbers = [1, 2, 3, 4, 5];
    const backends = numbers.map((n) => `backend "file" "hung${n}" {\n  path = "@ROOT@/mnt${n}"\n}\n`).join('');
    const stuck = numbers.map((n) => template(`{{secret \\"hung${n}:s\\"}}`, `@OUT@/stuck-${n}`)).join('');
    const config = `listener {\n  address = "127.0.0.1:${port}"\n}\n${backends}${template('static', '@OUT@/static')}${stuck}`;
    project = await makeProject({ config });
    for (const n of numbers) mounts.push(await HungMount.start(join(project.root, `mnt${n}`)));
    daemon = new Daemon(['-c', project.config]);
    const pid = daemon.child.pid ?? 0;
    const threadsInFuse = () =>
      readdirSync(`/proc/${pid}/task`).filter((task) => {
        try {
          return readFileSync(`/proc/${pid}/task/${task}/wchan`, 'utf8') === 'request_wait_answer';
        } catch {
          return false;
        }
      }).length;
    // Five reads asked for, more than libuv's four threads: two sit in the kernel, three wait for a slot.
    await expect.poll(threadsInFuse, { timeout: 5_000 }).toBe(2);
    await daemon.waitFor((r) => r.msg === 'rendered' && r['destination'] === join(project?.out ?? '', 'static'));
    expect(readFileSync(join(project.out, 'static'), 'utf8')).toBe('static');
    expect((await httpCall(port, 'GET', '/healthz')).status).toBe(200);
    // The waiting reads fail in time, coded and retried; the sidecar stays up and never takes a third thread.
    const timedOut = await daemon.waitFor((r) => JSON.stringify(r).includes('did not finish in time'));
    expect(JSON.stringify(timedOut)).toContain('SIDECAR_ERR_BACKEND_UNAVAILABLE');
    expect((await httpCall(port, 'GET', '/healthz')).status).toBe(200);
    expect(threadsInFuse()).toBe(2);
    daemon.signal('SIGTERM');
    const last = await daemon.waitFor((r) => r['blockedReads'] !== undefined);
    expect(last['exitCode']).toBe(0);
    for (const mount of mounts.splice(0)) await mount.stop();
    expect(await daemon.exited).toEqual({ code: null, signal: 'SIGKILL' });
  }, 60_000);
});

describe('permanent errors in local sources fail `once` at once (exit 3), not after its timeout', () => {
  const cases: [string, (p: Project) => Promise<void>, string][] = [
    ['a secret file that is a directory', async (p) => void (await mkdir(join(p.root, 'dir', 'tls.key'), { recursive: true })), 'is a directory'],
    ['a malformed JSON secrets file', async (p) => writeFile(join(p.root, 'dir', 'doc.json'), '{"s": 1,,}'), 'not valid JSON (line 1, column 9)'],
    ['a malformed YAML secrets file', async (p) => writeFile(join(p.root, 'dir', 'doc.yaml'), 's: 1\nt: 2\ns: 3\n'), 'not valid YAML (line 3, column 1)'],
  ];
  for (const [name, plant, message] of cases) {
    it(name, async () => {
      const ref = name.includes('directory') ? 'files:tls.key' : name.includes('JSON') ? 'files:doc.json#s' : 'files:doc.yaml#s';
      project = await makeProject({ config: `backend "file" "files" {\n  path = "@ROOT@/dir"\n}\n${template(`{{secret \\"${ref}\\"}}`, '@OUT@/a')}` });
      await mkdir(join(project.root, 'dir'), { recursive: true });
      await plant(project);
      const result = await runCli(['once', '-c', project.config, '--timeout', '60s']);
      expect(result.code, result.stderr).toBe(3);
      expect(result.stderr).toContain('SIDECAR_ERR_BACKEND_MALFORMED');
      expect(result.stderr).toContain(message);
    });
  }

  it('an ejson path that is a directory', async () => {
    project = await makeProject({
      config: `backend "ejson" "repo" {\n  path = "@ROOT@/secrets.ejson"\n  key_dir = "@ROOT@/keys"\n}\n${template('{{secret \\"repo:a\\"}}', '@OUT@/a')}`,
    });
    await mkdir(join(project.root, 'secrets.ejson'));
    const result = await runCli(['once', '-c', project.config, '--timeout', '60s']);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain('EISDIR');
  });
});

describe('destinations', () => {
  it('reports a statfs failure on a destination as a coded error with its path (exit 5, not 1)', async () => {
    const long = 'd'.repeat(300);
    project = await makeProject({ config: fileBackend() + template('{{secret \\"local:s\\"}}', `@OUT@/${long}/a`), secrets: { s: SECRET } });
    // `out` exists, so statfs fails on the long name itself rather than on a missing parent.
    await mkdir(project.out);
    const result = await runCli(['once', '-c', project.config]);
    expect(result.code, result.stderr).toBe(5);
    expect(result.stderr).toContain('SIDECAR_ERR_OUTPUT_WRITE');
    expect(result.stderr).toContain('ENAMETOOLONG from statfs');
    expect(result.stderr).toContain(`${long}`);
  });

  it('with strict, refuses writes into a directory swapped for a symlink while running, keeps running, and writes again once restored', async () => {
    const disk = await makeDiskDir();
    extraDirs.push(disk);
    project = await makeProject({
      config: `strict = true\n${fileBackend()}${template('S={{secret \\"local:s\\"}}', '@OUT@/a')}`,
      secrets: { s: `${SECRET}-1` },
    });
    daemon = new Daemon(['-c', project.config]);
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    renameSync(project.out, `${project.out}.away`);
    await symlink(disk, project.out);
    const mark = daemon.mark;
    await writeFile(project.secretsFile, JSON.stringify({ s: `${SECRET}-2` }));
    const refused = await daemon.waitFor((r) => r.msg === 'write failed; retrying', mark);
    expect(JSON.stringify(refused)).toContain('SIDECAR_ERR_OUTPUT_UNSAFE_DIR');
    expect(readdirSync(disk)).toEqual([]);
    expect(daemon.child.exitCode).toBeNull();
    renameSync(project.out, `${project.out}.link`);
    renameSync(`${project.out}.away`, project.out);
    await daemon.waitFor((r) => r.msg === 'rendered' && r['outcome'] === 'written', mark);
    expect(readFileSync(join(project.out, 'a'), 'utf8')).toBe(`S=${SECRET}-2`);
    expect(readdirSync(disk)).toEqual([]);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    expectNoSecrets(daemon.stderr, [`${SECRET}-1`, `${SECRET}-2`]);
  });

  it('lands nothing off tmpfs and does not exit while an app swaps the directory for a link to disk in a loop during writes', async () => {
    const disk = await makeDiskDir();
    extraDirs.push(disk);
    // create_dest_dirs = false: the sidecar must not recreate `out` in the instant the swap leaves it missing.
    const files = [1, 2, 3, 4].map((n) => template(`{{secret \\"local:s\\"}}-${n}`, `@OUT@/f${n}`, '  create_dest_dirs = false\n')).join('');
    project = await makeProject({ config: fileBackend('@ROOT@/source/secrets.json') + files });
    const secretsFile = join(project.root, 'source', 'secrets.json');
    await mkdir(join(project.root, 'source'));
    await writeFile(secretsFile, JSON.stringify({ s: `${SECRET}-0` }));
    await mkdir(project.out, { mode: 0o700 });
    daemon = new Daemon(['-c', project.config]);
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    await symlink(disk, `${project.out}.link`);
    const out = project.out;
    const isLink = () => lstatSync(out).isSymbolicLink();
    const flip = () => {
      if (isLink()) {
        renameSync(out, `${out}.link`);
        renameSync(`${out}.away`, out);
      } else {
        renameSync(out, `${out}.away`);
        renameSync(`${out}.link`, out);
      }
    };
    // The "app": a swap every turn of its loop, while the sidecar re-renders on every secret change.
    let swapping = true;
    let swaps = 0;
    const swapLoop = () => {
      if (!swapping) return;
      flip();
      swaps++;
      setImmediate(swapLoop);
    };
    setImmediate(swapLoop);
    for (let i = 1; i <= 30; i++) {
      const mark = daemon.mark;
      await writeFile(secretsFile, JSON.stringify({ s: `${SECRET}-${i}` }));
      await daemon.waitFor((r) => (r.msg === 'rendered' && r['outcome'] === 'written') || r.msg === 'write failed; retrying', mark);
    }
    swapping = false;
    if (isLink()) flip();
    expect(swaps).toBeGreaterThan(100);
    expect(readdirSync(disk)).toEqual([]);
    expect(daemon.child.exitCode).toBeNull();
    // Restored, the last value arrives (the retries of refused writes, or the next change).
    const last = `${SECRET}-last`;
    await writeFile(secretsFile, JSON.stringify({ s: last }));
    await expect.poll(() => readFile(join(out, 'f4'), 'utf8').catch(() => ''), { timeout: 20_000 }).toBe(`${last}-4`);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  }, 60_000);
});

describe('once ended by a signal in the middle of a write', () => {
  it('lets the write finish or removes its temp file, keeps the old file whole, and exits 143 on SIGTERM', async () => {
    // 4 x 15 MB: a write long enough to be caught between its temp file and its rename.
    const big = `${SECRET}-${'y'.repeat(15_000_000)}`;
    const ref = '{{secret \\"local:s\\"}}';
    project = await makeProject({ config: fileBackend() + template(ref.repeat(4), '@OUT@/big', '  max_size = 67108864\n') });
    await writeFile(project.secretsFile, JSON.stringify({ s: big }));
    const destination = join(project.out, 'big');
    await mkdir(project.out, { recursive: true });
    let caught = 0;
    for (let attempt = 0; attempt < 8 && caught < 2; attempt++) {
      await writeFile(destination, 'old', { mode: 0o600 });
      const child = spawn(process.execPath, [CLI, 'once', '-c', project.config], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const closed = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
      let seen = false;
      let running = true;
      void closed.then(() => (running = false));
      for (let polls = 0; polls < 200_000 && running && !seen; polls++) {
        seen = readdirSync(project.out).some((entry) => entry.includes('.sidecar-tmp-'));
        if (!seen) await new Promise((resolve) => setImmediate(resolve));
      }
      if (seen) child.kill('SIGTERM');
      const end = await closed;
      expect(readdirSync(project.out)).toEqual(['big']);
      const size = statSync(destination).size;
      expect([3, big.length * 4]).toContain(size);
      expectNoSecrets(stderr, [SECRET]);
      if (!seen) continue;
      caught++;
      // The signal may land just after the rename: then the write is whole and the run ends 0 or 143.
      expect(end.signal, stderr).toBeNull();
      expect([0, 143]).toContain(end.code);
    }
    expect(caught, 'a write should have been caught in the middle').toBeGreaterThan(0);
  }, 120_000);
});

describe('binary files in a secret directory', () => {
  it('writes a keystore from a Kubernetes-style secret volume byte for byte', async () => {
    project = await makeProject({
      config: `backend "file" "files" {\n  path = "@ROOT@/volume"\n}\n${template('{{secret \\"files:keystore.p12\\"}}', '@OUT@/keystore.p12')}`,
    });
    // Not UTF-8: a PKCS#12 header, then bytes that decode to replacement characters.
    const keystore = Buffer.concat([Buffer.from([0x30, 0x82, 0xff, 0xfe, 0xc3, 0x28]), Buffer.alloc(2000, 0xa0)]);
    await mkdir(join(project.root, 'volume'));
    await writeFile(join(project.root, 'volume', 'keystore.p12'), keystore);
    const result = await runCli(['once', '-c', project.config]);
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(join(project.out, 'keystore.p12')).equals(keystore)).toBe(true);
  });
});

describe('ejson keygen into a key directory it cannot use', () => {
  it('fails with a coded error (exit 5, not 1) and prints no private key when the key directory is a file or read-only', async () => {
    project = await makeProject({ config: '' });
    await writeFile(join(project.root, 'not-a-dir'), 'x');
    const readOnly = join(project.root, 'read-only');
    await mkdir(readOnly);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', readOnly]);
    try {
      for (const keyDir of [join(project.root, 'not-a-dir', 'keys'), readOnly]) {
        const result = await runCli(['ejson', 'keygen', '--write', '--keydir', keyDir]);
        expect(result.code, result.stderr).toBe(5);
        expect(result.stderr).toContain('SIDECAR_ERR_OUTPUT_WRITE');
        expect(result.stderr).toContain(keyDir);
        expect(result.stdout + result.stderr).not.toMatch(/[0-9a-f]{64}/);
      }
    } finally {
      execFileSync('umount', [readOnly]);
    }
  });
});

describe('ejson encrypt on a symlink', () => {
  it('encrypts the file the link points to, in place, and keeps the link', async () => {
    project = await makeProject({ config: '' });
    const keygen = await runCli(['ejson', 'keygen']);
    const publicKey = /Public Key:\n([0-9a-f]{64})/.exec(keygen.stdout)?.[1] ?? '';
    await mkdir(join(project.root, 'real'));
    const real = join(project.root, 'real', 'secrets.ejson');
    await writeFile(real, JSON.stringify({ _public_key: publicKey, password: SECRET }, null, 2), { mode: 0o640 });
    const link = join(project.root, 'secrets.ejson');
    await symlink(real, link);
    const result = await runCli(['ejson', 'encrypt', link]);
    expect(result.code, result.stderr).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    const text = readFileSync(real, 'utf8');
    expect(text).not.toContain(SECRET);
    expect(JSON.parse(text)).toMatchObject({ _public_key: publicKey, password: expect.stringMatching(/^EJ\[1:/) as unknown });
    expect(lstatSync(real).mode & 0o777).toBe(0o640);
    expect(readdirSync(join(project.root, 'real'))).toEqual(['secrets.ejson']);
  });

  it("keeps the file's owner and group when root encrypts another user's file", async () => {
    project = await makeProject({ config: '' });
    const keygen = await runCli(['ejson', 'keygen']);
    const publicKey = /Public Key:\n([0-9a-f]{64})/.exec(keygen.stdout)?.[1] ?? '';
    const file = join(project.root, 'secrets.ejson');
    await writeFile(file, JSON.stringify({ _public_key: publicKey, password: SECRET }), { mode: 0o640 });
    await chown(file, 65534, 65534);
    const result = await runCli(['ejson', 'encrypt', file]);
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(file, 'utf8')).not.toContain(SECRET);
    expect(statSync(file)).toMatchObject({ uid: 65534, gid: 65534 });
    expect(statSync(file).mode & 0o7777).toBe(0o640);
  });

  it('refuses (exit 2, nothing written) a file with a second hard link, which would keep the plain text', async () => {
    project = await makeProject({ config: '' });
    const keygen = await runCli(['ejson', 'keygen']);
    const publicKey = /Public Key:\n([0-9a-f]{64})/.exec(keygen.stdout)?.[1] ?? '';
    const real = join(project.root, 'secrets.ejson');
    const plain = JSON.stringify({ _public_key: publicKey, password: SECRET });
    await writeFile(real, plain);
    linkSync(real, join(project.root, 'other-name.ejson'));
    // A link to a link to the hard-linked file: followed to the end, and refused there too.
    await symlink(real, join(project.root, 'hop.ejson'));
    await symlink(join(project.root, 'hop.ejson'), join(project.root, 'link.ejson'));
    for (const name of ['secrets.ejson', 'link.ejson']) {
      const result = await runCli(['ejson', 'encrypt', join(project.root, name)]);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain('SIDECAR_ERR_USAGE');
      expect(result.stderr).toContain('hard links');
      expectNoSecrets(result.stdout + result.stderr, [SECRET]);
    }
    expect(readFileSync(real, 'utf8')).toBe(plain);
    expect(statSync(real).nlink).toBe(2);
  });
});

/** Polls /proc until process `pid` has `path` open (bounded: 10 s); the read it starts there is what the test needs. */
async function holdsOpen(pid: number, path: string): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    try {
      if (readdirSync(`/proc/${pid}/fd`).some((fd) => readlinkSafe(`/proc/${pid}/fd/${fd}`) === path)) return true;
    } catch {
      // not started yet, or gone
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

function readlinkSafe(link: string): string | undefined {
  try {
    return readlinkSync(link);
  } catch {
    return undefined;
  }
}
