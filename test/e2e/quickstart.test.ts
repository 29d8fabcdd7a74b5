import { readFileSync, statSync, statfsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { expectNoSecrets } from '../support/leaks.js';

const OUT = '/dev/shm/secrets-sidecar-quickstart';

afterEach(async () => {
  await rm(OUT, { recursive: true, force: true });
});

describe('README quickstart', () => {
  it('renders examples/quickstart into a tmpfs directory and exits 0', async () => {
    await rm(OUT, { recursive: true, force: true });
    const result = await runCli(['once', '-c', 'examples/quickstart/sidecar.hcl']);
    expect(result.code).toBe(0);
    expect(statfsSync(OUT).type).toBe(0x01021994);
    const env = readFileSync(join(OUT, 'app.env'), 'utf8');
    expect(env).toContain('DATABASE_URL=postgres://app:quickstart-not-a-real-password@db.internal:5432/app');
    expect(JSON.parse(readFileSync(join(OUT, 'database.json'), 'utf8'))).toMatchObject({ user: 'app', port: 5432 });
    expect(statSync(join(OUT, 'app.env')).mode & 0o777).toBe(0o600);
    expectNoSecrets(result.stderr, ['quickstart-not-a-real-password', 'qs-4f1c2e9b7a']);
  });
});
