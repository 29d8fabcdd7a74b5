import { describe, expect, it } from 'vitest';
import { SidecarError } from '../../src/errors.js';
import { compileTemplate } from '../../src/template/compile.js';
import { goJSON } from '../../src/template/go-json.js';
import { goYAML, naturalLess } from '../../src/template/go-yaml.js';
import type { SecretLookup } from '../../src/template/render-state.js';
import { renderTemplate } from '../../src/template/render.js';
import { canary } from '../support/canary.js';

const SECRET = canary('go-helpers');
const STORE: Record<string, unknown> = {
  'v:app': { b: 'two', a: 'one', '10': 'ten', '9': 'nine', html: '<a&b>', secret: SECRET, list: ['x', 'y'], n: 3 },
  'v:dir/': ['k1', 'k2'],
  'v:dir/k1': { v: 'one' },
  'v:dir/k2': { v: SECRET },
  'v:text': `a-${SECRET}-b`,
  'v:large': 'x'.repeat(200_000),
  'v:big': Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`k${i}`, 'v'])),
};

function render(source: string, budget?: number, mask = false): string {
  const fetched = new Set<string>();
  const template = compileTemplate('t.hbs', source, true);
  for (let pass = 0; pass < 10; pass++) {
    const result = renderTemplate(
      template,
      {
        store: {
          lookup: (key): SecretLookup =>
            fetched.has(key) && key in STORE
              ? { status: 'ready', value: STORE[key] }
              : fetched.has(key)
                ? { status: 'ready', value: undefined }
                : { status: 'missing' },
        },
        mask,
        errorOnMissingKey: true,
        env: {},
        envAllow: [],
      },
      budget,
    );
    if (result.status === 'complete') return result.bytes.toString('utf8');
    for (const key of result.missing.keys()) fetched.add(key);
  }
  throw new Error('did not settle');
}

function failure(source: string, budget?: number): SidecarError {
  try {
    render(source, budget);
  } catch (error) {
    expect(error).toBeInstanceOf(SidecarError);
    expect((error as SidecarError).message).not.toContain(SECRET);
    return error as SidecarError;
  }
  throw new Error('expected the render to fail');
}

describe('list', () => {
  it('reads the names under a path (a reference ending in "/"), adding the slash when it is missing', () => {
    expect(render('{{#each (list "v:dir")}}{{this}};{{/each}}')).toBe('k1;k2;');
    expect(render('{{#each (list "v:dir/")}}{{this}};{{/each}}')).toBe('k1;k2;');
  });

  it('in a dry run, reads each listed path through a placeholder, showing no name or value', () => {
    const source = '{{#range (list "v:dir")}}{{this}}={{#with (secret (printf "v:dir/%s" this))}}{{upper this.v}}{{/with}};{{/range}}';
    expect(render(source)).toBe(`k1=ONE;k2=${SECRET.toUpperCase()};`);
    const dry = render(source, undefined, true);
    expect(dry).toMatch(/^<masked:v:dir\/\.0>=<masked:\[derived from v:dir\/\] \d+>;<masked:v:dir\/\.1>=<masked:\[derived from v:dir\/\] \d+>;$/);
    expect(dry).not.toContain('one');
    expect(dry).not.toContain(SECRET.toUpperCase());
  });

  it('is checked with the literal references when the template loads (validate names an unknown backend)', () => {
    expect(compileTemplate('t.hbs', 'a\n{{#range (list "nope:dir")}}{{/range}}', true).literalRefs).toEqual([{ text: 'nope:dir', line: 2 }]);
  });

  it('refuses a key part and anything but text', () => {
    expect(failure('{{list "v:dir/#k"}}').message).toContain('list takes one reference to a path');
    expect(failure('{{list 3}}').message).toContain('list takes one reference');
  });
});

describe('range', () => {
  it("walks a map in sorted key order (Go's), where #each keeps JavaScript's order", () => {
    expect(render('{{#with (secret "v:app")}}{{#range this as |v k|}}{{k}},{{/range}}{{/with}}')).toBe('10,9,a,b,html,list,n,secret,');
    expect(render('{{#with (secret "v:app")}}{{#each this}}{{@key}},{{/each}}{{/with}}')).toBe('9,10,b,a,html,secret,list,n,');
  });

  it('walks lists in order with @index, @first, @last, and runs else when empty or missing', () => {
    expect(render('{{#range (secret "v:app#list") as |v i|}}{{i}}{{v}}{{@index}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}} {{/range}}')).toBe('0x0F 1y1L ');
    expect(render('{{#range (secret "v:app#nothing" default="") }}x{{else}}empty{{/range}}')).toBe('empty');
  });

  it('refuses text and numbers, and counts every iteration against the budget', () => {
    expect(failure('{{#range (secret "v:app#n")}}x{{/range}}').message).toContain('range takes a list or a map');
    expect(failure('{{#range (secret "v:big")}}{{#range (secret "v:big")}}.{{/range}}{{/range}}').code).toBe('SIDECAR_ERR_RENDER_BUDGET');
  });
});

