import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { Sealed, scrubSecrets, secretLeaves } from '../../src/sealed.js';
import { LogCapture, expectNoSecrets } from '../support/leaks.js';

describe('secret wrapper and log redaction', () => {
  it('prints [redacted] for a sealed value through JSON, inspect and string conversion', () => {
    const sealed = new Sealed({ password: 'sealed-pw-1' });
    expect(JSON.stringify({ s: sealed })).toBe('{"s":"[redacted]"}');
    expect(inspect(sealed)).toBe('[redacted]');
    expect(`${String(sealed)}`).toBe('[redacted]');
    expect(sealed.reveal()).toEqual({ password: 'sealed-pw-1' });
  });

  it('censors tokens, passwords and auth headers by path, and sealed values anywhere', () => {
    const capture = new LogCapture();
    const logger = createLogger({ level: 'info', format: 'json', stream: capture });
    logger.info({ token: 'tok-1', backend: { password: 'pw-2' }, headers: { authorization: 'Bearer bearer-3' }, deep: { x: new Sealed('sealed-4') } }, 'hello');
    expectNoSecrets(capture.text, ['tok-1', 'pw-2', 'bearer-3', 'sealed-4']);
    expect(capture.records()[0]).toMatchObject({ token: '[redacted]', backend: { password: '[redacted]' }, msg: 'hello' });
  });

  it('censors in pretty format too', () => {
    const capture = new LogCapture();
    createLogger({ level: 'info', format: 'pretty', stream: capture }).info({ token: 'pretty-tok-5', v: new Sealed('pretty-sealed-6') }, 'msg');
    expect(capture.text).toContain('msg');
    expectNoSecrets(capture.text, ['pretty-tok-5', 'pretty-sealed-6']);
  });

  it('scrubs every leaf of a structured secret from a message, longest first', () => {
    const leaves = secretLeaves({ a: 'abc', b: ['abcdef'], c: { d: 123456 }, e: 7 });
    expect([...leaves].sort()).toEqual(['123456', 'abc', 'abcdef']);
    expect(scrubSecrets('x abcdef y abc z 123456', leaves)).toBe('x [redacted] y [redacted] z [redacted]');
  });

  it('scrubs a short leaf only where it stands alone, so the wording around it neither garbles nor spells it out', () => {
    const leaves = secretLeaves({ a: 'v', b: 'on', c: 'x.y' });
    expect(scrubSecrets('invalid secret reference "v": expected one on "x.y" (xay)', leaves)).toBe(
      'invalid secret reference "[redacted]": expected one [redacted] "[redacted]" (xay)',
    );
    expect(scrubSecrets('environment ÿv', secretLeaves('v'))).toBe('environment ÿv');
  });
});
