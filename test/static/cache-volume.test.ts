import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { parseConfig } from '../../src/config/load-config.js';
import { REPO_ROOT } from '../support/dirs.js';

/** The cache_dir of each Vault backend in a sidecar config (they hold a login token). */
async function cacheDirs(file: string): Promise<string[]> {
  const config = await parseConfig(readFileSync(file, 'utf8'), file);
  return config.backends.flatMap((b) => (b.type === 'vault' && b.cacheDir !== undefined ? [b.cacheDir] : []));
}

const under = (path: string, mount: string) => path === mount || path.startsWith(`${mount}/`);

describe.each([
  { example: 'nginx-tls', app: 'nginx' },
  { example: 'postgres-dynamic', app: 'app' },
])('the $example compose example keeps cache_dir away from the application', ({ example, app }) => {
  it('on a tmpfs volume of its own, mounted into secrets-init and secrets-sidecar, never into the application', async () => {
    const compose = parseYaml(readFileSync(join(REPO_ROOT, 'examples', example, 'docker-compose.yml'), 'utf8')) as {
      services: Record<string, { volumes?: string[] }>;
      volumes: Record<string, { driver_opts?: { type?: string; o?: string } }>;
    };
    const [cacheDir] = await cacheDirs(join(REPO_ROOT, 'examples', example, 'sidecar.hcl'));
    expect(cacheDir).toBeDefined();
    const mountOf = (service: string) =>
      (compose.services[service]?.volumes ?? []).map((v) => v.split(':')).find(([, path]) => under(cacheDir ?? '', path ?? ''));
    const [volume] = mountOf('secrets-sidecar') ?? [];
    expect(volume).toBeDefined();
    expect(mountOf('secrets-init')?.[0]).toBe(volume);
    expect(compose.volumes[volume ?? '']?.driver_opts).toMatchObject({ type: 'tmpfs' });
    expect(compose.volumes[volume ?? '']?.driver_opts?.o).toContain('mode=0700');
    for (const mount of compose.services[app]?.volumes ?? []) expect(mount.split(':')[0]).not.toBe(volume);
  });
});

describe.each([
  { file: 'secrets-sidecar.yaml', sidecars: ['secrets-sidecar'] },
  { file: 'classic-sidecar.yaml', sidecars: ['secrets-init', 'secrets-sidecar'] },
])('the Kubernetes example $file', ({ file, sidecars }) => {
  it('mounts an in-memory volume holding cache_dir into the sidecar containers, and not into the app', async () => {
    interface Container {
      name: string;
      volumeMounts?: { name: string; mountPath: string }[];
    }
    const read = (name: string) =>
      parseAllDocuments(readFileSync(join(REPO_ROOT, 'examples/kubernetes', name), 'utf8')).map((d) => d.toJS() as Record<string, unknown>);
    const deployment = read(file).find((d) => d['kind'] === 'Deployment') as { spec: { template: { spec: unknown } } };
    const pod = deployment.spec.template.spec as {
      initContainers: Container[];
      containers: Container[];
      volumes: { name: string; emptyDir?: { medium?: string } }[];
    };
    // Both Deployments use the ConfigMap of secrets-sidecar.yaml.
    const configMap = read('secrets-sidecar.yaml').find((d) => d['kind'] === 'ConfigMap') as { data: Record<string, string> };
    const config = await parseConfig(configMap.data['sidecar.hcl'] ?? '', '/etc/secrets-sidecar/sidecar.hcl');
    const cacheDir = config.backends.flatMap((b) => (b.type === 'vault' && b.cacheDir !== undefined ? [b.cacheDir] : []))[0] ?? '';
    const all = [...pod.initContainers, ...pod.containers];
    const holding = (c: Container | undefined) => (c?.volumeMounts ?? []).find((m) => under(cacheDir, m.mountPath))?.name;
    const volume = holding(all.find((c) => c.name === 'secrets-sidecar'));
    expect(volume).toBeDefined();
    expect(pod.volumes.find((v) => v.name === volume)?.emptyDir?.medium).toBe('Memory');
    for (const c of all) expect(holding(c), c.name).toBe(sidecars.includes(c.name) ? volume : undefined);
    for (const c of all.filter((c) => !sidecars.includes(c.name))) expect((c.volumeMounts ?? []).map((m) => m.name)).not.toContain(volume);
  });
});

describe('sidecar.example.hcl', () => {
  it('puts cache_dir outside every destination directory (the config would be refused otherwise)', async () => {
    const [cacheDir] = await cacheDirs(join(REPO_ROOT, 'sidecar.example.hcl'));
    expect(cacheDir).toBe('/run/secrets-sidecar-cache/vault');
  });
});
