import { describe, expect, it } from 'vitest';
import { translateGoTemplate } from '../../../src/convert/go-template/translate.js';
import { SidecarError } from '../../../src/errors.js';
import { compileTemplate } from '../../../src/template/compile.js';
import { renderTemplate } from '../../../src/template/render.js';
import type { SecretLookup } from '../../../src/template/render-state.js';

/** What our Vault backend answers for each reference: KV v2 data unwrapped, listings as sorted names. */
const VAULT: Record<string, unknown> = {
  'vault:secret/data/app': { user: 'app', password: 'pw-1', port: 5432, zeta: 'z', alpha: 'a', 'tls.crt': 'CRT' },
  'vault:kv1/app': { api_key: 'key-1', 'b-2': 'two' },
  'vault:kv1/dir/': ['one', 'two'],
  'vault:kv1/dir/one': { v: '1' },
  'vault:kv1/dir/two': { v: '2' },
  'vault:database/creds/app': { username: 'v-app', password: 'db-pw' },
  'vault:pki/issue/web?common_name=a.example.com&ttl=1h': { certificate: 'CERT', private_key: 'KEY', issuing_ca: 'CA', ca_chain: ['CA'] },
};

function translate(source: string) {
  return translateGoTemplate(source, { file: 'app.ctmpl', vaultBackend: 'vault' });
}

/** Renders a translated template to completion against VAULT (fetching what each pass found missing). */
function render(hbs: string, env: Record<string, string> = {}): string {
  const fetched = new Set<string>();
  const template = compileTemplate('app.hbs', hbs, false);
  for (let pass = 0; pass < 10; pass++) {
    const result = renderTemplate(template, {
      store: { lookup: (key): SecretLookup => (fetched.has(key) ? { status: 'ready', value: VAULT[key] } : { status: 'missing' }) },
      mask: false,
      errorOnMissingKey: false,
      env,
      envAllow: Object.keys(env),
    });
    if (result.status === 'complete') return result.bytes.toString('utf8');
    for (const key of result.missing.keys()) fetched.add(key);
  }
  throw new Error('did not settle');
}

function converted(source: string, env: Record<string, string> = {}): string {
  const { template, findings } = translate(source);
  expect(findings).toEqual([]);
  return render(template, env);
}

describe('translating secrets', () => {
  it('turns `with secret` on KV v2 into #with over our secret, .Data.data.key into the key', () => {
    const { template } = translate('{{ with secret "secret/data/app" }}{{ .Data.data.password }}{{ end }}');
    expect(template).toBe('{{#with (secret "vault:secret/data/app")}}{{this.password}}{{/with}}');
    expect(render(template)).toBe('pw-1');
  });

  it('reads KV v1 and dynamic secrets through .Data.key', () => {
    expect(
      converted(
        '{{ with secret "kv1/app" }}{{ .Data.api_key }}{{ end }} {{ with secret "database/creds/app" }}{{ .Data.username }}:{{ .Data.password }}{{ end }}',
      ),
    ).toBe('key-1 v-app:db-pw');
  });

  it('joins a field of a literal secret to the reference, escaping dots in the key', () => {
    const { template } = translate('{{ (secret "secret/data/app").Data.data.user }} {{ (secret "secret/data/app").Data.data.tls.crt }}');
    expect(template).toBe('{{secret "vault:secret/data/app#user"}} {{secret "vault:secret/data/app#tls.crt"}}');
    expect(translate('{{ index (secret "secret/data/app").Data.data "tls.crt" }}').template).toBe('{{lookup (secret "vault:secret/data/app") "tls.crt"}}');
    expect(converted('{{ index (secret "secret/data/app").Data.data "tls.crt" }}')).toBe('CRT');
  });

  it('passes write arguments to secret as template arguments (PKI issue)', () => {
    const { template } = translate('{{ with secret "pki/issue/web" "common_name=a.example.com" "ttl=1h" }}{{ .Data.certificate }}{{ end }}');
    expect(template).toBe('{{#with (secret "vault:pki/issue/web" common_name="a.example.com" ttl="1h")}}{{this.certificate}}{{/with}}');
    expect(render(template)).toBe('CERT');
  });

  it("translates Go's print, with Sprint's spaces between two operands that are not text", () => {
    expect(converted('{{ print "a" 1 2 "b" true }}|{{ with secret (print "kv1/" "app") }}{{ print .Data.api_key }}{{ end }}')).toBe('a1 2btrue|key-1');
    // A literal that is not printed as text (1.5, index of a literal) is not looked up as a name either.
    expect(converted('{{ print }}|{{ 1.5 }}|{{ index "abc" }}|{{ -2.5 }}')).toBe('|1.5|abc|-2.5');
  });

  it('passes a write argument computed with printf ("common_name=%s") as the key and the printf of the rest', () => {
    const { template, findings } = translate(
      '{{ $d := "example.com" }}{{ with secret "pki/issue/web" (printf "common_name=a.%s" $d) "ttl=1h" }}{{ .Data.certificate }}{{ end }}',
    );
    expect(findings).toEqual([]);
    expect(template).toContain('(secret "vault:pki/issue/web" common_name=(printf "a.%s" d) ttl="1h")');
    expect(render(template)).toBe('CERT');
  });

  it('gives pkiCert its Cert, Key and CA, each ending in a line break as consul-template re-encodes them', () => {
    expect(converted('{{ with pkiCert "pki/issue/web" "common_name=a.example.com" "ttl=1h" }}{{ .Cert }}{{ .Key }}{{ .CA }}{{ end }}')).toBe('CERT\nKEY\nCA\n');
  });

  it('lists with secrets and reads each listed path through printf', () => {
    const source = '{{ range secrets "kv1/dir/" }}{{ . }}={{ with secret (printf "kv1/dir/%s" .) }}{{ .Data.v }}{{ end }};{{ end }}';
    const { template } = translate(source);
    expect(template).toBe('{{#range (list "vault:kv1/dir")}}{{this}}={{#with (secret (printf "vault:kv1/dir/%s" this))}}{{this.v}}{{/with}};{{/range}}');
    expect(render(template)).toBe('one=1;two=2;');
  });

  it('ranges over a secret in sorted key order, with variables and an else', () => {
    expect(converted('{{ with secret "secret/data/app" }}{{ range $k, $v := .Data.data }}{{ $k }}={{ $v }},{{ end }}{{ end }}')).toBe(
      'alpha=a,password=pw-1,port=5432,tls.crt=CRT,user=app,zeta=z,',
    );
    expect(converted('{{ range $x := secrets "kv1/dir/" }}[{{ $x }}]{{ else }}none{{ end }}')).toBe('[one][two]');
  });
});

