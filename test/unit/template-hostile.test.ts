import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SidecarError } from '../../src/errors.js';
import { envOutput } from '../../src/runner/template-output.js';
import { secretLeaves } from '../../src/sealed.js';
import { compileTemplate } from '../../src/template/compile.js';
import { HELPERS } from '../../src/template/helpers.js';
import { createRenderState, withRenderState } from '../../src/template/render-state.js';
import type { RenderOptions, SecretLookup, SecretStore } from '../../src/template/render-state.js';
import { renderTemplate, type RenderResult } from '../../src/template/render.js';
import type { SecretRef } from '../../src/template/secret-ref.js';
import { canary } from '../support/canary.js';

/*
 * Issue 21 on the template side: values derived from secrets never shown as text (class 1), nothing internal
 * reachable from a template (class 2), bounded work (class 9), helper shapes (class 11), binary values (class 7),
 * and env values masked in dry runs.
 */

const POINTED = canary('pointed'); // a secret's value used as a reference
const CN = canary('cn');
const TOKEN = canary('token');
const PASSWORD = canary('password');

class MemoryStore implements SecretStore {
  readonly fetched = new Map<string, unknown>();
  readonly asked: string[] = [];
  constructor(readonly all: Record<string, unknown>) {}
  lookup(key: string): SecretLookup {
    return this.fetched.has(key) ? { status: 'ready', value: this.fetched.get(key) } : { status: 'missing' };
  }
  /** Fetches what a pass reported missing; a key with no secret stays missing (a fetch that fails). */
  fetch(missing: ReadonlyMap<string, SecretRef>): void {
    for (const key of missing.keys()) {
      this.asked.push(key);
      if (key in this.all) this.fetched.set(key, this.all[key]);
    }
  }
}

const SECRETS: Record<string, unknown> = {
  'local:pointer': `local:${POINTED}`,
  'local:padded': `  local:${POINTED}-p  `,
  'local:cn': CN,
  'local:tok': TOKEN,
  'local:db': { password: PASSWORD, user: 'app' },
  'local:flag-off': '',
  'local:flag-on': 'yes',
  'local:optional': 'optional-value',
  'local:notaref': PASSWORD,
};

function options(store: SecretStore, extra: Partial<RenderOptions> = {}): RenderOptions {
  return { store, mask: false, errorOnMissingKey: true, env: {}, envAllow: [], ...extra };
}

/** Renders pass after pass like the runner; returns every pass's result and what was asked of the store. */
function drive(source: string, extra: Partial<RenderOptions> = {}, secrets = SECRETS): { passes: RenderResult[]; store: MemoryStore; text?: string } {
  const store = new MemoryStore(secrets);
  const template = compileTemplate('t.hbs', source, false);
  const passes: RenderResult[] = [];
  for (let i = 0; i < 8; i++) {
    const result = renderTemplate(template, options(store, extra));
    passes.push(result);
    if (result.status === 'complete') return { passes, store, text: result.bytes.toString('utf8') };
    const before = store.fetched.size;
    store.fetch(result.missing);
    if (store.fetched.size === before) return { passes, store };
  }
  return { passes, store };
}

function missingRefs(result: RenderResult | undefined): SecretRef[] {
  return result?.status === 'incomplete' ? [...result.missing.values()] : [];
}

function failure(source: string, extra: Partial<RenderOptions> = {}, secrets = SECRETS): SidecarError {
  try {
    drive(source, extra, secrets);
  } catch (error) {
    expect(error).toBeInstanceOf(SidecarError);
    return error as SidecarError;
  }
  throw new Error('expected the render to fail');
}

const CANARIES = [POINTED, CN, TOKEN, PASSWORD];
const expectNone = (text: string) => {
  for (const value of CANARIES) expect(text).not.toContain(value);
};

