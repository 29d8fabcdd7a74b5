import { describe, expect, it } from 'vitest';
import { SidecarError } from '../../src/errors.js';
import { compileTemplate } from '../../src/template/compile.js';
import type { RenderOptions, SecretLookup, SecretStore } from '../../src/template/render-state.js';
import { renderTemplate as renderBytes, type RenderResult } from '../../src/template/render.js';
import { parseSecretRef, secretKey } from '../../src/template/secret-ref.js';

/** An in-memory store: secrets are "fetched" only when the test says so, to drive render-to-fixpoint. */
class MemoryStore implements SecretStore {
  readonly fetched = new Map<string, unknown>();
  constructor(readonly all: Record<string, unknown>) {}
  lookup(key: string): SecretLookup {
    return this.fetched.has(key) ? { status: 'ready', value: this.fetched.get(key) } : { status: 'missing' };
  }
  fetch(keys: Iterable<string>): void {
    for (const key of keys) this.fetched.set(key, this.all[key]);
  }
}

/** A render whose complete result also carries its output as text, for readable assertions. */
function renderTemplate(...args: Parameters<typeof renderBytes>): RenderResult & { text?: string } {
  const result = renderBytes(...args);
  return result.status === 'complete' ? { ...result, text: result.bytes.toString('utf8') } : result;
}

const SECRETS = {
  'local:db': { username: 'app', password: 's3cr3t!Pa55', port: 5432, nested: { token: 'nested-tok-77' } },
  'local:api_key': 'key-abc-123',
  'local:pointer': 'local:api_key',
  'local:tls': { 'tls.crt': 'CERTDATA' },
};
const SECRET_VALUES = ['s3cr3t!Pa55', 'nested-tok-77', 'key-abc-123', 'CERTDATA'];

function options(store: SecretStore, extra: Partial<RenderOptions> = {}): RenderOptions {
  return { store, mask: false, errorOnMissingKey: true, env: {}, envAllow: [], ...extra };
}

/** Renders to completion the way the runner does: render, fetch what is missing, render again. */
function renderFully(source: string, extra: Partial<RenderOptions> = {}, strict = true): { text: string; passes: number } {
  const store = new MemoryStore(SECRETS);
  const template = compileTemplate('test.hbs', source, strict);
  for (let passes = 1; passes <= 10; passes++) {
    const result: RenderResult = renderTemplate(template, options(store, extra));
    if (result.status === 'complete') return { text: result.bytes.toString('utf8'), passes };
    store.fetch(result.missing.keys());
  }
  throw new Error('did not settle');
}

function renderError(source: string, extra: Partial<RenderOptions> = {}): SidecarError {
  try {
    renderFully(source, extra);
  } catch (error) {
    expect(error).toBeInstanceOf(SidecarError);
    return error as SidecarError;
  }
  throw new Error('expected the render to fail');
}

describe('secret references', () => {
  it('parses NAME:PATH#KEY with dot paths and escaped dots', () => {
    expect(parseSecretRef('local:db#password')).toMatchObject({ backend: 'local', path: 'db', keyPath: ['password'] });
    expect(parseSecretRef('vault:secret/data/app#data.password')).toMatchObject({ backend: 'vault', path: 'secret/data/app', keyPath: ['data', 'password'] });
    expect(parseSecretRef('k8s:tls#tls\\.crt')).toMatchObject({ path: 'tls', keyPath: ['tls.crt'] });
    expect(parseSecretRef('aws:arn:aws:secretsmanager:eu-west-1:1:secret:x').path).toBe('arn:aws:secretsmanager:eu-west-1:1:secret:x');
    expect(secretKey(parseSecretRef('local:db#a'))).toBe(secretKey(parseSecretRef('local:db#b')));
    for (const bad of ['nocolon', ':path', 'local:', 'local:db#', 'local:db#a..b', 'bad name:x']) {
      expect(() => parseSecretRef(bad)).toThrow(expect.objectContaining({ code: 'SIDECAR_ERR_REF_INVALID' }) as Error);
    }
  });
});

describe('reference arguments', () => {
  it('joins template arguments to the path as a canonical query, so equal arguments are one secret', () => {
    const a = parseSecretRef('main:pki/issue/web#certificate', { ttl: '72h', common_name: 'app.internal' });
    const b = parseSecretRef('main:pki/issue/web#private_key', { common_name: 'app.internal', ttl: '72h' });
    expect(a.path).toBe('pki/issue/web?common_name=app.internal&ttl=72h');
    expect(secretKey(a)).toBe(secretKey(b));
    expect(secretKey(parseSecretRef('main:pki/issue/web', { common_name: 'other.internal' }))).not.toBe(secretKey(a));
    expect(() => parseSecretRef('main:secret/app?version=2', { x: '1' })).toThrow(expect.objectContaining({ code: 'SIDECAR_ERR_REF_INVALID' }) as Error);
  });

  it('passes hash arguments other than default to the store, and rejects non-text ones', () => {
    const seen: string[] = [];
    const store: SecretStore = {
      lookup: (key) => {
        seen.push(key);
        return { status: 'ready', value: { certificate: 'CERT' } };
      },
    };
    const template = compileTemplate('t', '{{secret "main:pki/issue/web#certificate" common_name="a.internal" ttl=3600 default="x"}}', true);
    expect(renderTemplate(template, options(store))).toMatchObject({ status: 'complete', text: 'CERT' });
    expect(seen).toEqual(['main:pki/issue/web?common_name=a.internal&ttl=3600']);
  });
});

