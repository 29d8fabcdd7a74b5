import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/dirs.js';

const DOCKERFILE = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const HADOLINT = join(REPO_ROOT, '.cache', 'hadolint', 'bin', 'hadolint');
// Logical lines: continuation backslashes joined, comments dropped.
const INSTRUCTIONS = DOCKERFILE.replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

describe('Dockerfile (checked statically: no Docker engine runs here)', () => {
  it('passes hadolint', () => {
    expect(existsSync(HADOLINT), `hadolint is missing at ${HADOLINT}: run test/infra/install-test-tools.sh (npm test does)`).toBe(true);
    const result = spawnSync(HADOLINT, ['--no-color', join(REPO_ROOT, 'Dockerfile')], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('is multi-stage, on a supported Node LTS, non-root, with an init as PID 1 and the output directory declared', () => {
    const froms = INSTRUCTIONS.filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    const image = /ARG NODE_IMAGE=node:(\d+)\./.exec(DOCKERFILE);
    expect(Number(image?.[1])).toBeGreaterThanOrEqual(22);
    expect(Number(image?.[1]) % 2).toBe(0); // even majors are the LTS lines
    const finalStage = INSTRUCTIONS.slice(INSTRUCTIONS.lastIndexOf(froms[froms.length - 1] ?? ''));
    const user = finalStage.filter((l) => l.startsWith('USER ')).pop();
    expect(user).toMatch(/^USER [1-9]\d*:[1-9]\d*$/);
    expect(finalStage.find((l) => l.startsWith('ENTRYPOINT '))).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--"/);
    expect(finalStage.find((l) => l.startsWith('VOLUME '))).toContain('/run/secrets-sidecar');
  });

  it('builds the start-up snapshot in a stage of its own from the image it runs in, and starts from it with the flags it was built with', () => {
    const froms = INSTRUCTIONS.filter((l) => l.startsWith('FROM '));
    // V8 loads a snapshot only in the Node binary that made it: both stages from the same image.
    expect(froms).toContain('FROM ${NODE_IMAGE} AS snapshot');
    expect(froms[froms.length - 1]).toBe('FROM ${NODE_IMAGE}');
    const snapshotStage = INSTRUCTIONS.slice(INSTRUCTIONS.indexOf('FROM ${NODE_IMAGE} AS snapshot'), INSTRUCTIONS.lastIndexOf('FROM ${NODE_IMAGE}'));
    // Made where it runs (/app), so the paths it derives from its own location hold.
    expect(snapshotStage).toContain('WORKDIR /app');
    expect(snapshotStage).toContain('RUN node scripts/build-snapshot.mjs');
    const finalStage = INSTRUCTIONS.slice(INSTRUCTIONS.lastIndexOf('FROM ${NODE_IMAGE}'));
    expect(finalStage).toContain('COPY --from=snapshot /app/dist ./dist');
    const entrypoint = JSON.parse(finalStage.find((l) => l.startsWith('ENTRYPOINT '))?.slice('ENTRYPOINT '.length) ?? '[]') as string[];
    const flags = JSON.parse(readFileSync(join(REPO_ROOT, 'scripts', 'node-flags.json'), 'utf8')) as string[];
    expect(entrypoint).toEqual(['/usr/bin/tini', '--', 'node', ...flags, '--snapshot-blob', '/app/dist/snapshot/sidecar.blob', '--']);
  });

  it("pins tini to the version Debian bookworm (the image's base) ships", () => {
    // This machine runs the same Debian release; test/infra installs tini from it.
    const installed = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'tini'], { encoding: 'utf8' });
    expect(installed.status, 'tini is installed by test/infra/install-test-tools.sh').toBe(0);
    expect(readFileSync('/etc/os-release', 'utf8')).toContain('VERSION_CODENAME=bookworm');
    expect(DOCKERFILE).toContain(`tini=${installed.stdout.trim()} `);
    expect(DOCKERFILE).toMatch(/^ARG NODE_IMAGE=node:[\d.]+-bookworm-slim$/m);
  });

  it('puts no secret, token or credential into any layer', () => {
    for (const line of INSTRUCTIONS.filter((l) => /^(ENV|ARG|LABEL) /.test(l))) {
      expect(line).not.toMatch(/TOKEN|SECRET|PASSWORD|CREDENTIAL|API_KEY|ROLE_ID/i);
    }
    for (const line of INSTRUCTIONS.filter((l) => /^(COPY|ADD) /.test(l))) {
      expect(line).not.toMatch(/\.env\b|secrets?\.(json|ya?ml)|\.pem|\.key\b|examples/);
    }
    const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['.git', 'node_modules', 'test', 'examples']) expect(ignored).toContain(entry);
  });
});