describe('values derived from secrets (class 1)', () => {
  it('labels a reference computed from a secret as derived from the literal, never as its text', () => {
    const { passes } = drive('{{secret (secret "local:pointer")}}');
    const [ref] = missingRefs(passes[1]);
    expect(ref?.label).toBe('local:[derived from local:pointer]');
    expect(ref?.shown).toBe('[derived from local:pointer]');
    expect(ref?.pathLabel).toBe('[derived from local:pointer]');
    // The identity still holds the real path: it is what is fetched.
    expect(ref?.path).toBe(POINTED);
    expect(ref?.derived).toBe(true);
    expectNone(`${ref?.label ?? ''} ${ref?.shown ?? ''}`);
  });

  it('keeps the original literal through helper chains (trim, default, base64) and nested references', () => {
    const encoded = Buffer.from(`local:${POINTED}-b`).toString('base64');
    const { passes } = drive(
      `{{secret (trim (secret "local:padded"))}} {{secret (base64Decode (secret "local:b64"))}} {{secret (default (secret "local:pointer") "local:x")}}`,
      {},
      { ...SECRETS, 'local:b64': encoded },
    );
    const labels = missingRefs(passes[1]).map((r) => r.label);
    expect(labels).toEqual(
      expect.arrayContaining(['local:[derived from local:padded]', 'local:[derived from local:b64]', 'local:[derived from local:pointer]']),
    );
    expectNone(labels.join(' '));
  });

  it('shows a hash argument derived from a secret as its label in the path', () => {
    const { passes } = drive('{{secret "vault:pki/issue/web#certificate" common_name=(secret "local:cn") ttl="72h"}}');
    const [ref] = missingRefs(passes[1]);
    expect(ref?.label).toBe('vault:pki/issue/web?common_name=[derived from local:cn]&ttl=72h');
    expect(ref?.path).toBe(`pki/issue/web?common_name=${CN}&ttl=72h`);
  });

  it('never asks for a reference whose argument is not known yet (no "db?token=" fetch)', () => {
    const { passes, store } = drive('{{secret "vault:db" token=(secret "local:tok")}} {{secret "vault:pki/issue/web" common_name=(trim (secret "local:cn"))}}');
    expect(missingRefs(passes[0]).map((r) => r.path)).toEqual(['tok', 'cn']);
    expect(store.asked).not.toContain('vault:db?token=');
    expect(store.asked.filter((k) => k.startsWith('vault:'))).toEqual([`vault:db?token=${TOKEN}`, `vault:pki/issue/web?common_name=${CN}`]);
  });

  it('does not fetch with a fallback standing in for a lookup into a secret not fetched yet', () => {
    const { store, text } = drive(
      '{{secret "local:optional" cn=(default (lookup (secret "local:db") "user") "fallback")}}',
      {},
      { ...SECRETS, 'local:optional?cn=app': 'v' },
    );
    expect(text).toBe('v');
    expect(store.asked).not.toContain('local:optional?cn=fallback');
  });

  it('computes references from masked values in a dry run, and masks the result under its label', () => {
    const { text, store } = drive(
      '{{secret (secret "local:p4")}}',
      { mask: true },
      { ...SECRETS, 'local:p4': `local:${POINTED}`, [`local:${POINTED}`]: 'present' },
    );
    expect(text).toBe('<masked:[derived from local:p4]>');
    expect(store.asked).toContain(`local:${POINTED}`);
  });

  it('converges with #if on a secret not fetched yet, and never fetches the branch it does not take', () => {
    const off = drive('[{{#if (secret "local:flag-off")}}{{secret "local:optional"}}{{else}}none{{/if}}]');
    expect(off.text).toBe('[none]');
    expect(off.store.asked).not.toContain('local:optional');
    const on = drive('[{{#if (secret "local:flag-on")}}{{secret "local:optional"}}{{/if}}{{#unless (secret "local:flag-on")}}x{{/unless}}]');
    expect(on.text).toBe('[optional-value]');
    const each = drive('{{#each (secret "local:db")}}{{@key}}={{this}};{{/each}}{{#with (secret "local:db")}}{{user}}{{/with}}');
    expect(each.text).toBe(`password=${PASSWORD};user=app;app`);
  });

  it('keeps derived text out of errors: an invalid computed reference, a helper message, an env name', () => {
    for (const source of [
      '{{secret (secret "local:notaref")}}',
      '{{secret (trim (secret "local:notaref"))}}',
      '{{env (trim (secret "local:notaref"))}}',
      '{{secret "local:y?a=b" z=(secret "local:tok")}}',
    ]) {
      const error = failure(source);
      expectNone(`${error.message} ${error.hint ?? ''}`);
    }
    expect(failure('{{secret (trim (secret "local:notaref"))}}').message).toContain('[derived from local:notaref]');
  });

  it('treats a character or the length of a secret, looked up by index, as derived from it', () => {
    // A string has own properties "0", "1", … and "length": a lookup into one hands out its characters.
    const index = TOKEN.length - 3;
    const ch = TOKEN[index] ?? '';
    for (const source of [
      `{{env (lookup (secret "local:tok") ${index})}}`,
      `{{#with (secret "local:tok")}}{{env this.[${index}]}}{{/with}}`,
      `{{#with (secret "local:db")}}{{env password.[${index}]}}{{/with}}`,
      `{{secret (lookup (secret "local:tok") ${index})}}`,
    ]) {
      const error = failure(source);
      expect(error.message, source).toContain('[derived from local:');
      expect(error.message, source).not.toMatch(new RegExp(`env "(${ch.replace(/[^\w]/g, '\\$&')}|${TOKEN.length})"`));
    }
    // In a reference's arguments, which the audit record and metric labels show.
    const { passes } = drive(
      `{{secret "vault:db" c=(lookup (secret "local:tok") ${index})}}{{#with (secret "local:tok")}}{{secret "vault:kv" d=this.[${index}] n=this.length}}{{/with}}`,
    );
    const labels = passes
      .flatMap((p) => missingRefs(p))
      .map((r) => r.label)
      .filter((l) => l.startsWith('vault:'));
    expect(labels).toEqual(['vault:db?c=[derived from local:tok]', 'vault:kv?d=[derived from local:tok]&n=[derived from local:tok]']);
  });
});

