import { describe, expect, it } from 'vitest';
import { SIDECAR_CREDENTIAL_ENV } from '../../src/config/credential-env.js';
import { parseConfig } from '../../src/config/load-config.js';
import { childEnvironment } from '../../src/reload/child-env.js';
import { exitStatus } from '../../src/reload/child-supervisor.js';

const SIDECAR_ENV = {
  PATH: '/usr/bin',
  HOME: '/home/app',
  VAULT_TOKEN: 'hvs.x',
  AWS_REGION: 'eu-west-1',
  AWS_SECRET_ACCESS_KEY: 'k',
  AZURE_CLIENT_SECRET: 's',
  IDENTITY_HEADER: 'h',
  APP_MODE: 'prod',
};
const policy = (extra: { pristine?: boolean; allow?: string[]; deny?: string[] } = {}) => ({
  pristine: extra.pristine ?? false,
  allow: extra.allow ?? [],
  deny: [...SIDECAR_CREDENTIAL_ENV, ...(extra.deny ?? [])],
});

describe('child environment', () => {
  it("passes the sidecar's environment without its credentials", () => {
    expect(childEnvironment(SIDECAR_ENV, policy(), new Map())).toEqual({ PATH: '/usr/bin', HOME: '/home/app', APP_MODE: 'prod' });
  });

  it('narrows to allow, lets an exact allow name through the deny list but not a broad prefix, and applies extra deny', () => {
    expect(childEnvironment(SIDECAR_ENV, policy({ allow: ['PATH', 'AWS_*', 'AWS_REGION'] }), new Map())).toEqual({ PATH: '/usr/bin', AWS_REGION: 'eu-west-1' });
    expect(childEnvironment(SIDECAR_ENV, policy({ deny: ['APP_*'] }), new Map())).toEqual({ PATH: '/usr/bin', HOME: '/home/app' });
  });

  it('keeps KUBECONFIG and every pointer at the service-account token from the child, unless allow names it exactly', () => {
    const env = {
      PATH: '/usr/bin',
      KUBECONFIG: '/etc/kube/config',
      SECRETS_SIDECAR_SERVICE_ACCOUNT_DIR: '/tmp/sa',
      TOKEN_PATH: '/var/run/secrets/kubernetes.io/serviceaccount/token',
      SA_DIR: '/run/secrets/kubernetes.io/serviceaccount',
      JAVA_OPTS: '-Dtoken=/var/run/secrets/kubernetes.io/serviceaccount/token',
      KUBERNETES_SERVICE_HOST: '10.0.0.1',
      NOT_A_POINTER: '/var/run/secrets/kubernetes.io/serviceaccountant',
    };
    expect(childEnvironment(env, policy(), new Map())).toEqual({ PATH: '/usr/bin', KUBERNETES_SERVICE_HOST: '10.0.0.1', NOT_A_POINTER: env.NOT_A_POINTER });
    expect(childEnvironment(env, policy({ allow: ['TOKEN_PATH', 'PATH', '*'] }), new Map())).toEqual({
      PATH: '/usr/bin',
      TOKEN_PATH: env.TOKEN_PATH,
      KUBERNETES_SERVICE_HOST: '10.0.0.1',
      NOT_A_POINTER: env.NOT_A_POINTER,
    });
  });

  it('starts empty when pristine, and rendered values always win', () => {
    const rendered = new Map([
      ['DB_PASSWORD', 'pw'],
      ['PATH', '/opt/bin'],
    ]);
    expect(childEnvironment(SIDECAR_ENV, policy({ pristine: true }), rendered)).toEqual({ DB_PASSWORD: 'pw', PATH: '/opt/bin' });
    expect(childEnvironment(SIDECAR_ENV, policy(), rendered)['PATH']).toBe('/opt/bin');
  });

  it('reports a signal death the way a shell does', () => {
    expect(exitStatus({ code: 3, signal: null })).toBe(3);
    expect(exitStatus({ code: null, signal: 'SIGKILL' })).toBe(137);
    expect(exitStatus({ code: null, signal: 'SIGTERM' })).toBe(143);
  });
});

describe('exec and notify config', () => {
  const execBlock = 'exec {\n  command = ["app"]\n}\n';

  it('resolves exec with its defaults and makes the child the default target', async () => {
    const config = await parseConfig(
      `${execBlock}notify "prom" {\n  http {\n    url = "http://127.0.0.1:9090/-/reload"\n  }\n}\ntemplate {\n  contents = "x"\n  destination = "/dev/shm/x"\n}\n`,
      '/c.hcl',
    );
    expect(config.exec).toMatchObject({
      command: ['app'],
      reloadSignal: undefined,
      killSignal: 'SIGTERM',
      killTimeoutMs: 10_000,
      splayMs: 0,
      restart: 'never',
      env: { pristine: false, allow: [] },
    });
    expect(config.exec?.env.deny).toEqual(expect.arrayContaining(['VAULT_*', 'AWS_*', 'AZURE_*']));
    expect(config.templates[0]?.notify).toEqual(['exec']);
    expect(config.notify[0]?.action).toEqual({ kind: 'http', url: 'http://127.0.0.1:9090/-/reload', method: 'POST', headers: {}, timeoutMs: 5000 });
  });

  it('rejects a notify block named exec, an env_template without exec, and a bad signal name', async () => {
    await expect(parseConfig('notify "exec" {\n  pid_file = "x"\n}\n', '/c.hcl')).rejects.toThrow(/\/c\.hcl:1:1: notify\.exec: "exec" is reserved/);
    await expect(parseConfig('env_template "X" {\n  contents = "y"\n}\n', '/c.hcl')).rejects.toThrow(/env_template\.X: env_template needs an exec block/);
    await expect(parseConfig('exec {\n  command = ["a"]\n  reload_signal = "SIGHUPP"\n}\n', '/c.hcl')).rejects.toThrow(
      /\/c\.hcl:3:19: exec\.reload_signal: expected a signal name/,
    );
    await expect(parseConfig('notify "a" {\n  process = "(unclosed"\n}\n', '/c.hcl')).rejects.toThrow(
      /notify\.a\.process: "process" is not a valid regular expression/,
    );
  });
});
