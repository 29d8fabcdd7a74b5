import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeControlPlane, type KubeControlPlane } from '../support/kube-control-plane.js';

// The helper every Kubernetes test stands on: if it lied (no admission, no real tokens), they would prove nothing.
let kube: KubeControlPlane;

beforeAll(async () => {
  kube = await startKubeControlPlane();
  await kube.createNamespace('locked', { 'pod-security.kubernetes.io/enforce': 'restricted' });
  await kube.createServiceAccount('locked', 'app');
}, 90_000);
afterAll(async () => {
  await kube?.stop();
});

const restrictedPod = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec: {
    securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [{ name: 'app', image: 'busybox:1.37', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
  },
});

describe('a private Kubernetes control plane (test/support/kube-control-plane.ts)', () => {
  it('enforces PodSecurity restricted: a privileged pod is refused, a restricted one admitted and stored', async () => {
    const privileged = restrictedPod('privileged');
    privileged.spec.containers[0] = { name: 'app', image: 'busybox:1.37', securityContext: { privileged: true } } as never;
    const refused = await kube.api('POST', '/api/v1/namespaces/locked/pods', privileged);
    expect(refused.status).toBe(403);
    expect(String(refused.body?.['message'])).toContain('violates PodSecurity "restricted:latest": privileged');
    expect((await kube.api('GET', '/api/v1/namespaces/locked/pods/privileged')).status).toBe(404);

    await kube.apiOk('POST', '/api/v1/namespaces/locked/pods', restrictedPod('fine'));
    const stored = await kube.apiOk('GET', '/api/v1/namespaces/locked/pods/fine');
    expect((stored['metadata'] as { name: string }).name).toBe('fine');
  });

  it('issues service-account tokens that TokenReview accepts for their audience, and not once their bound Secret is gone', async () => {
    const token = await kube.serviceAccountToken('locked', 'app', { audiences: ['vault'] });
    expect(await kube.reviewToken(token, ['vault'])).toMatchObject({ authenticated: true, user: { username: 'system:serviceaccount:locked:app' } });
    // Another audience, or the API server's own: the token is not for that service.
    expect((await kube.reviewToken(token, ['elsewhere'])).authenticated).not.toBe(true);
    expect((await kube.reviewToken(token)).authenticated).not.toBe(true);

    await kube.apiOk('POST', '/api/v1/namespaces/locked/secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'anchor' } });
    const bound = await kube.serviceAccountToken('locked', 'app', {
      audiences: ['vault'],
      boundObjectRef: { kind: 'Secret', apiVersion: 'v1', name: 'anchor' },
    });
    expect((await kube.reviewToken(bound, ['vault'])).authenticated).toBe(true);
    await kube.apiOk('DELETE', '/api/v1/namespaces/locked/secrets/anchor');
    // Within the API server's 10 s cache of successful reviews.
    await kube.waitUntilTokenRefused(bound, ['vault'], 15_000);
    expect((await kube.reviewToken(bound, ['vault'])).error).toContain('invalidated');
  });

  it('refuses a token for an account that does not exist, and requests without the admin token', async () => {
    expect((await kube.api('POST', '/api/v1/namespaces/locked/serviceaccounts/ghost/token', { spec: { audiences: ['vault'] } })).status).toBe(404);
    expect((await kube.api('GET', '/api/v1/namespaces', undefined, { token: 'not-a-token' })).status).toBe(401);
    // No token lives less than 10 minutes: a test that needs one to die sooner binds it to an object and deletes that.
    const brief = await kube.api('POST', '/api/v1/namespaces/locked/serviceaccounts/app/token', { spec: { audiences: ['vault'], expirationSeconds: 5 } });
    expect(brief.status).toBe(422);
    expect(String(brief.body?.['message'])).toContain('may not specify a duration less than 10 minutes');
  });
});
