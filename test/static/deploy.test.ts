import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { ConfigMap, Secret, ServiceAccount } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { parseConfig } from '../../src/config/load-config.js';
import { REPO_ROOT } from '../support/dirs.js';

const COMPOSE = join(REPO_ROOT, 'examples/compose/docker-compose.yml');

interface ComposeService {
  image?: string;
  command?: string[];
  user?: string;
  pid?: string;
  volumes?: string[];
  healthcheck?: { test?: string[] };
}

describe('compose example (checked statically: no Docker engine runs here)', () => {
  const compose = parseYaml(readFileSync(COMPOSE, 'utf8')) as {
    services: Record<string, ComposeService>;
    volumes: Record<string, { driver_opts?: { type?: string } }>;
  };

  it('passes dclint with neither errors nor warnings', () => {
    const result = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/dclint/bin/dclint.cjs'), COMPOSE], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).not.toMatch(/error|warning/);
    expect(result.status).toBe(0);
  });

  it('runs once before the app, run beside it in its PID namespace, on a tmpfs volume, as non-root', async () => {
    const { services } = compose;
    expect(services['secrets-init']?.command?.[0]).toBe('once');
    expect(services['secrets-sidecar']?.command?.[0]).toBe('run');
    expect(services['secrets-sidecar']?.pid).toBe('service:app');
    expect(compose.volumes['app-secrets']?.driver_opts?.type).toBe('tmpfs');
    // The healthcheck asks the listener the sidecar config opens.
    expect(services['secrets-sidecar']?.healthcheck?.test?.join(' ')).toContain('http://127.0.0.1:9102/readyz');
    for (const service of Object.values(services)) {
      expect(service.image).toMatch(/:[0-9][\w.-]*$/);
      expect(service.user).toBe('1000:1000');
    }
    // The sidecar config the example mounts is valid.
    const config = await parseConfig(readFileSync(join(REPO_ROOT, 'examples/compose/sidecar.hcl'), 'utf8'), join(REPO_ROOT, 'examples/compose/sidecar.hcl'));
    expect(config.templates[0]?.destination.startsWith('/run/app-secrets/')).toBe(true);
    expect(config.listener).toMatchObject({ host: '127.0.0.1', port: 9102 });
  });
});

describe.each([
  { example: 'nginx-tls', app: 'nginx', volume: 'nginx-tls', mount: '/run/nginx-tls' },
  { example: 'postgres-dynamic', app: 'app', volume: 'app-secrets', mount: '/run/app-secrets' },
])('zero-downtime example $example: compose file (checked statically) and its sidecar config', ({ example, app, volume, mount }) => {
  const file = join(REPO_ROOT, 'examples', example, 'docker-compose.yml');
  const compose = parseYaml(readFileSync(file, 'utf8')) as {
    services: Record<string, ComposeService>;
    volumes: Record<string, { driver_opts?: { type?: string; o?: string } }>;
  };

  it('passes dclint with neither errors nor warnings', () => {
    const result = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/dclint/bin/dclint.cjs'), file], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).not.toMatch(/error|warning/);
    expect(result.status).toBe(0);
  });

  it('runs once before the app and run beside it as the same user, in its PID namespace, on a tmpfs volume', async () => {
    const { services } = compose;
    expect(services['secrets-init']?.command?.[0]).toBe('once');
    expect(services['secrets-sidecar']?.command?.[0]).toBe('run');
    // Signalling another process needs its PID namespace and, without privileges, its user.
    expect(services['secrets-sidecar']?.pid).toBe(`service:${app}`);
    expect(services['secrets-sidecar']?.user).toBe(services[app]?.user);
    expect(compose.volumes[volume]?.driver_opts?.type).toBe('tmpfs');
    for (const service of Object.values(services)) expect(service.image).toMatch(/:[0-9][\w.-]*$/);
    for (const name of ['secrets-init', 'secrets-sidecar', app]) expect(services[name]?.volumes).toContain(`${volume}:${mount}`);
    const config = await parseConfig(
      readFileSync(join(REPO_ROOT, 'examples', example, 'sidecar.hcl'), 'utf8'),
      join(REPO_ROOT, 'examples', example, 'sidecar.hcl'),
    );
    for (const template of config.templates) expect(template.destination.startsWith(`${mount}/`)).toBe(true);
  });
});

const KUBERNETES = join(REPO_ROOT, 'examples/kubernetes');
type Document = { kind: string; metadata: { name: string } } & Record<string, unknown>;
const documentsOf = (file: string) => parseAllDocuments(readFileSync(join(KUBERNETES, file), 'utf8')).map((d) => d.toJS() as Document);
const MODELS: Record<string, new (data: never) => { validate(): void }> = { ServiceAccount, ConfigMap, Secret, Deployment, Job };
const podOf = (workload: Document) => (workload as unknown as Deployment | Job).spec?.template.spec;
const sidecarConfig = (documents: Document[], name: string) =>
  parseConfig(
    (documents.find((d) => d.kind === 'ConfigMap' && d.metadata.name === name) as unknown as ConfigMap).data?.['sidecar.hcl'] ?? '',
    '/etc/secrets-sidecar/sidecar.hcl',
  );

