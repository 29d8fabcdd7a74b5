import { describe, expect, it } from 'vitest';
import { parseWebhookConfig } from '../../src/webhook/webhook-config.js';
import { parseQuantity } from '../../src/webhook/quantity.js';
import { createKubeClient } from '../../src/webhook/kube-client.js';

const minimal = `webhook {
  address       = "0.0.0.0:8443"
  tls_cert_file = "/tls/tls.crt"
  tls_key_file  = "/tls/tls.key"
  image         = "registry.example/secrets-sidecar:0.2.0"
}
`;

describe('webhook.hcl', () => {
  it("resolves the issue's minimal config with its defaults", async () => {
    const config = await parseWebhookConfig(minimal, '/etc/webhook/webhook.hcl');
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 8443,
      tlsCertFile: '/tls/tls.crt',
      image: 'registry.example/secrets-sidecar:0.2.0',
      failurePolicy: 'Fail',
      probePort: 9102,
      secretsSizeLimit: '16Mi',
      namespaces: [],
      resources: { requests: { cpu: '10m', memory: '48Mi' }, limits: { cpu: undefined, memory: '128Mi' }, max: { cpu: '1', memory: '512Mi' } },
      kubernetes: { server: undefined, tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
    });
  });

  it('locates a bad value at file:line:col with the option path, as sidecar.hcl errors are', async () => {
    const text = minimal.replace('}\n', '  failure_policy = "Sometimes"\n}\n');
    await expect(parseWebhookConfig(text, '/w/webhook.hcl')).rejects.toMatchObject({ code: 'SIDECAR_ERR_CONFIG_INVALID' });
    await expect(parseWebhookConfig(text, '/w/webhook.hcl')).rejects.toThrow(/^\/w\/webhook\.hcl:6:20: webhook\.failure_policy: /);
  });

  it('refuses an unknown key, naming it where it is', async () => {
    const text = minimal.replace('}\n', '  failurepolicy = "Fail"\n}\n');
    await expect(parseWebhookConfig(text, '/w/webhook.hcl')).rejects.toThrow(/webhook\.hcl:6:3: unknown key "failurepolicy" in webhook/);
  });

  it('refuses a missing required option, a syntax error, and a default resource above its max', async () => {
    await expect(parseWebhookConfig(minimal.replace(/ *image .*\n/, ''), '/w/webhook.hcl')).rejects.toThrow(/required option "image" is missing/);
    await expect(parseWebhookConfig('webhook {', '/w/webhook.hcl')).rejects.toMatchObject({ code: 'SIDECAR_ERR_CONFIG_SYNTAX' });
    const big = minimal.replace('}\n', '  resources {\n    memory_limit = "1Gi"\n  }\n}\n');
    await expect(parseWebhookConfig(big, '/w/webhook.hcl')).rejects.toThrow(
      /webhook\.hcl:7:20: webhook\.resources\.memory_limit: 1Gi is more than max_memory \(512Mi\)/,
    );
  });

  it('reads the same settings from JSON (what the Helm chart renders), with the same located errors', async () => {
    const json = JSON.stringify(
      {
        log_level: 'debug',
        webhook: {
          address: '0.0.0.0:8443',
          tls_cert_file: '/tls/tls.crt',
          tls_key_file: '/tls/tls.key',
          image: 'r/s:1',
          resources: { max_memory: '1Gi' },
          kubernetes_auth: { audience: 'openbao' },
        },
      },
      null,
      2,
    );
    const config = await parseWebhookConfig(json, '/w/webhook.json');
    expect(config).toMatchObject({ logLevel: 'debug', image: 'r/s:1', tokenAudience: 'openbao', resources: { max: { memory: '1Gi' } } });
    await expect(parseWebhookConfig(json.replace('"0.0.0.0:8443"', '"8443"'), '/w/webhook.json')).rejects.toThrow(
      /^\/w\/webhook\.json:4:16: webhook\.address: expected host:port/,
    );
  });

  it('refuses serving its own namespace', async () => {
    const text = minimal.replace('}\n', '  namespace = "ops"\n  namespaces = ["a", "ops"]\n}\n');
    await expect(parseWebhookConfig(text, '/w/webhook.hcl')).rejects.toThrow(/webhook\.namespaces: "ops" is the webhook's own namespace/);
  });
});

describe('Kubernetes quantities', () => {
  it('parses the forms the API server takes and refuses others', () => {
    expect(parseQuantity('100m')).toBeCloseTo(0.1);
    expect(parseQuantity('64Mi')).toBe(64 * 2 ** 20);
    expect(parseQuantity('1G')).toBe(1e9);
    expect(parseQuantity('2e3')).toBe(2000);
    expect(parseQuantity('1.5')).toBe(1.5);
    for (const bad of ['', '-1', '1 Gi', '1GiB', '../1', '1\n', 'Infinity', '1e999']) expect(parseQuantity(bad), bad).toBeUndefined();
  });
});

describe("the webhook's in-cluster address", () => {
  it('is built from KUBERNETES_SERVICE_HOST and _PORT as the rollout target builds it: a host that is not an address is refused', async () => {
    const access = { server: undefined, caFile: '/nonexistent/ca.crt', tokenFile: '/nonexistent/token' };
    for (const host of ['evil.example/x?', 'user@10.0.0.1', '10.0.0.1#']) {
      await expect(createKubeClient(access, { KUBERNETES_SERVICE_HOST: host }, 1000), host).rejects.toMatchObject({
        code: 'SIDECAR_ERR_CONFIG_INVALID',
        message: expect.stringContaining('KUBERNETES_SERVICE_HOST is not a host name or IP address') as string,
      });
    }
    await expect(createKubeClient(access, {}, 1000)).rejects.toMatchObject({ message: expect.stringContaining('KUBERNETES_SERVICE_HOST is empty') as string });
    // A good address gets as far as reading the CA.
    await expect(createKubeClient(access, { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }, 1000)).rejects.toMatchObject({
      code: 'SIDECAR_ERR_CONFIG_READ',
    });
  });
});
