import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, runCli } from '../support/cli.js';
import { removeDir } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { AWS_TEST_ENV, awsCall, motoClientConfig, startMoto, type Moto } from '../support/moto.js';
import { makeProject, type Project } from '../support/project.js';

let moto: Moto;
let ssm: SSMClient;
let project: Project | undefined;
let daemon: Daemon | undefined;

beforeAll(async () => {
  moto = await startMoto();
  ssm = new SSMClient(motoClientConfig(moto));
  const put = (Name: string, Value: string, Type: 'String' | 'SecureString') => ssm.send(new PutParameterCommand({ Name, Value, Type, Overwrite: true }));
  await put('/app/db/user', 'app', 'String');
  await put('/app/db/password', 'ssm-db-pw-8d8d', 'SecureString');
  await put('/app/db/replica/host', 'replica.internal', 'String');
  await put('/app/feature', 'on', 'String');
});
afterAll(async () => {
  ssm?.destroy();
  await moto?.stop();
});
afterEach(async () => {
  await daemon?.stop();
  await removeDir(project?.root);
  daemon = project = undefined;
});

function config(templates: string, extra = ''): string {
  return `backend "aws_ssm" "params" {\n  endpoint = "${moto.endpoint}"\n  ${extra}\n}\n${templates}`;
}

describe('AWS SSM Parameter Store backend against moto', () => {
  it('renders a parameter, a decrypted SecureString, and a path prefix as a nested object, batching single reads', async () => {
    project = await makeProject({
      config: config(
        `template {\n  contents = "pw={{secret \\"params:/app/db/password\\"}}\\nfeature={{secret \\"params:/app/feature\\"}}\\ndb={{json (secret \\"params:/app/db/\\")}}\\nuser={{secret \\"params:/app/db/#user\\"}}\\n"\n  destination = "@OUT@/ssm.env"\n}\n`,
      ),
    });
    const result = await runCli(['once', '-c', project.config, '--log-level', 'debug'], { env: AWS_TEST_ENV });
    expect(result.code, result.stderr.slice(-1500)).toBe(0);
    const lines = readFileSync(join(project.out, 'ssm.env'), 'utf8').split('\n');
    expect(lines[0]).toBe('pw=ssm-db-pw-8d8d');
    expect(lines[1]).toBe('feature=on');
    expect(JSON.parse(lines[2]?.slice(3) ?? '')).toEqual({ user: 'app', password: 'ssm-db-pw-8d8d', replica: { host: 'replica.internal' } });
    expect(lines[3]).toBe('user=app');
    const operations = result.stderr
      .split('\n')
      .filter((l) => l.includes('"msg":"aws call"'))
      .map((l) => (JSON.parse(l) as { operation: string }).operation);
    // The two single parameters share one GetParameters call; the prefix is one GetParametersByPath.
    expect(operations.filter((o) => o === 'GetParametersCommand')).toHaveLength(1);
    expect(operations.filter((o) => o === 'GetParametersByPathCommand')).toHaveLength(1);
    expectNoSecrets(result.stderr, ['ssm-db-pw-8d8d', AWS_TEST_ENV.AWS_SECRET_ACCESS_KEY]);
  });

  it('re-renders when a parameter gets a new version', async () => {
    await ssm.send(new PutParameterCommand({ Name: '/rotating/key', Value: 'ssm-rot-v1-9e9e', Type: 'SecureString', Overwrite: true }));
    project = await makeProject({
      config: config(`template {\n  contents = "{{secret \\"params:/rotating/key\\"}}"\n  destination = "@OUT@/key"\n}\n`, 'refresh_interval = "300ms"'),
    });
    daemon = new Daemon(['-c', project.config, '--log-level', 'debug'], { env: AWS_TEST_ENV });
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    await daemon.waitFor(awsCall('GetParametersCommand'), daemon.mark);
    const mark = daemon.mark;
    await ssm.send(new PutParameterCommand({ Name: '/rotating/key', Value: 'ssm-rot-v2-0f0f', Type: 'SecureString', Overwrite: true }));
    await daemon.waitFor((r) => r.msg === 'rendered' && r['outcome'] === 'written', mark);
    expect(readFileSync(join(project.out, 'key'), 'utf8')).toBe('ssm-rot-v2-0f0f');
    expect((await daemon.stop()).code).toBe(0);
    expect(daemon.count((r) => r.msg === 'rendered' && r['outcome'] === 'written', mark)).toBe(1);
    expectNoSecrets(daemon.stderr, ['ssm-rot-v1-9e9e', 'ssm-rot-v2-0f0f', AWS_TEST_ENV.AWS_SECRET_ACCESS_KEY]);
  });

  it('fails once with exit 3 naming the reference of a missing parameter', async () => {
    project = await makeProject({
      config: config(`template {\n  contents = "{{secret \\"params:/app/feature\\"}}{{secret \\"params:/app/nothing\\"}}"\n  destination = "@OUT@/x"\n}\n`),
    });
    const result = await runCli(['once', '-c', project.config], { env: AWS_TEST_ENV });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('secret \\"params:/app/nothing\\": backend \\"params\\": parameter /app/nothing not found');
  });
});