// A fast first pass; test/integration/kubernetes-examples.test.ts has a real API server admit them.
describe('Kubernetes examples (validated against the API schemas)', () => {
  const native = documentsOf('secrets-sidecar.yaml');
  const classic = documentsOf('classic-sidecar.yaml');
  const job = documentsOf('job.yaml');

  it('have only schema-valid objects', () => {
    expect(native.map((d) => d.kind)).toEqual(['ServiceAccount', 'ConfigMap', 'Deployment']);
    expect(classic.map((d) => d.kind)).toEqual(['Deployment']);
    expect(job.map((d) => d.kind)).toEqual(['ServiceAccount', 'ConfigMap', 'Job']);
    for (const doc of [...native, ...classic, ...job]) {
      const Model = MODELS[doc.kind];
      expect(Model, doc.kind).toBeDefined();
      expect(() => new (Model as NonNullable<typeof Model>)(doc as never).validate()).not.toThrow();
    }
    // The validation is real: a wrong type is rejected.
    const broken = structuredClone(native[2]) as unknown as { spec: { template: { spec: { containers: { ports?: { containerPort: unknown }[] }[] } } } };
    const ports = broken.spec.template.spec.containers[0]?.ports;
    if (ports?.[0]) ports[0].containerPort = '8080';
    expect(() => new Deployment(broken as never).validate()).toThrow();
  });

  it('recommend a native sidecar: one run process, started before the app once /readyz answers, and kept up', async () => {
    const pod = podOf(native[2] as Document);
    expect(pod?.initContainers).toHaveLength(1);
    const sidecar = pod?.initContainers?.[0];
    expect(sidecar).toMatchObject({ name: 'secrets-sidecar', restartPolicy: 'Always', args: ['run', '-c', '/etc/secrets-sidecar/sidecar.hcl'] });
    expect(sidecar?.startupProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'metrics' });
    expect(sidecar?.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'metrics' });
    expect(sidecar?.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'metrics' });
    expect(sidecar?.ports).toContainEqual({ containerPort: 9102, name: 'metrics' });
    expect(sidecar?.resources?.requests).toMatchObject({ memory: '96Mi' });
    // No `once` anywhere: nothing is issued twice.
    expect(JSON.stringify(pod)).not.toContain('"once"');
    expect(pod?.containers.map((c) => c.name)).toEqual(['app']);
    const config = await sidecarConfig(native, 'app-secrets-sidecar');
    expect(config.listener).toMatchObject({ host: '0.0.0.0', port: 9102 });
    expect(config.templates[0]?.destination).toBe('/run/app-secrets/db.env');
  });

  it('keep the classic shape for older clusters: an init container for once, a container for run', () => {
    const pod = podOf(classic[0] as Document);
    expect(pod?.initContainers?.[0]?.args?.[0]).toBe('once');
    expect(pod?.initContainers?.[0]?.restartPolicy).toBeUndefined();
    expect(pod?.containers.find((c) => c.name === 'secrets-sidecar')?.args?.[0]).toBe('run');
    expect(pod?.volumes?.find((v) => v.name === 'sidecar-config')?.configMap?.name).toBe('app-secrets-sidecar');
  });

  it('log in to Vault with a projected service-account token of audience "vault", on a restricted, in-memory pod', async () => {
    for (const [documents, workload, configMap] of [
      [native, native[2], 'app-secrets-sidecar'],
      [classic, classic[0], 'app-secrets-sidecar'],
      [job, job[2], 'maintenance-secrets-sidecar'],
    ] as const) {
      const pod = podOf(workload as Document);
      const projected = pod?.volumes?.find((v) => v.name === 'vault-token')?.projected?.sources?.[0]?.serviceAccountToken;
      expect(projected).toMatchObject({ audience: 'vault', path: 'token' });
      expect(pod?.automountServiceAccountToken).toBeUndefined();
      expect(pod?.volumes?.find((v) => v.name === 'app-secrets')?.emptyDir?.medium).toBe('Memory');
      expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      for (const container of [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])]) {
        expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
      }
      const sidecar = [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])].find((c) => c.name === 'secrets-sidecar');
      expect(sidecar?.volumeMounts).toContainEqual({ name: 'vault-token', mountPath: '/var/run/secrets/vault', readOnly: true });
      const config = await sidecarConfig(documents === classic ? native : documents, configMap);
      expect(config.backends[0]).toMatchObject({ type: 'vault', auth: { method: 'kubernetes', jwtFile: '/var/run/secrets/vault/token' } });
    }
  });

  it("end a Job's classic sidecar with POST /v1/shutdown, with the listener token on a small in-memory volume", async () => {
    const pod = podOf(job[2] as Document);
    expect(pod?.restartPolicy).toBe('Never');
    expect(pod?.volumes?.find((v) => v.name === 'sidecar-control')?.emptyDir).toEqual({ medium: 'Memory', sizeLimit: '64Ki' });
    expect(pod?.initContainers?.map((c) => c.name)).toEqual(['control-token']);
    const main = pod?.containers.find((c) => c.name === 'maintenance');
    const script = main?.command?.join(' ') ?? '';
    expect(script).toContain('http://127.0.0.1:9102/v1/shutdown');
    expect(script).toContain('Authorization: Bearer $(cat /run/sidecar-control/token)');
    expect(main?.volumeMounts).toContainEqual({ name: 'sidecar-control', mountPath: '/run/sidecar-control', readOnly: true });
    const config = await sidecarConfig(job, 'maintenance-secrets-sidecar');
    expect(config.listener).toMatchObject({ host: '127.0.0.1', port: 9102, refreshTokenFile: '/run/sidecar-control/token' });
  });
});
