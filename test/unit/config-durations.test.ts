import { describe, expect, it } from 'vitest';
import { DURATION_BOUNDS, parseBoundedDuration, parseDuration } from '../../src/config/duration.js';
import { parseConfig } from '../../src/config/load-config.js';
import { configError as loadError } from '../support/config-error.js';

const FILE = '/etc/sidecar/sidecar.hcl';

const configError = (source: string, file = FILE) => loadError(source, file);

/** Each duration option in a minimal config, its value at line 2 or 3 as `@`, and where the value starts. */
const OPTIONS: readonly { option: string; path: string; config: string; column: number; min: string; max: string; tooLow?: string; tooHigh: string }[] = [
  { option: 'wait.min', path: 'wait.min', config: 'wait {\n  min = "@"\n}\n', column: 9, min: '0s', max: '1h', tooHigh: '1h1ms' },
  { option: 'wait.max', path: 'wait.max', config: 'wait {\n  max = "@"\n}\n', column: 9, min: '0s', max: '1h', tooHigh: '600h' },
  {
    option: 'template wait.max',
    path: 'template[0].wait.max',
    config: 'template {\n  contents = "x"\n  destination = "/dev/shm/x"\n  wait {\n    max = "@"\n  }\n}\n',
    column: 11,
    min: '0s',
    max: '1h',
    tooHigh: '2h',
  },
  {
    option: 'retry.backoff',
    path: 'retry.backoff',
    config: 'retry {\n  backoff = "@"\n}\n',
    column: 13,
    min: '10ms',
    max: '1h',
    tooLow: '0',
    tooHigh: '87600h',
  },
  {
    option: 'retry.max_backoff',
    path: 'retry.max_backoff',
    config: 'retry {\n  max_backoff = "@"\n  backoff = "10ms"\n}\n',
    column: 17,
    min: '100ms',
    max: '1h',
    tooLow: '99ms',
    tooHigh: '87600h',
  },
  {
    option: 'file poll_interval',
    path: 'backend.file.f.poll_interval',
    config: 'backend "file" "f" {\n  path = "/s.json"\n  poll_interval = "@"\n}\n',
    column: 19,
    min: '100ms',
    max: '1h',
    tooLow: '0',
    tooHigh: '1200h',
  },
  {
    option: 'ejson poll_interval',
    path: 'backend.ejson.e.poll_interval',
    config: 'backend "ejson" "e" {\n  path = "/s.ejson"\n  poll_interval = "@"\n}\n',
    column: 19,
    min: '100ms',
    max: '1h',
    tooLow: '50ms',
    tooHigh: '2h',
  },
  {
    option: 'vault request_timeout',
    path: 'backend.vault.v.request_timeout',
    config: 'backend "vault" "v" {\n  request_timeout = "@"\n}\n',
    column: 21,
    min: '100ms',
    max: '10m',
    tooLow: '0',
    tooHigh: '600h',
  },
  {
    option: 'vault static_refresh_interval',
    path: 'backend.vault.v.static_refresh_interval',
    config: 'backend "vault" "v" {\n  static_refresh_interval = "@"\n}\n',
    column: 29,
    min: '100ms',
    max: '8760h',
    tooLow: '0',
    tooHigh: '87600h',
  },
  {
    option: 'vault rotation_margin',
    path: 'backend.vault.v.rotation_margin',
    config: 'backend "vault" "v" {\n  rotation_margin = "@"\n}\n',
    column: 21,
    min: '0s',
    max: '8760h',
    tooHigh: '8761h',
  },
  {
    option: 'aws refresh_interval',
    path: 'backend.aws_ssm.a.refresh_interval',
    config: 'backend "aws_ssm" "a" {\n  refresh_interval = "@"\n}\n',
    column: 22,
    min: '100ms',
    max: '8760h',
    tooLow: '0',
    tooHigh: '99999h',
  },
  {
    option: 'azure refresh_interval',
    path: 'backend.azure_key_vault.z.refresh_interval',
    config: 'backend "azure_key_vault" "z" {\n  refresh_interval = "@"\n  vault_url = "https://z.vault.azure.net"\n}\n',
    column: 22,
    min: '100ms',
    max: '8760h',
    tooLow: '0',
    tooHigh: '99999h',
  },
  {
    option: 'listener readiness_grace',
    path: 'listener.readiness_grace',
    config: 'listener {\n  readiness_grace = "@"\n  address = "127.0.0.1:9102"\n}\n',
    column: 21,
    min: '0s',
    max: '8760h',
    tooHigh: '9000h',
  },
  {
    option: 'exec kill_timeout',
    path: 'exec.kill_timeout',
    config: 'exec {\n  kill_timeout = "@"\n  command = ["a"]\n}\n',
    column: 18,
    min: '0s',
    max: '1h',
    tooHigh: '600h',
  },
  { option: 'exec splay', path: 'exec.splay', config: 'exec {\n  splay = "@"\n  command = ["a"]\n}\n', column: 11, min: '0s', max: '1h', tooHigh: '25h' },
  {
    option: 'notify command timeout',
    path: 'notify.c.timeout',
    config: 'notify "c" {\n  timeout = "@"\n  command = ["a"]\n}\n',
    column: 13,
    min: '10ms',
    max: '1h',
    tooLow: '0',
    tooHigh: '600h',
  },
  {
    option: 'notify http timeout',
    path: 'notify.h.http.timeout',
    config: 'notify "h" {\n  http {\n    timeout = "@"\n    url = "http://127.0.0.1:9090/"\n  }\n}\n',
    column: 15,
    min: '10ms',
    max: '5m',
    tooLow: '1ms',
    tooHigh: '600h',
  },
];