describe('translating control flow, variables and functions', () => {
  it('translates if / else if / else with eq, ne, not, and, or', () => {
    const source =
      '{{ with secret "secret/data/app" }}{{ if eq .Data.data.user "root" }}r{{ else if and (ne .Data.data.user "x") (not "") }}a{{ else }}e{{ end }}{{ end }}';
    const { template } = translate(source);
    expect(template).toContain('{{#if (eq this.user "root")}}r{{else if (and (ne this.user "x") (deferred "not" ""))}}a{{else}}e{{/if}}');
    expect(render(template)).toBe('a');
    expect(converted('{{ with secret "kv1/app" }}{{ if gt (len .Data) 1 }}{{ len .Data }}{{ end }}{{ if lt 1 2 }}<{{ end }}{{ end }}')).toBe('2<');
  });

  it('scopes $x := to the rest of its block and updates $x = across loop iterations, as Go does', () => {
    const source = '{{ $n := "none" }}{{ range $i, $e := split "," "a,b,c" }}{{ $n = $e }}{{ end }}last={{ $n }}';
    const { template } = translate(source);
    expect(template).toBe('{{#let "none" cell=true as |n|}}{{#range (split "a,b,c" ",") as |e i|}}{{assign n e}}{{/range}}last={{n.value}}{{/let}}');
    expect(render(template)).toBe('last=c');
    expect(converted('{{ $a := "x" }}{{ if true }}{{ $a := "inner" }}{{ $a }}{{ end }}{{ $a }}')).toBe('innerx');
  });

  it('translates the string and encoding functions with their Go argument order', () => {
    const source =
      '{{ "a-b" | replaceAll "-" "+" }} {{ "x,y" | split "," | join ";" }} {{ "Ab" | toUpper }}{{ "Ab" | toLower }} [{{ "  s " | trimSpace }}] ' +
      '{{ if "haystack" | contains "st" }}has{{ end }} {{ printf "%s=%d %q %v" "k" 42 "q" true }} {{ "a\\nb" | indent 2 }} ' +
      '{{ "hi" | base64Encode }} {{ "aGk=" | base64Decode }} {{ env "APP" }} {{ sprig_upper "s" }} {{ "x-y" | replace "-" "." | upper }}';
    expect(converted(source, { APP: 'prod' })).toBe('a+b x;y ABab [s] has k=42 "q" true   a\n  b aGk= hi prod S X.Y');
  });

  it('translates toJSON, toJSONPretty and toYAML to the Go-fidelity helpers', () => {
    const { template } = translate('{{ with secret "kv1/app" }}{{ .Data | toJSON }}|{{ toJSONPretty .Data }}|{{ .Data | toYAML }}{{ end }}');
    expect(template).toBe('{{#with (secret "vault:kv1/app")}}{{toJSON this}}|{{toJSONPretty this}}|{{toYAML this}}{{/with}}');
    expect(render(template)).toBe('{"api_key":"key-1","b-2":"two"}|{\n  "api_key": "key-1",\n  "b-2": "two"\n}|api_key: key-1\nb-2: two');
  });

  it('translates index with literal keys to paths and others to lookup', () => {
    expect(translate('{{ with secret "kv1/app" }}{{ index .Data "b-2" }}{{ end }}').template).toBe('{{#with (secret "vault:kv1/app")}}{{this.[b-2]}}{{/with}}');
    expect(converted('{{ with secret "kv1/app" }}{{ index .Data "b-2" }}{{ end }}')).toBe('two');
  });
});

