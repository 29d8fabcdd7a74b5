import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { translateGoTemplate } from '../../src/convert/go-template/translate.js';
import { canary, recordShown } from '../support/canary.js';
import { runCli } from '../support/cli.js';
import { makeTmpfsDir, removeDir, REPO_ROOT } from '../support/dirs.js';
import { startOpenBao, type OpenBao } from '../support/openbao.js';

/*
 * The translator against the peer itself: each Go template is rendered by consul-template v0.42.1 and, translated,
 * by our CLI, against the same OpenBao with the same data; the files must match byte for byte. (The full corpus,
 * with configs, is the convert command's differential test; these are the translator's own whitespace, JSON,
 * YAML and listing cases.)
 */

const CONSUL_TEMPLATE = join(REPO_ROOT, '.cache', 'bin', 'consul-template');
const run = promisify(execFile);

const PASSWORD = canary('fidelity-password');
const API_KEY = canary('fidelity-api-key');

let bao: OpenBao;
let dir: string;
let out: string;

beforeAll(async () => {
  expect(existsSync(CONSUL_TEMPLATE), 'consul-template is built by test/infra/install-test-tools.sh').toBe(true);
  bao = await startOpenBao();
  dir = await mkdtemp(join(tmpdir(), 'go-fidelity-'));
  out = await makeTmpfsDir('go-fidelity-');
  await bao.api('POST', 'sys/mounts/kv1', { type: 'kv', options: { version: '1' } });
  await bao.api('POST', 'secret/data/app', {
    data: {
      password: PASSWORD,
      user: 'app',
      'html<&>': 'a<b>&c',
      port: 5432,
      nested: { b: 'x', a: ['1', '2'], 'key 10': 'ten', 'key 9': 'nine' },
      yes: 'yes',
      multi: 'line1\nline2\n',
      empty: '',
    },
  });
  await bao.api('POST', 'secret/data/odd', {
    data: {
      long: 'word '.repeat(40).trim(),
      longer: `${'x'.repeat(90)} tail and more words here ${'y'.repeat(30)} end`,
      tab: 'a\tb',
      lead: ' lead',
      trail: 'trail ',
      colon: 'a: b',
      hash: 'a #b',
      dash: '- a',
      quote: "it's",
      zero: '0123',
      float: '1e3',
      date: '2024-01-02',
      tilde: '~',
      null: 'null',
      base60: '1:20',
      u2028: 'a\u2028b',
      ctrl: 'a\u0001b',
      star: '*x',
      'a:b': 'colon key',
      '': 'empty key',
      multi_trailing: 'a\nb\n\n',
      multi_lead: '  indented\nline',
      list: ['a', ['b', 'c'], { k: 'v' }],
      nested_empty: { m: {}, l: [] },
      nums: { mid: 1234567, round: 10.0, small: 0.0001, int: 7, neg: -3, frac: 1.5, big: 12345678901234567000, tiny: 0.0000001 },
      bools: { t: true, f: false, n: null },
      k2: 'x',
      k10: 'y',
      k1: 'z',
      K: 'upper',
      _u: 'under',
      '9': 'nine',
      emoji: 'a😀b',
      nel: 'a\u0085b',
      bom: '\ufeffx é',
      merge: '<<',
    },
  });
  await bao.api('POST', 'sys/mounts/pki', { type: 'pki', config: { max_lease_ttl: '87600h' } });
  await bao.api('POST', 'pki/root/generate/internal', { common_name: 'Fidelity Root', ttl: '8760h' });
  await bao.api('POST', 'pki/roles/web', { allowed_domains: 'example.com', allow_subdomains: true, max_ttl: '72h' });
  await bao.api('POST', 'secret/data/services/alpha', { data: { k: 'a' } });
  await bao.api('POST', 'secret/data/services/beta', { data: { k: 'b' } });
  await bao.api('POST', 'kv1/app', { api_key: API_KEY, zeta: 'z', alpha: 'a', '10': 'ten', '9': 'nine' });
  await bao.api('POST', 'kv1/dir/one', { v: '1' });
  await bao.api('POST', 'kv1/dir/two', { v: '2' });
}, 60_000);

