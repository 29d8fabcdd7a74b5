import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Secret } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { parseConfig } from '../../src/config/load-config.js';
import { REPO_ROOT } from '../support/dirs.js';

const COMPOSE = join(REPO_ROOT, 'examples/compose/docker-compose.yml');
const MANIFESTS = join(REPO_ROOT, 'examples/kubernetes/secrets-sidecar.yaml');

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

describe('Kubernetes example (validated against the API schemas)', () => {
  const documents = parseAllDocuments(readFileSync(MANIFESTS, 'utf8')).map((d) => d.toJS() as { kind: string });

  it('has only schema-valid objects', () => {
    expect(documents.map((d) => d.kind)).toEqual(['ConfigMap', 'Secret', 'Deployment']);
    for (const doc of documents) {
      const model =
        doc.kind === 'Deployment' ? new Deployment(doc as never) : doc.kind === 'ConfigMap' ? new ConfigMap(doc as never) : new Secret(doc as never);
      expect(() => model.validate()).not.toThrow();
    }
    // The validation is real: a wrong type is rejected.
    const broken = structuredClone(documents[2]) as unknown as { spec: { template: { spec: { containers: { ports?: { containerPort: unknown }[] }[] } } } };
    const ports = broken.spec.template.spec.containers[0]?.ports;
    if (ports?.[0]) ports[0].containerPort = '8080';
    expect(() => new Deployment(broken as never).validate()).toThrow();
  });

  it('has an init container for once, a sidecar for run, an in-memory emptyDir, a shared PID namespace and a restricted security context', async () => {
    const deployment = documents[2] as unknown as Deployment;
    const pod = deployment.spec?.template.spec;
    expect(pod?.shareProcessNamespace).toBe(true);
    expect(pod?.initContainers?.[0]?.args?.[0]).toBe('once');
    expect(pod?.containers.find((c) => c.name === 'secrets-sidecar')?.args?.[0]).toBe('run');
    expect(pod?.volumes?.find((v) => v.name === 'app-secrets')?.emptyDir?.medium).toBe('Memory');
    expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    for (const container of [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])]) {
      expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    }
    // Probes against the listener, on the port the config opens, named for a ServiceMonitor or PodMonitor.
    const sidecar = pod?.containers.find((c) => c.name === 'secrets-sidecar');
    expect(sidecar?.ports).toContainEqual({ containerPort: 9102, name: 'metrics' });
    expect(sidecar?.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'metrics' });
    expect(sidecar?.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'metrics' });
    expect(sidecar?.resources?.requests).toMatchObject({ memory: '96Mi' });
    const configMap = documents[0] as unknown as ConfigMap;
    const config = await parseConfig(configMap.data?.['sidecar.hcl'] ?? '', '/etc/secrets-sidecar/sidecar.hcl');
    expect(config.listener).toMatchObject({ host: '0.0.0.0', port: 9102 });
    expect(config.backends[0]).toMatchObject({ type: 'file', path: '/var/run/secrets/app' });
    expect(config.templates[0]?.destination).toBe('/run/app-secrets/db.env');
  });
});