describe('whitespace', () => {
  it('keeps the lines around block tags that Handlebars would strip as standalone', () => {
    const source = 'a\n{{ with secret "kv1/app" }}\n  {{ if .Data.api_key }}\nkey\n  {{ else }}\nnone\n  {{ end }}\n{{ end }}\nz\n';
    const { template } = translate(source);
    expect(render(template)).toBe('a\n\n  \nkey\n  \n\nz\n');
  });

  it('applies trim markers to the text, so the output needs none', () => {
    const { template } = translate('a  {{- if true -}}  \n b \n {{- end }}\n');
    expect(template).toBe('a{{#if true}}b{{/if}}\n');
  });

  it('keeps text that looks like Handlebars literal', () => {
    const { template } = translate('{{ "v" }}[[ .X ]] \\[[ "w" ]]');
    expect(render(template)).toBe('v[[ .X ]] \\[[ "w" ]]');
    const other = translateGoTemplate('{{ not an action }} a\\[[ "x" ]]', { file: 'f', vaultBackend: 'vault', leftDelimiter: '[[', rightDelimiter: ']]' });
    expect(render(other.template)).toBe('{{ not an action }} a\\x');
  });

  it('keeps braces next to actions from forming triple-stash mustaches', () => {
    expect(converted('{{ "{{" }}}{ {{ "x" }}}} {{ with secret "kv1/app" }}}{{ .Data.api_key }}{{ end }}}')).toBe('{{}{ x}} }key-1}');
    const other = translateGoTemplate('a{[[ with secret "kv1/app" ]]}{[[ .Data.api_key ]]{[[ end ]]', {
      file: 'f',
      vaultBackend: 'vault',
      leftDelimiter: '[[',
      rightDelimiter: ']]',
    });
    expect(other.findings).toEqual([]);
    expect(render(other.template)).toBe('a{}{key-1{');
  });
});

