import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { SidecarError } from '../../src/errors.js';
import { inClusterConnection, kubeconfigConnection } from '../../src/reload/kube-connection.js';
import { newerVersions, parseAnnotation, planAnnotation } from '../../src/reload/rollout-annotation.js';
import { compareSourceVersions, type SourceVersion } from '../../src/source-version.js';
import { configError } from '../support/config-error.js';

const v = (id: string, ...order: number[]): SourceVersion => ({ id, order });

describe('source versions and the rollout annotation', () => {
  it('orders versions by creation time, then sequence, then id, the same way on every replica', () => {
    expect(compareSourceVersions(v('3', 2000, 3), v('2', 1000, 2))).toBe(1);
    // KV v2 numbers restart at 1 after `kv metadata delete`: the creation time still says which is newer.
    expect(compareSourceVersions(v('1', 5000, 1), v('7', 4000, 7))).toBe(1);
    expect(compareSourceVersions(v('b', 1000), v('a', 1000))).toBe(1);
    expect(compareSourceVersions(v('a', 1000), v('a', 1000))).toBe(0);
  });

  it('writes the same text whatever order the references come in, and nothing when it already holds them or newer', () => {
    const one = planAnnotation(
      undefined,
      new Map([
        ['vault:a', v('2', 20, 2)],
        ['aws:b', v('x-1', 30)],
      ]),
    );
    const other = planAnnotation(
      undefined,
      new Map([
        ['aws:b', v('x-1', 30)],
        ['vault:a', v('2', 20, 2)],
      ]),
    );
    expect(one).toBe(other);
    expect(planAnnotation(one, new Map([['vault:a', v('2', 20, 2)]]))).toBeUndefined();
    expect(planAnnotation(one, new Map([['vault:a', v('1', 10, 1)]]))).toBeUndefined();
    // Newer for one entry: that entry moves, the other stays.
    const next = planAnnotation(
      one,
      new Map([
        ['vault:a', v('3', 40, 3)],
        ['aws:b', v('x-0', 5)],
      ]),
    );
    expect([...parseAnnotation(next).values()].map((x) => x.id).sort()).toEqual(['3', 'x-1']);
  });

  it('treats a hand-edited or foreign annotation as empty, never as a reason to fail', () => {
    for (const text of ['', 'not json', '[1,2]', 'null', '{"k":5}', '{"k":"x"}', '{"k":"-1:a"}']) expect(parseAnnotation(text).size).toBe(0);
    expect(planAnnotation('{{ garbage }}', new Map([['vault:a', v('1', 1, 1)]]))).toMatch(/^\{"[0-9a-f]{16}":"1\.1:1"\}$/);
  });

  it('lets a version this replica saw replace another win a tie of creation times (AWS dates made in one second)', () => {
    const before = new Map([['aws:app', v('b-old', 1000)]]);
    const now = new Map([['aws:app', v('a-new', 1000)]]);
    expect(newerVersions(now, before)).toEqual(['aws:app']);
    const held = planAnnotation(undefined, before);
    // Decided by the id alone, "a-new" would lose to "b-old" and the rotation would never be rolled out.
    expect(planAnnotation(held, now)).toBeUndefined();
    expect([...parseAnnotation(planAnnotation(held, now, new Set(['aws:app']))).values()].map((x) => x.id)).toEqual(['a-new']);
    // A strictly older version still never wins, seen changing or not.
    expect(planAnnotation(held, new Map([['aws:app', v('c', 999)]]), new Set(['aws:app']))).toBeUndefined();
  });

  it('finds the references that moved forward, not the ones that are new or went back', () => {
    const before = new Map([
      ['a', v('1', 1)],
      ['b', v('5', 5)],
    ]);
    expect(
      newerVersions(
        new Map([
          ['a', v('2', 2)],
          ['b', v('4', 4)],
          ['c', v('1', 1)],
        ]),
        before,
      ),
    ).toEqual(['a']);
  });
});

describe('the rollout block', () => {
  const file = '/etc/sidecar/sidecar.hcl';
  it('resolves kind, name, namespace, a relative kubeconfig and the timeout', async () => {
    const config = await parseConfig(
      'notify "web" {\n  rollout {\n    kind = "StatefulSet"\n    name = "db.v2"\n    kubeconfig = "kube/config"\n    timeout = "2s"\n  }\n}\n',
      file,
    );
    expect(config.notify[0]?.action).toEqual({
      kind: 'rollout',
      workload: 'StatefulSet',
      name: 'db.v2',
      namespace: undefined,
      kubeconfig: '/etc/sidecar/kube/config',
      timeoutMs: 2000,
    });
  });

  it('refuses a second kind in the block, a timeout outside it, and names that are not Kubernetes names', async () => {
    const cases: [string, string][] = [
      ['  command = ["x"]\n  rollout {\n    kind = "Deployment"\n    name = "web"\n  }', 'found rollout, command'],
      ['  timeout = "1s"\n  rollout {\n    kind = "Deployment"\n    name = "web"\n  }', 'inside the rollout block'],
      ['  rollout {\n    kind = "Deployment"\n    name = "Web"\n  }', 'notify.web.rollout.name'],
      ['  rollout {\n    kind = "Deployment"\n    name = "web"\n    namespace = "a/b"\n  }', 'notify.web.rollout.namespace'],
      ['  rollout {\n    kind = "Deployment"\n  }', 'required option "name"'],
    ];
    for (const [body, message] of cases) {
      const error = await configError(`notify "web" {\n${body}\n}\n`, file);
      expect(error.code, body).toBe('SIDECAR_ERR_CONFIG_INVALID');
      expect(error.message, body).toContain(message);
    }
  });
});