describe('let and assign', () => {
  it('binds any value, empty ones included, for the block', () => {
    expect(render('{{#let "" as |x|}}[{{x}}]{{/let}}{{#let (secret "v:app#a") as |x|}}{{x}}{{/let}}')).toBe('[]one');
  });

  it('updates a cell across iterations; assign refuses anything but a cell', () => {
    expect(render('{{#let "none" cell=true as |c|}}{{#range (secret "v:app#list") as |v|}}{{assign c v}}{{/range}}{{c.value}}{{/let}}')).toBe('y');
    expect(failure('{{#with (secret "v:app")}}{{assign this "x"}}{{/with}}').message).toContain('assign takes a variable made by');
  });
});

describe('string helpers', () => {
  it("replace, split, join, upper, lower, trimSpace, contains behave as consul-template's", () => {
    expect(render('{{replace "a-b-c" "-" "+"}} {{replace "ab" "" "."}} {{join (split " x,y " ",") "|"}} {{#each (split "  " ",")}}never{{/each}}')).toBe(
      'a+b+c .a.b. x|y ',
    );
    expect(render('{{upper "aé"}} {{lower "AÉ"}} [{{trimSpace "\u00a0 x \n"}}]')).toBe('AÉ aé [x]');
    expect(
      render('{{#if (contains "haystack" "st")}}1{{/if}}{{#if (contains (secret "v:app#list") "y")}}2{{/if}}{{#unless (contains "a" "b")}}3{{/unless}}'),
    ).toBe('123');
  });

  it('printf formats %s %d %v %q %t %% and refuses the rest', () => {
    expect(render('{{printf "%s|%d|%v|%q|%t|%%" "a" 42 "v" "q\\"" true}}')).toBe('a|42|v|"q\\""|true|%');
    expect(failure('{{printf "%05d" 3}}').message).toContain('not %05d');
    expect(failure('{{printf "%d" "x"}}').message).toContain('%d takes a whole number');
    expect(failure('{{printf "%s %s" "x"}}').message).toContain('more verbs than arguments');
    // A format computed from a secret is not quoted.
    expect(failure('{{printf (replace (secret "v:app#secret") "canary" "%x")}}').message).not.toContain('%x');
  });

  it("upper and lower map each character on its own, as Go's ToUpper and ToLower do", () => {
    // consul-template v0.42.1 prints "STRAßE ΑΣ İ ǅ" and "straße ασ i ǆ" for these.
    expect(render('{{upper "Straße ΑΣ İ ǅ"}} {{lower "Straße ΑΣ İ ǅ"}}')).toBe('STRAßE ΑΣ İ Ǆ straße ασ i ǆ');
  });

  it("printf %q quotes as Go's strconv.Quote", () => {
    // consul-template v0.42.1: "a\x01é\u00a0\x7f\a\v😀\U0010ffff"
    expect(render('{{printf "%q" "a\u0001é\u00a0\u007f\u0007\u000b😀\udbff\udfff"}}')).toBe('"a\\x01é\\u00a0\\x7f\\a\\v😀\\U0010ffff"');
  });

  it('printf stops at the size limit while it builds, not after building a string past what memory holds', () => {
    const error = failure(`{{printf "${'%s'.repeat(3000)}" ${'(secret "v:large") '.repeat(3000)}}}`);
    expect(error.code).toBe('SIDECAR_ERR_RENDER_TOO_LARGE');
  });

  it('keeps results derived from a secret out of error messages', () => {
    const error = failure('{{secret (printf "v:%s" (upper (secret "v:text")))}}');
    expect(error.message).not.toContain(SECRET.toUpperCase());
    expect(error.message).toContain('[derived from v:text]');
  });

  it('checks arity when the template loads', () => {
    expect(() => compileTemplate('t.hbs', '{{replace "a" "b"}}', true)).toThrow(/replace takes 3 arguments, got 2/);
    expect(() => compileTemplate('t.hbs', '{{printf}}', true)).toThrow(/printf takes at least 1 argument, got 0/);
    expect(() => compileTemplate('t.hbs', '{{range "x"}}', true)).toThrow(/range is a block helper/);
    expect(() => compileTemplate('t.hbs', '{{#let 1 cells=true as |x|}}{{/let}}', true)).toThrow(/let takes no argument "cells="/);
  });
});