describe('what cannot be translated', () => {
  it('reports Consul, plugin, executeTemplate and unknown functions with line and column, and marks them', () => {
    const source =
      'a\n{{ key "service/x" }}\n  {{ range service "web" }}{{ .Address }}{{ keyOrDefault "k" "d" }}{{ end }}\n{{ plugin "x" }}{{ executeTemplate "t" }}{{ frobnicate 1 }}';
    const { template, findings } = translate(source);
    const lines = source.split('\n');
    const at = (line: number, name: string) => [line, (lines[line - 1] as string).indexOf(name) + 1, name];
    expect(findings.map((f) => [f.line, f.column, f.construct])).toEqual([
      at(2, 'key'),
      at(3, 'service'),
      at(3, 'keyOrDefault'),
      at(4, 'plugin'),
      at(4, 'executeTemplate'),
      at(4, 'frobnicate'),
    ]);
    expect(findings.every((f) => f.file === 'app.ctmpl' && f.advice.length > 10)).toBe(true);
    expect(template.match(/\{\{unconverted /g)).toHaveLength(5);
    let error: unknown;
    try {
      render(template);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SidecarError);
    expect((error as SidecarError).code).toBe('SIDECAR_ERR_RENDER_FAILED');
    expect((error as SidecarError).message).toContain('line 2, column 4 of the original: key was not converted');
  });

  it('fails an else-if branch it could not translate only where that branch is taken', () => {
    const taken = translate('{{ if true }}a{{ else if key "x" }}b{{ end }}');
    expect(render(taken.template)).toBe('a');
    const reached = translate('{{ if false }}a{{ else if key "x" }}b{{ end }}');
    expect(reached.template).toBe(
      '{{#if false}}a{{else}}{{unconverted "line 1, column 27 of the original: key was not converted (Consul KV is not a secret store the sidecar reads: keep the value in Vault/OpenBao KV (read it with `secret`) or a `file` backend)"}}{{/if}}',
    );
    expect(() => render(reached.template)).toThrow(/unconverted: line 1, column 27/);
  });

  it('reports template/define/break, lease fields, KV v2 metadata and printf verbs it cannot write', () => {
    const source =
      '{{ define "x" }}y{{ end }}{{ template "x" }}{{ range $i, $e := split "," "a" }}{{ break }}{{ end }}' +
      '{{ with secret "database/creds/app" }}{{ .LeaseID }}{{ end }}{{ with secret "secret/data/app" }}{{ .Data.metadata.version }}{{ end }}{{ printf "%05d" 3 }}';
    expect(translate(source).findings.map((f) => f.construct)).toEqual([
      'define',
      'template',
      'break',
      '.LeaseID of a secret',
      '.Data.metadata',
      'printf verb %05d',
    ]);
  });

  it('turns a syntax error into one finding and a template that fails to render', () => {
    const { template, findings } = translate('ok\n{{ if .A }}');
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ file: 'app.ctmpl', line: 2, column: 4, construct: 'syntax error' });
    expect(findings[0]?.advice).toContain('unexpected EOF in if');
    expect(() => render(template)).toThrow(/unconverted: line 2, column 4/);
  });

  it("never lists a construct of the issue's scope as not converted", () => {
    const everything = [
      '{{ with secret "secret/data/app" }}{{ .Data.data.user }}{{ range $k, $v := .Data.data }}{{ $k }}{{ end }}{{ end }}',
      '{{ with secret "kv1/app" }}{{ .Data.api_key }}{{ end }}{{ with secret "pki/issue/web" "common_name=a.example.com" "ttl=1h" }}{{ .Data.certificate }}{{ end }}',
      '{{ with pkiCert "pki/issue/web" "common_name=a.example.com" "ttl=1h" }}{{ .Cert }}{{ end }}{{ range secrets "kv1/dir/" }}{{ . }}{{ end }}',
      '{{ $x := "a" }}{{ $x = "b" }}{{ if eq $x "b" }}{{ else if eq $x "c" }}{{ else }}{{ end }}{{ index (secret "kv1/app").Data "b-2" }}',
      '{{ env "APP" | base64Encode | base64Decode }}{{ with secret "kv1/app" }}{{ .Data | toJSON }}{{ .Data | toJSONPretty }}{{ .Data | toYAML }}{{ end }}',
      '{{ "a" | replaceAll "a" "b" | split "," | join "," | toUpper | toLower | trimSpace }}{{ if contains "a" "abc" }}{{ end }}{{ printf "%s %d" "a" 1 }}{{ "a" | indent 2 }}',
      '{{- /* comment */ -}}',
    ].join('\n');
    const { findings } = translate(everything);
    expect(findings).toEqual([]);
  });
});

describe("consul-template's secret struct passed to functions", () => {
  it('refuses a whole secret, a KV v2 .Data or a pkiCert as a function argument instead of computing on the data', () => {
    const source =
      '{{ secret "secret/data/app" | toJSON }}{{ with secret "secret/data/app" }}{{ .Data | toJSON }}{{ len .Data }}{{ end }}' +
      '{{ with pkiCert "pki/issue/web" "common_name=a.example.com" }}{{ toJSON . }}{{ end }}';
    expect(translate(source).findings.map((f) => f.construct)).toEqual([
      'toJSON of a whole secret',
      'toJSON of a whole secret',
      'len of a whole secret',
      'toJSON of a whole secret',
    ]);
  });

  it('walks the struct with index as with fields: index .Data "data" "user" on KV v2', () => {
    expect(converted('{{ with secret "secret/data/app" }}{{ index .Data "data" "user" }}|{{ index . "Data" "data" "tls.crt" }}{{ end }}')).toBe('app|CRT');
    expect(converted('{{ with secret "kv1/app" }}{{ index .Data "b-2" }}{{ end }}')).toBe('two');
  });
});

