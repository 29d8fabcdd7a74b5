import { describe, expect, it } from 'vitest';
import { AdmissionRefusal, quote, readInjectionRequest, wantsInjection } from '../../src/webhook/annotations.js';
import { injectionWarnings, isInjected, mutatePod, type JsonPatchOperation } from '../../src/webhook/pod-mutation.js';
import { factsOf, readSidecarFacts, type SidecarFacts } from '../../src/webhook/sidecar-facts.js';
import { parseWebhookConfig, type WebhookConfig } from '../../src/webhook/webhook-config.js';

const config: Promise<WebhookConfig> = parseWebhookConfig(
  'webhook {\n  address = "0.0.0.0:8443"\n  tls_cert_file = "/t/c"\n  tls_key_file = "/t/k"\n  image = "r/s:1"\n}\n',
  '/w/webhook.hcl',
);
const NO_FACTS: SidecarFacts = {
  signalsProcess: false,
  kubernetesTokenFiles: [],
  rolloutInCluster: false,
  destinations: ['/run/secrets-sidecar/a'],
  cachesLoginToken: false,
  ownerOnlyPerms: 0o600,
};

type Pod = Record<string, unknown> & { spec: Record<string, unknown> };
function pod(spec: Record<string, unknown> = {}): Pod {
  return {
    metadata: { annotations: { 'secrets-sidecar.io/inject': 'true', 'secrets-sidecar.io/config': 'cm' } },
    spec: { containers: [{ name: 'app' }], ...spec },
  };
}
const valueAt = (patch: JsonPatchOperation[], path: string) => patch.find((op) => op.path === path)?.value as Record<string, unknown>[];

describe('annotations', () => {
  it('reads the defaults: native mode, the default path, every container', async () => {
    const request = readInjectionRequest({ 'secrets-sidecar.io/config': 'cm' }, ['a', 'b'], (await config).resources);
    expect(request).toEqual({
      mode: 'native',
      configMap: 'cm',
      secretsPath: '/run/secrets-sidecar',
      containers: ['a', 'b'],
      requests: { cpu: '10m', memory: '48Mi' },
      limits: { cpu: undefined, memory: '128Mi' },
    });
  });

  it('refuses, naming the annotation, values that look like paths, templates or injected lines', async () => {
    const { resources } = await config;
    const refusal = (annotations: Record<string, unknown>) => {
      try {
        readInjectionRequest({ 'secrets-sidecar.io/config': 'cm', ...annotations }, ['app'], resources);
      } catch (error) {
        expect(error).toBeInstanceOf(AdmissionRefusal);
        return (error as Error).message;
      }
      throw new Error('not refused');
    };
    expect(refusal({ 'secrets-sidecar.io/secrets-path': '/run/secrets-sidecar/../../etc' })).toMatch(/^secrets-sidecar\.io\/secrets-path: .*"\.\."/);
    expect(refusal({ 'secrets-sidecar.io/secrets-path': '/' })).toMatch(/^secrets-sidecar\.io\/secrets-path: /);
    expect(refusal({ 'secrets-sidecar.io/secrets-path': '/var/run/secrets' })).toMatch(/overlaps \/var\/run\/secrets/);
    expect(refusal({ 'secrets-sidecar.io/secrets-path': '/run/{{secret "x"}}' })).toMatch(
      /^secrets-sidecar\.io\/secrets-path: "\/run\/\{\{secret \\"x\\"\}\}" is not/,
    );
    expect(refusal({ 'secrets-sidecar.io/config': 'cm\nx' })).toBe('secrets-sidecar.io/config: "cm\\nx" is not a ConfigMap name');
    expect(refusal({ 'secrets-sidecar.io/mode': 'x'.repeat(10_000) }).length).toBeLessThan(200);
    expect(refusal({ 'secrets-sidecar.io/mode': 42 })).toBe('secrets-sidecar.io/mode: expected a string, not "42"');
    expect(refusal({ 'secrets-sidecar.io/cpu-limit': '0' })).toMatch(/^secrets-sidecar\.io\/cpu-limit: "0" is not a cpu quantity/);
    expect(refusal({ 'secrets-sidecar.io/\u202Emode': 'x' })).toMatch(/^secrets-sidecar\.io\/\\u202emode: unknown annotation/);
    expect(() => wantsInjection({ 'secrets-sidecar.io/inject': 'True' })).toThrow('secrets-sidecar.io/inject: "True" is not "true" or "false"');
  });

  it('quotes a value printable, escaped and cut short', () => {
    expect(quote('a\u0000b\u2028')).toBe('"a\\u0000b\\u2028"');
    expect(quote('x'.repeat(100))).toBe(`"${'x'.repeat(64)}\\u2026"`);
  });
});

