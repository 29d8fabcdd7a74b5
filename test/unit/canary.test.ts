import { describe, expect, it } from 'vitest';
import { assertNoLeaks, canary, counts, recordShown, registerSecrets, resetCanary } from '../support/canary.js';

describe('the suite-wide leak canary', () => {
  it('fails loudly, naming where, when a test lets a canary out (and never prints the value)', () => {
    const value = canary('self-test');
    registerSecrets(['short', 'longer-registered-secret']);
    recordShown('a deliberate log line', `{"msg":"oops","token":"${value}"}`);
    recordShown('a clean page', 'nothing to see');
    expect(counts()).toEqual({ secrets: 2, records: 2 });
    let message = '';
    try {
      assertNoLeaks('self-test');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('LEAK CANARY (self-test): 1 secret value(s) found');
    expect(message).toContain(`a ${value.length}-character secret in a deliberate log line`);
    expect(message).not.toContain(value);
    // The check starts afresh, so this file's own afterAll check passes.
    expect(counts()).toEqual({ secrets: 0, records: 0 });
  });

  it('passes when every record is clean', () => {
    canary('clean');
    recordShown('a log', 'all good');
    expect(() => assertNoLeaks('clean')).not.toThrow();
    resetCanary();
  });
});