describe('and/or evaluate lazily, as in Go', () => {
  it('does not make a call an earlier argument of and/or made unnecessary', () => {
    const body = (cond: string) => converted(`{{ with secret "kv1/app" }}{{ if ${cond} }}yes{{ else }}no{{ end }}{{ end }}`);
    expect(body('and .Data.missing (gt (len .Data.missing) 0)')).toBe('no');
    expect(body('or (not .Data.missing) (len .Data.missing)')).toBe('yes');
    expect(body('and .Data.api_key (and .Data.missing (len .Data.missing))')).toBe('no');
    expect(body('and true (eq "(len x)" "(len x)") (eq (index .Data "b-2") "two")')).toBe('yes');
    expect(body('and true (secret "pki/issue/web" "common_name=a.example.com" "ttl=1h").Data.certificate')).toBe('yes');
  });

  it('does not read a secret an earlier argument made unnecessary (consul-template never requests it)', () => {
    const { template } = translate('{{ if and (env "MISSING") (secret "kv1/other").Data.x }}y{{ else }}n{{ end }}');
    const asked: string[] = [];
    const result = renderTemplate(compileTemplate('app.hbs', template, false), {
      store: { lookup: (key): SecretLookup => (asked.push(key), { status: 'missing' }) },
      mask: false,
      errorOnMissingKey: false,
      env: {},
      envAllow: ['MISSING'],
    });
    expect(result.status === 'complete' ? result.bytes.toString('utf8') : result.status).toBe('n');
    expect(asked).toEqual([]);
  });

  it('keeps a reference inside and/or among those checked when the template loads', () => {
    const { template } = translate('{{ if and true (secret "kv1/app").Data.api_key }}y{{ end }}');
    expect(template).toContain('(deferred "secret" "vault:kv1/app#api_key")');
    expect(compileTemplate('app.hbs', template, false).literalRefs.map((r) => r.text)).toEqual(['vault:kv1/app#api_key']);
  });

  it('still fails where Go fails: a failing argument that and/or reach', () => {
    const { template, findings } = translate('{{ with secret "kv1/app" }}{{ if and .Data.api_key (gt (len .Data.missing) 0) }}yes{{ end }}{{ end }}');
    expect(findings).toEqual([]);
    expect(() => render(template)).toThrow(/len takes a text, a list or a map/);
  });
});

describe('paths that look like references', () => {
  it('drops what follows "#" in a literal path, as consul-template does (a URL fragment), instead of reading a key', () => {
    // consul-template v0.42.1 reads kv1/app for "kv1/app#n".
    expect(converted('{{ with secret "kv1/app#b-2" }}{{ .Data.api_key }}{{ end }}')).toBe('key-1');
    expect(translate('{{ with secret (printf "kv1/%s#x" "app") }}{{ .Data.api_key }}{{ end }}').findings.map((f) => f.construct)).toEqual(['a path with "#"']);
  });
});

describe('hostile input', () => {
  it('refuses nesting (and else-if chains) deeper than any real template, with a finding instead of a stack overflow', () => {
    const deep = translate(`${'{{ if true }}'.repeat(5000)}x${'{{ end }}'.repeat(5000)}`);
    expect(deep.findings).toMatchObject([{ construct: 'syntax error', advice: expect.stringContaining('nested deeper than 200') as unknown }]);
    const chain = translate(`{{ if eq 1 2 }}${Array.from({ length: 5000 }, (_, i) => `{{ else if eq 1 ${i} }}${i}`).join('')}{{ end }}`);
    expect(chain.findings).toMatchObject([
      { construct: 'syntax error', advice: expect.stringContaining('deeper than 200, more than the converter takes') as unknown },
    ]);
    const longest = translate(`{{ if eq 1 2 }}${Array.from({ length: 150 }, (_, i) => `{{ else if eq 1 ${i} }}${i}`).join('')}{{ end }}`);
    expect(render(longest.template)).toBe('1');
    const parens = translate(`{{ ${'('.repeat(5000)}1${')'.repeat(5000)} }}`);
    expect(parens.findings[0]?.advice).toContain('nested deeper than 200');
  });

  it('bounds the variables one scope may declare, and names distinct Go variables distinctly', () => {
    const many = translate(Array.from({ length: 300 }, (_, i) => `{{ $v${i} := ${i} }}`).join(''));
    expect(many.findings).toHaveLength(100);
    expect(() => compileTemplate('many.hbs', many.template, false)).not.toThrow();
    const { template } = translate(
      '{{ $é := "a" }}{{ $ü := "b" }}{{ $é }}{{ $ü }}{{ $this := "c" }}{{ $secret := "d" }}{{ $this }}{{ $secret }}{{ $athis := "e" }}{{ $athis }}',
    );
    // Handlebars reads a path ending in "this" (v_this, athis) as a context lookup: such names get a suffix.
    expect(render(template)).toBe('abcde');
  });
});