describe('rendering', () => {
  it('discovers dependencies by rendering, then renders the values without escaping', () => {
    const { text, passes } = renderFully('u={{secret "local:db#username"}} p={{secret "local:db#password"}} <&>');
    expect(text).toBe('u=app p=s3cr3t!Pa55 <&>');
    expect(passes).toBe(2);
  });

  it('follows references computed from other secrets until nothing is missing', () => {
    // local:pointer holds the reference "local:api_key": pass 1 finds the pointer missing, pass 2 its target.
    const { text, passes } = renderFully('key={{secret (secret "local:pointer")}}');
    expect(text).toBe('key=key-abc-123');
    expect(passes).toBe(3);
  });

  it('exposes a whole secret as an object for #with and #each, and prints objects as JSON', () => {
    expect(renderFully('{{#with (secret "local:db")}}{{username}}:{{port}}{{/with}}').text).toBe('app:5432');
    expect(renderFully('{{#each (secret "local:db")}}{{@key}};{{/each}}').text).toBe('username;password;port;nested;');
    expect(renderFully('{{secret "local:db#nested"}}').text).toBe('{"token":"nested-tok-77"}');
    expect(renderFully('{{secret "local:tls#tls\\.crt"}}').text).toBe('CERTDATA');
  });

  it('provides json, base64Encode, base64Decode, default, trim and indent', () => {
    expect(renderFully('{{json (secret "local:db#nested")}}').text).toBe('{"token":"nested-tok-77"}');
    expect(renderFully('{{json (secret "local:db#nested") indent=2}}').text).toBe('{\n  "token": "nested-tok-77"\n}');
    expect(renderFully('{{base64Encode (secret "local:api_key")}}').text).toBe(Buffer.from('key-abc-123').toString('base64'));
    expect(renderFully(`{{base64Decode "${Buffer.from('hello').toString('base64')}"}}`).text).toBe('hello');
    expect(renderFully('{{default "" "fallback"}}|{{default "x" "fallback"}}').text).toBe('fallback|x');
    expect(renderFully('[{{trim "  padded \n"}}]').text).toBe('[padded]');
    expect(renderFully('{{indent "a\nb" 4}}').text).toBe('    a\n    b');
  });

  it('fails a missing key with the template name, line and reference', () => {
    const error = renderError('line one\nvalue={{secret "local:db#pasword"}}');
    expect(error.code).toBe('SIDECAR_ERR_RENDER_MISSING_KEY');
    expect(error.message).toBe('template "test.hbs" line 2: secret "local:db#pasword" has no key "pasword"');
  });

  it('uses a default= fallback for a missing key, and renders empty when error_on_missing_key is off', () => {
    expect(renderFully('{{secret "local:db#missing" default="5432"}}').text).toBe('5432');
    const store = new MemoryStore(SECRETS);
    store.fetch(['local:db']);
    const lenient = renderTemplate(compileTemplate('t', '[{{secret "local:db#missing"}}]', false), options(store, { errorOnMissingKey: false }));
    expect(lenient).toMatchObject({ status: 'complete', text: '[]' });
  });

  it('fails a strict lookup of a missing field without quoting the secret it was looked up in', () => {
    const error = renderError('{{#with (secret "local:db#password")}}\n{{nope}}{{/with}}');
    expect(error.code).toBe('SIDECAR_ERR_RENDER_FAILED');
    expect(error.message).toContain('template "test.hbs"');
    expect(error.message).toContain('"nope"');
    for (const value of SECRET_VALUES) expect(error.message).not.toContain(value);
  });

  it('scrubs secret values from helper errors', () => {
    const error = renderError('{{base64Decode (secret "local:db#password")}}');
    expect(error.message).toContain('line 1: base64Decode was given text that is not base64');
    for (const value of SECRET_VALUES) expect(error.message).not.toContain(value);
  });

  it('masks every secret value in mask mode, naming the reference instead', () => {
    const { text } = renderFully(
      '{{secret "local:db#password"}} {{#with (secret "local:db")}}{{username}} {{nested.token}}{{/with}} {{base64Encode (secret "local:api_key")}} {{json (secret "local:db#nested")}}',
      { mask: true },
    );
    expect(text).toBe(
      '<masked:local:db#password> <masked:local:db#username> <masked:local:db#nested.token> <masked:local:api_key> {"token":"<masked:local:db#nested.token>"}',
    );
    for (const value of [...SECRET_VALUES, 'app']) expect(text).not.toContain(value);
  });

  it('reads only the environment variables the config allows', () => {
    const env = { POD_NAME: 'pod-1', APP_MODE: 'prod', VAULT_TOKEN: 'hvs.never' };
    expect(renderFully('{{env "POD_NAME"}} {{env "APP_MODE"}} [{{env "APP_UNSET"}}]', { env, envAllow: ['POD_NAME', 'APP_*'] }).text).toBe('pod-1 prod []');
    const error = renderError('{{env "VAULT_TOKEN"}}', { env, envAllow: ['POD_NAME'] });
    expect(error.message).toContain('env "VAULT_TOKEN" is not allowed');
    expect(error.message).not.toContain('hvs.never');
  });
});