afterAll(async () => {
  await bao?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  await removeDir(out);
});

async function consulTemplate(name: string, source: string): Promise<Buffer> {
  const input = join(dir, `${name}.ctmpl`);
  const output = join(dir, `${name}.ct.out`);
  await writeFile(input, source);
  await run(CONSUL_TEMPLATE, ['-once', '-vault-renew-token=false', `-vault-addr=${bao.address}`, '-template', `${input}:${output}`], {
    env: { PATH: process.env['PATH'] ?? '', VAULT_TOKEN: bao.rootToken, APP_ENV: 'prod' },
    timeout: 30_000,
  });
  return readFile(output);
}

async function sidecar(name: string, source: string): Promise<Buffer> {
  const { template, findings } = translateGoTemplate(source, { file: `${name}.ctmpl`, vaultBackend: 'vault' });
  expect(findings).toEqual([]);
  const input = join(dir, `${name}.hbs`);
  const output = join(out, `${name}.sidecar.out`);
  await writeFile(input, template);
  const config = join(dir, `${name}.hcl`);
  await writeFile(
    config,
    `env_allow = ["APP_ENV"]\nbackend "vault" "vault" {\n  address = "${bao.address}"\n  auth "token" {\n    token = "${bao.rootToken}"\n  }\n}\ntemplate {\n  source = "${input}"\n  destination = "${output}"\n  error_on_missing_key = false\n}\n`,
  );
  const result = await runCli(['once', '-c', config, '--timeout', '30s'], { env: { APP_ENV: 'prod' } });
  recordShown(`sidecar ${name}`, result.stdout + result.stderr);
  expect(result.code, result.stderr).toBe(0);
  return readFile(output);
}

const CASES: Record<string, string> = {
  'kv2-with-trim': `{{- with secret "secret/data/app" -}}
user={{ .Data.data.user }}
password={{ .Data.data.password }}
{{ end -}}
`,
  'kv2-standalone-lines': `begin
{{ with secret "secret/data/app" }}
  {{ if .Data.data.user }}
user: {{ .Data.data.user }}
  {{ else }}
nobody
  {{ end }}
{{ end }}
end
`,
  'crlf-and-nested-blocks':
    '{{ with secret "kv1/app" }}\r\n  {{ range $k, $v := .Data }}\r\n    {{ if eq $k "zeta" }}\r\n last\r\n    {{ else if eq $k "alpha" }}\r\n first\r\n    {{ else }}\r\n{{ $k }}\r\n    {{ end }}\r\n  {{ end }}\r\n{{ end }}\r\n{{- /* trailing */ -}}\r\n\t{{ "x" }} {{- " y" }}  \\{{ "z" }}}\n',
  'kv2-path-without-data': `{{ with secret "secret/app" }}{{ .Data.data.user }}{{ end }}
`,
  'kv1-range-sorted': `{{ with secret "kv1/app" }}{{ range $k, $v := .Data }}{{ $k }}={{ $v }}
{{ end }}{{ end }}`,
  'json-escaping': `{{ with secret "secret/data/app" }}{{ .Data.data | toJSON }}
{{ .Data.data | toJSONPretty }}
{{ end }}`,
  yaml: `{{ with secret "secret/data/app" }}{{ .Data.data | toYAML }}{{ end }}
`,
  'yaml-and-json-edge-cases': `{{ with secret "secret/data/odd" }}{{ .Data.data | toYAML }}
{{ .Data.data | toJSON }}
{{ .Data.data | toJSONPretty }}
{{ end }}`,
  'listing-empty': `[{{ range secrets "kv1/nothing/" }}{{ . }}{{ else }}none{{ end }}]
`,
  'listing-kv1-and-kv2': `{{ range secrets "kv1/dir/" }}{{ . }},{{ end }}
{{ range secrets "secret/metadata/services/" }}{{ . }}:{{ with secret (printf "secret/data/services/%s" .) }}{{ .Data.data.k }}{{ end }};{{ end }}
`,
  'strings-and-vars': `{{ with $app := secret "secret/data/app" }}{{ $u := $app.Data.data.user }}
{{ $u | toUpper }} {{ replaceAll "p" "P" $u }} {{ "a,b,c" | split "," | join "-" }} {{ printf "%s:%d" $u 8080 }}
{{ if contains "pp" $u }}yes{{ else if eq $u "x" }}x{{ else }}no{{ end }}
{{ env "APP_ENV" }} {{ "  padded  " | trimSpace }} {{ "aGVsbG8=" | base64Decode }} {{ "hello" | base64Encode }}
{{ index $app.Data.data "html<&>" }} {{ "a\\nb" | indent 4 }}
{{- /* a comment */ -}}
{{ $n := 0 }}{{ range $i, $x := split "," "a,b,c" }}{{ $n = $i }}{{ end }} last={{ $n }}
{{ if gt (len $app.Data.data) 3 }}many{{ end }} {{ len "héllo" }} {{ if lt "a" "b" }}lt{{ end }}
{{ end }}`,
  'path-with-fragment': `{{ with secret "kv1/app#zeta" }}{{ .Data.alpha }}{{ end }}
`,
  'and-or-short-circuit': `{{ with secret "kv1/app" }}{{ if and .Data.missing (gt (len .Data.missing) 0) }}yes{{ else }}no{{ end }}
{{ if or (not .Data.missing) (len .Data.missing) }}yes{{ end }} {{ or .Data.missing "fallback" }} {{ and .Data.zeta (printf "%s!" .Data.zeta) }}
{{ end }}`,
  print: `{{ print "a" 1 2 "b" true }}|{{ print }}|{{ 1.5 }}|{{ index "abc" }}|{{ with secret (print "secret/data/" "app") }}{{ print .Data.data.user "-" .Data.data.port }}{{ end }}
`,
  'unicode-case-and-quote': `{{ "Straße ΑΣ İ ǅ" | toUpper }} {{ "Straße ΑΣ İ ǅ" | toLower }}
{{ printf "%q" "a\\u0001é\\u00a0\\u007f\\u0007\\u000b😀\\U0010ffff" }}
`,
};