const line = (config: string) => config.split('\n').findIndex((l) => l.includes('"@"')) + 1;

describe('duration bounds', () => {
  for (const o of OPTIONS) {
    it(`${o.option} takes ${o.min} to ${o.max}; past it, a located error names the bound`, async () => {
      await expect(parseConfig(o.config.replace('@', o.min), FILE)).resolves.toBeDefined();
      await expect(parseConfig(o.config.replace('@', o.max), FILE)).resolves.toBeDefined();
      const where = `${FILE}:${line(o.config)}:${o.column}: ${o.path}: `;
      const high = await configError(o.config.replace('@', o.tooHigh));
      expect(high.code).toBe('SIDECAR_ERR_CONFIG_INVALID');
      expect(high.message).toContain(`${where}must be at most ${o.max} (`);
      if (o.tooLow !== undefined) expect((await configError(o.config.replace('@', o.tooLow))).message).toContain(`${where}must be at least ${o.min} (`);
    });
  }

  it('refuses a duration too long for a Number (Infinity), not a timer that never fires', async () => {
    expect(parseDuration(`${'9'.repeat(400)}h`)).toBe(Infinity);
    const error = await configError(`exec {\n  command = ["a"]\n  kill_timeout = "${'9'.repeat(400)}h"\n}\n`);
    expect(error.message).toContain(`${FILE}:3:18: exec.kill_timeout: must be at most 1h (`);
  });

  it('bounds max_size too: a petabyte is not a cap on what is held in memory', async () => {
    const config = (size: string) => `template {\n  contents = "x"\n  destination = "/dev/shm/x"\n  max_size = ${size}\n}\n`;
    expect((await parseConfig(config('67108864'), FILE)).templates[0]?.maxBytes).toBe(64 * 1024 * 1024);
    expect((await configError(config('67108865'))).message).toContain('max_size is at most 67108864');
    expect((await configError(config('1000000000000000'))).message).toBe(`${FILE}:4:14: template[0].max_size: max_size is at most 67108864 (64 MiB)`);
  });

  it('refuses max_backoff shorter than backoff, and raises an unset cap to the first delay', async () => {
    expect((await configError('retry {\n  backoff = "2s"\n  max_backoff = "1s"\n}\n')).message).toBe(
      `${FILE}:3:17: retry.max_backoff: max_backoff (1s) is shorter than backoff (2s)`,
    );
    // Unset, the cap is at least the first delay (default 1m).
    expect((await parseConfig('retry {\n  backoff = "2m"\n}\n', FILE)).retry).toMatchObject({ backoffMs: 120_000, maxBackoffMs: 120_000 });
  });

  it('bounds the CLI --timeout through parseBoundedDuration: 600h works now that timers are safe, Infinity does not', () => {
    expect(parseBoundedDuration('600h', DURATION_BOUNDS.onceTimeout)).toEqual({ ms: 600 * 3_600_000 });
    expect(parseBoundedDuration('0', DURATION_BOUNDS.onceTimeout)).toEqual({ error: expect.stringMatching(/^must be at least 1ms/) as unknown });
    expect(parseBoundedDuration(`${'9'.repeat(400)}h`, DURATION_BOUNDS.onceTimeout)).toEqual({
      error: expect.stringMatching(/^must be at most 8760h/) as unknown,
    });
    expect(parseBoundedDuration('ten minutes', DURATION_BOUNDS.onceTimeout)).toEqual({ error: expect.stringMatching(/^not a duration/) as unknown });
  });
});