describe('internal state is out of reach (class 2)', () => {
  it('gives a template nothing of the render state: @sidecar, @root, lookup, constructor, __proto__', () => {
    const probes = [
      '{{#each @sidecar.leaves}}{{this}}{{/each}}',
      '{{@sidecar}}{{@sidecar.spend}}{{@sidecar.options.store}}',
      '{{#each @root}}{{@key}}{{/each}}{{json @root}}',
      '{{lookup @root "sidecar"}}{{lookup this "constructor"}}{{this.constructor}}{{__proto__}}{{this.__proto__}}',
      '{{#with (secret "local:db")}}{{constructor}}{{__proto__.constructor}}{{lookup this "__proto__"}}{{/with}}',
      '{{#each (secret "local:db")}}{{@sidecar.masks}}{{@root.sidecar}}{{/each}}',
      '{{#if @sidecar}}reachable{{/if}}{{#with @sidecar}}reachable{{/with}}',
    ];
    for (const probe of probes) {
      // Dry-run style (mask mode): a probe that reached the leaves would print the real values.
      const { text } = drive(`${probe}|{{secret "local:db#password"}}`, { mask: true });
      expect(text).toBeDefined();
      expectNone(text ?? '');
      expect(text).not.toMatch(/function|\[object|native code|reachable/);
    }
    // The internal lookup helper (its name holds a NUL) cannot be called from a template.
    expect(() => compileTemplate('t.hbs', '{{[\u0000derivedLookup] this "x" 1}}', false)).toThrow(/unknown helper/);
  });
});

describe('bounded work (class 9)', () => {
  // A still clock: on a loaded machine the 500 ms guard could stop a render before the unit budget or the size
  // check these tests are about (the time guard has its own test, with a clock that jumps).
  beforeEach(() => vi.spyOn(performance, 'now').mockReturnValue(0));
  afterEach(() => vi.restoreAllMocks());
  const list = Array.from({ length: 3000 }, (_, i) => i);
  const render = (source: string, value: unknown, maxBytes = 1024 * 1024) =>
    renderTemplate(compileTemplate('t.hbs', source, false, maxBytes), {
      store: { lookup: () => ({ status: 'ready', value }) },
      mask: false,
      errorOnMissingKey: false,
      env: {},
      envAllow: [],
    });

  it('stops nested loops that produce nothing with a coded budget error', () => {
    // 3,000 × 3,000 iterations writing nothing: the size cap never sees them.
    for (const body of ['', '{{#if this}}{{/if}}', '{{trim "a"}}']) {
      expect(() => render(`{{#each (secret "x:l")}}{{#each (secret "x:l")}}${body}{{/each}}{{/each}}`, list)).toThrow(
        expect.objectContaining({
          code: 'SIDECAR_ERR_RENDER_BUDGET',
          message: expect.stringMatching(/^template "t\.hbs" does more work than a render may/) as unknown,
        }) as Error,
      );
    }
  });

  it('counts the search for placeholders inside a text: a literal "<masked:" in a loop over a large secret', () => {
    // Each call searched every tainted value (20,000 here) uncounted: seconds of event loop for 20,000 iterations.
    const names = Array.from({ length: 20_000 }, (_, i) => `entry-${i}`);
    for (const body of ['{{trim "<masked:a>"}}', '{{#with (trim "<masked:a>")}}{{/with}}']) {
      expect(() => render(`{{#each (secret "x:l")}}${body}{{/each}}`, names)).toThrow(expect.objectContaining({ code: 'SIDECAR_ERR_RENDER_BUDGET' }) as Error);
    }
  });

  it('also stops a render that has held the event loop past its time limit, on a machine too slow for the units', () => {
    // A clock that jumps 100 ms at each look stands for a slow or busy machine; the units alone would let it through.
    vi.restoreAllMocks(); // this test brings its own clock
    let clock = 0;
    const now = vi.spyOn(performance, 'now').mockImplementation(() => (clock += 100));
    try {
      const entries = Array.from({ length: 10_000 }, (_, i) => `n${i}`);
      expect(() => render('{{#each (secret "x:l")}}{{trim this}}{{/each}}', entries)).toThrow(
        expect.objectContaining({
          code: 'SIDECAR_ERR_RENDER_BUDGET',
          message: expect.stringMatching(/held the event loop for more than 500 ms/) as unknown,
        }) as Error,
      );
    } finally {
      now.mockRestore();
    }
  });

  it('lets a realistic template through: 10,000 entries with helpers on each', () => {
    const entries = Array.from({ length: 10_000 }, (_, i) => ({ name: `n${i}`, value: ` v${i} ` }));
    const result = render('{{#each (secret "x:l")}}export {{name}}="{{trim value}}" # {{base64Encode name}} {{json this}}\n{{/each}}', entries);
    expect(result.status).toBe('complete');
  });

  it('sizes a helper result before building it (indent, base64Encode, json)', () => {
    // Built first, this indent would be a 600-million-character string: V8 cannot even hold it.
    expect(() => render('{{indent (secret "x:v") 600000000}}', 'a\nb')).toThrow(expect.objectContaining({ code: 'SIDECAR_ERR_RENDER_TOO_LARGE' }) as Error);
    expect(() => render('{{base64Encode (base64Encode (base64Encode (secret "x:v")))}}', 'x'.repeat(500_000))).toThrow(
      expect.objectContaining({ code: 'SIDECAR_ERR_RENDER_TOO_LARGE' }) as Error,
    );
    expect(() =>
      render(
        '{{json (secret "x:v") indent=10}}',
        Array.from({ length: 100_000 }, () => [[1]]),
      ),
    ).toThrow(expect.objectContaining({ code: 'SIDECAR_ERR_RENDER_TOO_LARGE' }) as Error);
    expect(render('{{indent (secret "x:v") 2}}', 'a\n\nb')).toMatchObject({ status: 'complete', bytes: Buffer.from('  a\n\n  b') });
  });
});

describe('helper shapes (class 11)', () => {
  it('refuses a helper called with the wrong arguments when the template loads, with its line', () => {
    const cases: [string, RegExp][] = [
      ['ok\n{{trim}}', /line 2: trim takes 1 argument, got 0/],
      ['{{json}}', /json takes 1 argument, got 0/],
      ['{{json "a" "b"}}', /json takes 1 argument, got 2/],
      ['{{indent "a"}}', /indent takes 2 arguments, got 1/],
      ['{{default "a"}}', /default takes 2 arguments/],
      ['{{secret}}', /secret takes 1 argument/],
      ['{{base64Decode (trim)}}', /trim takes 1 argument/],
      ['{{#trim "x"}}{{/trim}}', /trim is not a block helper/],
      ['{{each (secret "a:b")}}', /each is a block helper/],
      ['{{json "a" foo=1}}', /json takes no argument "foo="/],
      ['\n\n{{#each}}{{/each}}', /line 3: each takes 1 argument/],
      ['{{lookup this}}', /lookup takes 2 arguments/],
    ];
    for (const [source, message] of cases) {
      expect(() => compileTemplate('t.hbs', source, true)).toThrow(
        expect.objectContaining({ code: 'SIDECAR_ERR_TEMPLATE_SYNTAX', message: expect.stringMatching(message) as unknown }) as Error,
      );
    }
  });
});

describe('helper shapes at run time (class 11)', () => {
  it('fails a call of the wrong shape with a coded error and its line, not a TypeError', () => {
    const state = createRenderState(options(new MemoryStore({})), 1024, 't.hbs');
    const call =
      (name: keyof typeof HELPERS, ...args: unknown[]) =>
      () =>
        withRenderState(state, () => HELPERS[name](...args, { hash: {}, loc: { start: { line: 3 } } }));
    expect(call('trim')).toThrow(
      expect.objectContaining({ code: 'SIDECAR_ERR_RENDER_FAILED', message: 'line 3: trim takes 1 argument, got 0: {{trim value}}' }) as Error,
    );
    expect(call('json', 'a', 'b')).toThrow(
      expect.objectContaining({
        code: 'SIDECAR_ERR_RENDER_FAILED',
        message: expect.stringContaining('line 3: json takes 1 argument, got 2') as unknown,
      }) as Error,
    );
    expect(call('indent', 'a')).toThrow(expect.objectContaining({ code: 'SIDECAR_ERR_RENDER_FAILED' }) as Error);
  });
});

describe('binary values (class 7)', () => {
  const blob = randomBytes(4096); // random bytes: not UTF-8, like a PKCS#12 keystore
  blob[0] = 0xff;
  const bytesOf = (source: string, value: unknown, mask = false) => {
    const result = renderTemplate(compileTemplate('t.hbs', source, true), {
      store: { lookup: () => ({ status: 'ready', value }) },
      mask,
      errorOnMissingKey: true,
      env: {},
      envAllow: [],
    });
    if (result.status !== 'complete') throw new Error('incomplete');
    return result.bytes;
  };

  it('writes a binary secret (a Buffer from a backend, or base64Decode of binary data) byte for byte', () => {
    expect(bytesOf('{{secret "files:keystore.p12"}}', blob).equals(blob)).toBe(true);
    expect(bytesOf('{{base64Decode (secret "files:keystore.b64")}}', blob.toString('base64')).equals(blob)).toBe(true);
    expect(bytesOf('A{{base64Decode (secret "files:k")}}B', blob.toString('base64')).equals(Buffer.concat([Buffer.from('A'), blob, Buffer.from('B')]))).toBe(
      true,
    );
    expect(bytesOf('{{base64Encode (base64Decode (secret "files:k"))}}', blob.toString('base64')).toString()).toBe(blob.toString('base64'));
    expect(bytesOf('{{base64Encode (secret "files:k")}}', blob).toString()).toBe(blob.toString('base64'));
  });

  it('keeps bytes nested in a structured secret as bytes', () => {
    expect(bytesOf('{{#with (secret "f:bundle")}}{{p12}}{{/with}}', { p12: blob }).equals(blob)).toBe(true);
  });

  it('refuses binary bytes in a text helper with a coded error', () => {
    for (const source of ['{{trim (secret "f:k")}}', '{{indent (secret "f:k") 2}}', '{{json (secret "f:k")}}', '{{secret (secret "f:k")}}']) {
      expect(() => bytesOf(source, blob)).toThrow(expect.objectContaining({ code: 'SIDECAR_ERR_RENDER_BINARY' }) as Error);
    }
  });

  it('refuses binary bytes for an env_template (a variable holds text), and never scrubs messages by byte values', async () => {
    const values = new Map<string, string>();
    await expect(envOutput('KEYSTORE', values, () => undefined).write(blob)).rejects.toMatchObject({ code: 'SIDECAR_ERR_RENDER_BINARY' });
    await expect(envOutput('KEYSTORE', values, () => undefined).write(Buffer.from('a\u0000b'))).rejects.toMatchObject({ code: 'SIDECAR_ERR_RENDER_BINARY' });
    expect(values.size).toBe(0);
    expect(secretLeaves({ key: blob }).size).toBe(0);
  });

  it('masks a binary value in a dry run', () => {
    expect(bytesOf('{{secret "files:keystore.p12"}}', blob, true).toString()).toBe('<masked:files:keystore.p12>');
  });
});

describe('dry-run masking of env values', () => {
  it('masks env values like secrets in mask mode', () => {
    const env = { DB_URL: `postgres://app:${PASSWORD}@db` };
    expect(drive('{{env "DB_URL"}} {{trim (env "DB_URL")}}', { env, envAllow: ['DB_URL'], mask: true }).text).toBe('<masked:env:DB_URL> <masked:env:DB_URL>');
    expect(drive('{{env "DB_URL"}}', { env, envAllow: ['DB_URL'] }).text).toBe(env.DB_URL);
  });
});