describe('the mutation', () => {
  it("runs the sidecar as the app: the served container's ids over the pod's, and never root", async () => {
    const cfg = await config;
    const run = (spec: Record<string, unknown>) => {
      const p = pod(spec);
      const request = readInjectionRequest({ 'secrets-sidecar.io/config': 'cm' }, ['app'], cfg.resources);
      return valueAt(mutatePod(p, request, NO_FACTS, cfg), '/spec/initContainers')[0]!['securityContext'];
    };
    expect(run({ securityContext: { runAsUser: 1001, runAsGroup: 1002 } })).toMatchObject({ runAsUser: 1001, runAsGroup: 1002 });
    expect(run({ securityContext: { runAsUser: 1001 }, containers: [{ name: 'app', securityContext: { runAsUser: 5 } }] })).toMatchObject({ runAsUser: 5 });
    expect(run({ securityContext: { runAsUser: 0, runAsGroup: 0 } })).not.toHaveProperty('runAsUser');
    expect(run({ securityContext: { runAsUser: '1000' } })).not.toHaveProperty('runAsUser');
  });

  it('refuses what would break the pod or the sidecar, naming the annotation', async () => {
    const cfg = await config;
    const request = readInjectionRequest({ 'secrets-sidecar.io/config': 'cm' }, ['app'], cfg.resources);
    expect(() => mutatePod(pod({ volumes: [{ name: 'secrets-sidecar-cache' }] }), request, NO_FACTS, cfg)).toThrow(
      /^secrets-sidecar\.io\/inject: the pod already has a volume named "secrets-sidecar-cache"/,
    );
    expect(() => mutatePod(pod({ containers: [{ name: 'app', ports: [{ containerPort: 9102 }] }] }), request, NO_FACTS, cfg)).toThrow(
      /^secrets-sidecar\.io\/inject: container "app" declares port 9102, which the sidecar listens on/,
    );
    const mounted = pod({ containers: [{ name: 'app', volumeMounts: [{ name: 'x', mountPath: '/run/secrets-sidecar' }] }] });
    expect(() => mutatePod(mounted, request, NO_FACTS, cfg)).toThrow(
      /^secrets-sidecar\.io\/secrets-path: container "app" already mounts something at \/run\/secrets-sidecar/,
    );
    const relativeToken = factsOf(
      await import('../../src/config/load-config.js').then((m) =>
        m.parseConfig('backend "vault" "v" {\n  auth "kubernetes" {\n    role = "r"\n    jwt_file = "token"\n  }\n}\n', '/etc/secrets-sidecar/sidecar.hcl'),
      ),
    );
    expect(() => mutatePod(pod(), request, { ...relativeToken, destinations: [] }, cfg)).toThrow(
      /^secrets-sidecar\.io\/config: sidecar\.hcl reads a Kubernetes token from "\/etc\/secrets-sidecar\/token", where the webhook cannot mount one/,
    );
  });

  it('reads what matters from sidecar.hcl: a process signalled, Kubernetes token files, destinations', async () => {
    const facts = await readSidecarFacts(
      'backend "vault" "v" {\n  auth "kubernetes" {\n    role = "r"\n  }\n}\nnotify "app" {\n  pid_file = "/run/app/pid"\n}\ntemplate {\n  contents = "x"\n  destination = "/run/secrets-sidecar/x"\n}\n',
    );
    expect(facts).toEqual({
      signalsProcess: true,
      kubernetesTokenFiles: ['/var/run/secrets/kubernetes.io/serviceaccount/token'],
      rolloutInCluster: false,
      destinations: ['/run/secrets-sidecar/x'],
      cachesLoginToken: true,
      ownerOnlyPerms: 0o600,
    });
    // A shared process namespace would show the app the cached login token: whoever creates the pod is warned.
    expect(injectionWarnings(facts)).toEqual([expect.stringMatching(/shareProcessNamespace lets the app read the Vault token/) as string]);
    expect(injectionWarnings({ ...facts, signalsProcess: false })).toEqual([]);
    const given = await readSidecarFacts(
      'backend "vault" "v" {\n  auth "token" {\n    token_file = "/t"\n  }\n}\nnotify "app" {\n  pid_file = "/run/app/pid"\n}\n',
    );
    expect(given.cachesLoginToken).toBe(false);
  });

  it('refuses served containers of different users when a file only its owner can read would reach them', async () => {
    const cfg = await config;
    const two = (a: number | undefined, b: number | undefined, podUser?: number) =>
      pod({
        ...(podUser === undefined ? {} : { securityContext: { runAsUser: podUser } }),
        containers: [
          { name: 'app', ...(a === undefined ? {} : { securityContext: { runAsUser: a } }) },
          { name: 'logger', ...(b === undefined ? {} : { securityContext: { runAsUser: b } }) },
        ],
      });
    const mutate = (p: Pod, facts = NO_FACTS, containers?: string) => {
      const annotations = { 'secrets-sidecar.io/config': 'cm', ...(containers ? { 'secrets-sidecar.io/containers': containers } : {}) };
      return mutatePod(p, readInjectionRequest(annotations, ['app', 'logger'], cfg.resources), facts, cfg);
    };
    expect(() => mutate(two(1000, 2000))).toThrow(
      /^secrets-sidecar\.io\/containers: containers "app" \(runAsUser 1000\) and "logger" \(runAsUser 2000\) run as different users, .*perms 0600/,
    );
    expect(() => mutate(two(undefined, 2000, 1000))).toThrow(/runAsUser 1000\) and "logger" \(runAsUser 2000\)/);
    // Served alone, of one user, as root, or with files their group can read: admitted.
    expect(() => mutate(two(1000, 2000), NO_FACTS, 'app')).not.toThrow();
    expect(() => mutate(two(undefined, 1000, 1000))).not.toThrow();
    expect(() => mutate(two(1000, 0))).not.toThrow();
    expect(() => mutate(two(1000, 2000), { ...NO_FACTS, ownerOnlyPerms: undefined })).not.toThrow();
    const groupReadable = await readSidecarFacts('template {\n  contents = "x"\n  destination = "/run/secrets-sidecar/x"\n  perms = "0640"\n}\n');
    expect(groupReadable.ownerOnlyPerms).toBeUndefined();
  });

  it("mounts the secrets into the pod's own init containers when named, after ours in every mode", async () => {
    const cfg = await config;
    const p = pod({ initContainers: [{ name: 'migrate', volumeMounts: [{ name: 'x', mountPath: '/x' }] }, { name: 'other' }] });
    const secrets = { name: 'secrets-sidecar-secrets', mountPath: '/run/secrets-sidecar', readOnly: true };
    for (const mode of ['native', 'sidecar', 'init-only']) {
      const annotations = { 'secrets-sidecar.io/config': 'cm', 'secrets-sidecar.io/mode': mode, 'secrets-sidecar.io/containers': 'app,migrate' };
      const request = readInjectionRequest(annotations, ['app'], cfg.resources, ['migrate', 'other']);
      const init = valueAt(mutatePod(p, request, NO_FACTS, cfg), '/spec/initContainers');
      expect(init.map((c) => c['name']).slice(1)).toEqual(['migrate', 'other']);
      expect(init[1]!['volumeMounts']).toEqual([{ name: 'x', mountPath: '/x' }, secrets]);
      expect(init[2]!['volumeMounts']).toBeUndefined();
    }
    // Unnamed, they get nothing (the default is every app container), and an unknown name is still refused.
    const plain = valueAt(
      mutatePod(p, readInjectionRequest({ 'secrets-sidecar.io/config': 'cm' }, ['app'], cfg.resources, ['migrate']), NO_FACTS, cfg),
      '/spec/initContainers',
    );
    expect(plain[1]!['volumeMounts']).toEqual([{ name: 'x', mountPath: '/x' }]);
    expect(() =>
      readInjectionRequest({ 'secrets-sidecar.io/config': 'cm', 'secrets-sidecar.io/containers': 'nope' }, ['app'], cfg.resources, ['migrate']),
    ).toThrow(/is not a container of this pod \(containers: "app", "migrate"\)/);
  });

  it('gives a sidecar whose rollout target works in-cluster the service-account directory, which admission gave it no copy of', async () => {
    const cfg = await config;
    const request = readInjectionRequest({ 'secrets-sidecar.io/config': 'cm' }, ['app'], cfg.resources);
    const rollout = (extra: string, auth = '') =>
      readSidecarFacts(
        `backend "file" "f" {\n  path = "/etc/secrets-sidecar/s.json"\n}\n${auth}notify "web" {\n  rollout {\n    kind = "Deployment"\n    name = "web"\n${extra}  }\n}\ntemplate {\n  contents = "x"\n  destination = "/run/secrets-sidecar/x"\n}\n`,
      );
    const inCluster = await rollout('');
    expect(inCluster.rolloutInCluster).toBe(true);
    const patch = mutatePod(pod(), request, inCluster, cfg);
    const volume = valueAt(patch, '/spec/volumes').find((v) => v['name'] === 'secrets-sidecar-kube-api');
    expect(volume).toEqual({
      name: 'secrets-sidecar-kube-api',
      projected: {
        sources: [
          { serviceAccountToken: { expirationSeconds: cfg.tokenExpirationSeconds, path: 'token' } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
        ],
      },
    });
    const sidecar = valueAt(patch, '/spec/initContainers')[0]!;
    expect(sidecar['volumeMounts']).toContainEqual({
      name: 'secrets-sidecar-kube-api',
      mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
      readOnly: true,
    });
    // Only the sidecar: the app keeps what admission gave it.
    const app = valueAt(patch, '/spec/containers').find((c) => c['name'] === 'app');
    expect(JSON.stringify(app)).not.toContain('secrets-sidecar-kube-api');
    // A kubeconfig names its own credentials: nothing is mounted.
    const withKubeconfig = await rollout('    kubeconfig = "/etc/secrets-sidecar/kubeconfig"\n');
    expect(withKubeconfig.rolloutInCluster).toBe(false);
    expect(JSON.stringify(mutatePod(pod(), request, withKubeconfig, cfg))).not.toContain('secrets-sidecar-kube-api');
    // Vault's Kubernetes login at the default token path would take the API server's token's place: refused.
    const clash = await rollout('', 'backend "vault" "v" {\n  auth "kubernetes" {\n    role = "r"\n  }\n}\n');
    expect(() => mutatePod(pod(), request, clash, cfg)).toThrow(
      /^secrets-sidecar\.io\/config: sidecar\.hcl logs in to Vault with a token in \/var\/run\/secrets\/kubernetes\.io\/serviceaccount/,
    );
  });

  it('knows an injected pod by its status annotation or its containers', () => {
    expect(isInjected({ metadata: { annotations: { 'secrets-sidecar.io/status': 'injected' } }, spec: {} })).toBe(true);
    expect(isInjected({ spec: { initContainers: [{ name: 'secrets-sidecar-init' }] } })).toBe(true);
    expect(isInjected(pod())).toBe(false);
  });
});