describe('template safety', () => {
  it('reports a syntax error with the template name and line at load', () => {
    expect(() => compileTemplate('app.env.hbs', 'ok\nalso ok\n{{#with x}}\nunclosed', true)).toThrow(
      expect.objectContaining({
        code: 'SIDECAR_ERR_TEMPLATE_SYNTAX',
        message: expect.stringMatching(/^template "app\.env\.hbs" line \d+: /) as unknown,
      }) as Error,
    );
    expect(() => compileTemplate('b.hbs', 'a\n{{secret "x:y"}\n', true)).toThrow(
      expect.objectContaining({ message: expect.stringContaining('template "b.hbs" line 2:') as unknown }) as Error,
    );
  });

  it('rejects unknown helpers at load instead of rendering them as empty', () => {
    expect(() => compileTemplate('t.hbs', 'x\n{{secert "local:db"}}', true)).toThrow(
      expect.objectContaining({ code: 'SIDECAR_ERR_TEMPLATE_SYNTAX', message: expect.stringContaining('secert') as unknown }) as Error,
    );
    // `log` would print values to the console: it is not available.
    expect(() => compileTemplate('t.hbs', '{{log (secret "local:db")}}', true)).toThrow(
      expect.objectContaining({ code: 'SIDECAR_ERR_TEMPLATE_SYNTAX' }) as Error,
    );
  });

  it('gives no access to prototype properties', () => {
    const store = new MemoryStore(SECRETS);
    store.fetch(['local:db']);
    const result = renderTemplate(
      compileTemplate('t', '{{#with (secret "local:db")}}[{{constructor}}][{{__proto__}}]{{/with}}', false),
      options(store, { errorOnMissingKey: false }),
    );
    expect(result).toMatchObject({ status: 'complete', text: '[][]' });
  });

  it('lists the references written as literals, with their lines', () => {
    const template = compileTemplate('t', 'a {{secret "local:a"}}\n{{#with (secret "local:b#c")}}{{/with}} {{secret (secret "local:p")}}', true);
    expect(template.literalRefs).toEqual([
      { text: 'local:a', line: 1 },
      { text: 'local:b#c', line: 2 },
      { text: 'local:p', line: 2 },
    ]);
  });
});

describe('template sandbox', () => {
  const store = (value: unknown) => ({ lookup: () => ({ status: 'ready' as const, value }) });
  const render = (source: string, value: unknown, maxBytes?: number) =>
    renderTemplate(compileTemplate('t.hbs', source, true, maxBytes), { store: store(value), mask: false, errorOnMissingKey: true, env: {}, envAllow: [] });

  it('refuses partials and inline partials (the one way to recurse) when the template loads, naming the line', () => {
    expect(() => compileTemplate('t.hbs', 'a\n{{> other}}', true)).toThrow(/template "t\.hbs" line 2: partials and decorators are not supported/);
    expect(() => compileTemplate('t.hbs', '{{#*inline "p"}}{{> p}}{{/inline}}{{> p}}', true)).toThrow(/partials and decorators are not supported/);
  });

  it('stops a loop that would render past max_size before it finishes, and a render past it at the end', () => {
    const big = Array.from({ length: 2000 }, (_, i) => `item-${i}`);
    // Loops in loops: 2,000 × 2,000 items would be tens of megabytes; the render stops at the limit.
    expect(() => render('{{#with (secret "x:list")}}{{#each this}}{{#each ../this}}{{this}}{{/each}}{{/each}}{{/with}}', big, 64 * 1024)).toThrow(
      expect.objectContaining({ code: 'SIDECAR_ERR_RENDER_TOO_LARGE' }) as Error,
    );
    expect(() => render('{{secret "x:blob"}}', 'x'.repeat(2048), 1024)).toThrow(/renders more than 1024 bytes/);
    expect(render('{{#each (secret "x:list")}}{{this}},{{/each}}', ['a', 'b'])).toMatchObject({ status: 'complete', text: 'a,b,' });
  });

  it('keeps prototype access off: a template cannot reach constructors through a secret', () => {
    const source = '{{#with (secret "x:obj")}}[{{constructor.name}}][{{__proto__}}]{{/with}}';
    // Strict (error_on_missing_key): a field the secret does not have is an error, not Object's constructor.
    expect(() => render(source, { a: 1 })).toThrow(expect.objectContaining({ code: 'SIDECAR_ERR_RENDER_FAILED' }) as Error);
    const lax = renderTemplate(compileTemplate('t.hbs', source, false), {
      store: store({ a: 1 }),
      mask: false,
      errorOnMissingKey: false,
      env: {},
      envAllow: [],
    });
    expect(lax).toMatchObject({ status: 'complete', text: '[][]' });
  });
});