describe('len, lt, le, gt, ge', () => {
  it('count and order as Go does, refusing to compare a number with a text', () => {
    expect(render('{{len (secret "v:app")}} {{len (secret "v:app#list")}} {{len "é"}} {{#if (gt (len (secret "v:app#list")) 1)}}many{{/if}}')).toBe(
      '8 2 2 many',
    );
    expect(render('{{#if (lt "a" "b")}}1{{/if}}{{#if (le 2 2)}}2{{/if}}{{#if (ge 1 2)}}x{{/if}}{{#if (gt "b" "a")}}3{{/if}}')).toBe('123');
    expect(failure('{{#if (lt 1 "2")}}x{{/if}}').message).toContain('lt compares two numbers or two texts');
    expect(failure('{{len 3}}').message).toContain('len takes a text, a list or a map');
  });
});

describe('eq, ne, not, and, or', () => {
  it("compare and combine with Go's notion of empty", () => {
    expect(
      render('{{#if (eq "a" "b" "a")}}1{{/if}}{{#if (ne 1 2)}}2{{/if}}{{#if (not (secret "v:app#list"))}}x{{else}}3{{/if}}{{or "" 0 "z"}}{{and "a" "" "b"}}.'),
    ).toBe('123z.');
  });
});

describe('toJSON, toJSONPretty, toYAML', () => {
  it('write JSON as Go does: sorted keys, <>& escaped, two-space pretty form', () => {
    expect(render('{{toJSON (secret "v:app")}}')).toBe(
      `{"10":"ten","9":"nine","a":"one","b":"two","html":"\\u003ca\\u0026b\\u003e","list":["x","y"],"n":3,"secret":"${SECRET}"}`,
    );
    expect(goJSON({ b: [], a: {}, c: [1, { d: null }], e: '\u2028\b\u0001' }, '  ')).toBe(
      '{\n  "a": {},\n  "b": [],\n  "c": [\n    1,\n    {\n      "d": null\n    }\n  ],\n  "e": "\\u2028\\b\\u0001"\n}',
    );
  });

  it('write YAML as yaml.v2 does', () => {
    expect(goYAML({ b: 'x', a: ['1', { k: 'v', j: true }], c: {}, 'key 10': 1e6, 'key 9': 'line1\nline2', d: 'yes', e: 'a: b', f: "it's" })).toBe(
      'a:\n- "1"\n- j: true\n  k: v\nb: x\nc: {}\nd: "yes"\ne: \'a: b\'\nf: it\'s\nkey 9: |-\n  line1\n  line2\nkey 10: 1000000',
    );
    expect(goYAML({ long: 'word '.repeat(20).trim() })).toBe(`long: ${'word '.repeat(15)}word\n  ${'word '.repeat(3)}word`);
    expect(['a10', 'a9', 'b', '_', 'A'].sort(naturalLess)).toEqual(['_', 'A', 'a9', 'a10', 'b']);
  });

  it('refuse binary bytes and charge their work', () => {
    expect(failure('{{toYAML (base64Decode "/w==")}}').code).toBe('SIDECAR_ERR_RENDER_BINARY');
    expect(failure('{{toJSON (secret "v:big")}}', 2000).code).toBe('SIDECAR_ERR_RENDER_BUDGET');
  });
});

describe('unconverted', () => {
  it('fails the render with its message', () => {
    const error = failure('a{{unconverted "line 3, column 4 of the original: key was not converted"}}');
    expect(error.code).toBe('SIDECAR_ERR_RENDER_FAILED');
    expect(error.message).toContain('unconverted: line 3, column 4 of the original: key was not converted');
  });
});

describe('hostile sizes', () => {
  it('stops a split into more parts than the work budget allows', () => {
    STORE['v:huge'] = 'x'.repeat(3_000_000);
    try {
      expect(failure(`{{#if (split (secret "v:huge") "")}}x{{/if}}`).code).toBe('SIDECAR_ERR_RENDER_BUDGET');
    } finally {
      delete STORE['v:huge'];
    }
  });
});