/** Issued certificates and keys differ between two issuances: PEM bodies are compared by their framing only. */
function pemShape(text: string): string {
  return text.replace(/(-----BEGIN [A-Z ]+-----\n)[A-Za-z0-9+/=\n]+?(-----END [A-Z ]+-----)/g, '$1…\n$2');
}

const ISSUED: Record<string, string> = {
  pkiCert: `{{ with pkiCert "pki/issue/web" "common_name=a.example.com" "ttl=1h" }}{{ .Cert }}{{ .Key }}{{ .CA }}{{ end }}`,
  'computed-write-argument': `{{ $d := "example.com" }}{{ with secret "pki/issue/web" (printf "common_name=c.%s" $d) "ttl=1h" }}{{ .Data.certificate }}{{ end }}`,
  'secret-with-write-arguments': `{{ with secret "pki/issue/web" "common_name=b.example.com" "ttl=1h" }}{{ .Data.certificate }}
{{ .Data.private_key }}
{{ .Data.issuing_ca }}
{{ range .Data.ca_chain }}{{ . }}
{{ end }}{{ end }}`,
};

describe('issued certificates have the structure consul-template gives them', () => {
  for (const [name, source] of Object.entries(ISSUED)) {
    it(`${name}: same PEM blocks in the same places`, async () => {
      const expected = (await consulTemplate(name, source)).toString('utf8');
      const actual = (await sidecar(name, source)).toString('utf8');
      expect(actual).toMatch(/-----BEGIN CERTIFICATE-----/);
      expect(pemShape(actual)).toBe(pemShape(expected));
    }, 60_000);
  }
});

describe('translated Go templates render as consul-template renders them', () => {
  for (const [name, source] of Object.entries(CASES)) {
    it(`${name}: byte for byte`, async () => {
      const expected = await consulTemplate(name, source);
      const actual = await sidecar(name, source);
      expect(actual.toString('utf8')).toBe(expected.toString('utf8'));
      expect(actual.equals(expected)).toBe(true);
    }, 60_000);
  }
});
