import { describe, expect, it } from 'vitest';
import type { SidecarEvent } from '../../src/events.js';
import { Readiness } from '../../src/observe/readiness.js';

const fetch = (path: string, outcome: 'ok' | 'error'): SidecarEvent => ({
  kind: 'audit',
  record: { event: 'secret.fetch', backend: 'main', path, outcome, durationMs: 1 },
});

describe('readiness', () => {
  it('is ready once rendered, rides out a failure shorter than the grace, and not one longer', () => {
    let now = 0;
    const readiness = new Readiness(1_000, () => now);
    expect(readiness.state()).toEqual({ ready: false, reasons: ['not every template has rendered yet'] });
    readiness.markRendered();
    readiness.observe(fetch('secret/a', 'ok'));
    expect(readiness.state().ready).toBe(true);
    readiness.observe(fetch('secret/a', 'error'));
    now = 1_000;
    expect(readiness.state().ready).toBe(true);
    // Later failures do not restart the clock; the first one does.
    readiness.observe(fetch('secret/a', 'error'));
    now = 1_001;
    expect(readiness.state()).toEqual({ ready: false, reasons: ['main:secret/a has been failing for 1s'] });
    readiness.observe(fetch('secret/a', 'ok'));
    expect(readiness.state().ready).toBe(true);
  });

  it('forgets a failing reference that no template uses any more (dropped by a reload)', () => {
    let now = 0;
    const readiness = new Readiness(100, () => now);
    readiness.markRendered();
    readiness.observe(fetch('secret/gone', 'error'));
    now = 500;
    expect(readiness.state(new Set(['main:secret/gone'])).ready).toBe(false);
    expect(readiness.state(new Set(['main:secret/other'])).ready).toBe(true);
    expect(readiness.state(new Set(['main:secret/gone'])).ready).toBe(true);
  });

  it("counts a backend's token that cannot be looked up, until it can, and forgets it with its backend", () => {
    let now = 0;
    const readiness = new Readiness(100, () => now);
    readiness.markRendered();
    const lookup = (outcome: 'ok' | 'error'): SidecarEvent => ({
      kind: 'audit',
      record: { event: 'auth.lookup', backend: 'main', path: 'auth/token/lookup-self', outcome, durationMs: 1 },
    });
    readiness.observe(lookup('error'));
    now = 200;
    expect(readiness.state(new Set(['main:secret/a']))).toEqual({
      ready: false,
      reasons: ['main:auth/token/lookup-self has been failing for 0s: the token is not renewed until it answers'],
    });
    readiness.observe(lookup('ok'));
    expect(readiness.state(new Set(['main:secret/a'])).ready).toBe(true);
    readiness.observe(lookup('error'));
    now = 400;
    expect(readiness.state(new Set(['other:secret/a'])).ready).toBe(true);
  });
});