describe('connection settings', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubeconfig-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const kubeconfig = async (user: Record<string, unknown>, cluster: Record<string, unknown> = {}, context: Record<string, unknown> = {}) => {
    const path = join(dir, `config-${Math.random().toString(36).slice(2)}`);
    await writeFile(
      path,
      `apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n  - name: c\n    context: ${JSON.stringify({ cluster: 'k', user: 'u', ...context })}\nclusters:\n  - name: k\n    cluster: ${JSON.stringify({ server: 'https://10.0.0.1:6443', ...cluster })}\nusers:\n  - name: u\n    user: ${JSON.stringify(user)}\n`,
    );
    return path;
  };
  const code = async (promise: Promise<unknown>) =>
    promise.then(
      () => 'resolved',
      (e: unknown) => (e instanceof SidecarError ? e.code : String(e)),
    );

  it('reads a token file relative to the kubeconfig for each request, and defaults the namespace to "default"', async () => {
    await writeFile(join(dir, 'token'), 'first-token\n');
    const connection = await kubeconfigConnection(await kubeconfig({ tokenFile: 'token' }));
    expect(connection.namespace).toBe('default');
    expect(await connection.token?.()).toBe('first-token');
    await writeFile(join(dir, 'token'), 'second-token');
    expect(await connection.token?.()).toBe('second-token');
  });

  it('refuses exec plugins, basic auth, insecure TLS, a server with a path, and a context that is not there', async () => {
    expect(await code(kubeconfigConnection(await kubeconfig({ exec: { command: 'aws' } })))).toBe('SIDECAR_ERR_ROLLOUT_CONNECTION');
    expect(await code(kubeconfigConnection(await kubeconfig({ username: 'u', password: 'p' })))).toBe('SIDECAR_ERR_ROLLOUT_CONNECTION');
    expect(await code(kubeconfigConnection(await kubeconfig({ token: 't' }, { 'insecure-skip-tls-verify': true })))).toBe('SIDECAR_ERR_ROLLOUT_CONNECTION');
    expect(await code(kubeconfigConnection(await kubeconfig({ token: 't' }, { server: 'http://10.0.0.1' })))).toBe('SIDECAR_ERR_ROLLOUT_CONNECTION');
    expect(await code(kubeconfigConnection(await kubeconfig({ token: 't' }, { server: 'https://10.0.0.1/../api' })))).toBe('SIDECAR_ERR_ROLLOUT_CONNECTION');
    expect(await code(kubeconfigConnection(await kubeconfig({ token: 't' }, {}, { cluster: 'elsewhere' })))).toBe('SIDECAR_ERR_ROLLOUT_CONNECTION');
    expect(await code(kubeconfigConnection(join(dir, 'missing')))).toBe('SIDECAR_ERR_ROLLOUT_CONNECTION');
  });

  it('in-cluster: needs the service host and a token; takes the host in brackets when it is IPv6', async () => {
    const sa = join(dir, 'sa');
    await mkdir(sa, { recursive: true });
    expect(await code(inClusterConnection({ SECRETS_SIDECAR_SERVICE_ACCOUNT_DIR: sa, KUBERNETES_SERVICE_HOST: '10.0.0.1' }))).toBe(
      'SIDECAR_ERR_ROLLOUT_CONNECTION',
    );
    await writeFile(join(sa, 'token'), 'tok');
    await writeFile(join(sa, 'ca.crt'), 'ca');
    expect(await code(inClusterConnection({ SECRETS_SIDECAR_SERVICE_ACCOUNT_DIR: sa }))).toBe('SIDECAR_ERR_ROLLOUT_CONNECTION');
    for (const host of ['evil.example/steal?', 'user@10.0.0.1', '10.0.0.1#x'])
      expect(await code(inClusterConnection({ SECRETS_SIDECAR_SERVICE_ACCOUNT_DIR: sa, KUBERNETES_SERVICE_HOST: host })), host).toBe(
        'SIDECAR_ERR_ROLLOUT_CONNECTION',
      );
    const connection = await inClusterConnection({
      SECRETS_SIDECAR_SERVICE_ACCOUNT_DIR: sa,
      KUBERNETES_SERVICE_HOST: 'fd00::1',
      KUBERNETES_SERVICE_PORT: '443',
    });
    expect(connection.server).toBe('https://[fd00::1]:443');
    expect(connection.namespace).toBeUndefined();
  });
});
