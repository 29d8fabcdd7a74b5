import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SIDECAR_CREDENTIAL_ENV } from '../config/credential-env.js';
import { SidecarError } from '../errors.js';
import type { ConversionFinding } from './conversion-finding.js';
import { formatReport, sortFindings } from './conversion-report.js';
import { readConsulTemplateConfig } from './consul-template-config.js';
import type { TranslateOptions, TranslateResult } from './go-template/translate-options.js';
import type { InlineOffset, PeerKind, PeerTemplateText } from './peer-config.js';
import { VAULT_BACKEND, writeSidecarConfig } from './sidecar-config-writer.js';
import { readVaultAgentConfig } from './vault-agent-config.js';

export type TranslateGoTemplate = (text: string, options: TranslateOptions) => TranslateResult;

export interface ConvertOptions {
  readonly from: PeerKind;
  readonly configFile: string;
  /** Where sidecar.hcl, templates/ and conversion-report.txt go; must be new or empty. Unused with `check`. */
  readonly outDir: string;
  /** Report only: read and translate everything, write nothing. */
  readonly check: boolean;
  /** The directory the peer would run in: its relative paths resolve against it. */
  readonly cwd: string;
  readonly translate: TranslateGoTemplate;
}

export interface ConvertResult {
  /** Everything not translated, in file and line order. */
  readonly findings: readonly ConversionFinding[];
  /** The report as text, one line per finding. */
  readonly report: string;
  readonly templates: number;
  /** Templates (file and env) whose translation and config block gave no report line. */
  readonly cleanTemplates: number;
  /** Files written, relative to outDir (none with `check`). */
  readonly written: readonly string[];
}

export const REPORT_FILE = 'conversion-report.txt';
export const CONFIG_FILE = 'sidecar.hcl';

/** Reads a peer config and its Go templates, translates them, and (unless `check`) writes our config and templates. */
export async function convertPeerConfig(options: ConvertOptions): Promise<ConvertResult> {
  const file = resolve(options.cwd, options.configFile);
  const peer = await (options.from === 'consul-template' ? readConsulTemplateConfig : readVaultAgentConfig)(file, options.cwd);
  if (!options.check) await checkOutDir(options.outDir);

  const findings: ConversionFinding[] = [...peer.report];
  const envNames = new Set<string>();
  /** Name → text and the permission bits it may have (never more than 0644, never more than its origin's). */
  const files = new Map<string, { text: string; mode: number }>();
  let clean = 0;
  const translateOne = (go: PeerTemplateText, name: string, configFindings: number): string => {
    const result = options.translate(go.text, {
      file: go.file,
      vaultBackend: VAULT_BACKEND,
      ...(go.leftDelimiter === undefined ? {} : { leftDelimiter: go.leftDelimiter }),
      ...(go.rightDelimiter === undefined ? {} : { rightDelimiter: go.rightDelimiter }),
    });
    const own = result.findings.map((f) => (go.offset ? inConfig(f, go.offset, peer.file) : f));
    for (const variable of envNamesOf(result.template)) {
      if (!isCredentialVariable(variable)) envNames.add(variable);
      else own.push(credentialFinding(go, variable, peer.file));
    }
    if (COMPUTED_ENV.test(result.template)) own.push(computedEnvFinding(go, peer.file));
    findings.push(...own);
    if (own.length === 0 && configFindings === 0) clean++;
    files.set(name, { text: result.template, mode: go.mode });
    return name;
  };
  const templateFiles = peer.templates.map((t, i) =>
    translateOne(t.go, `templates/${String(i + 1).padStart(2, '0')}-${safeName(t.go.nameHint)}.hbs`, t.configFindings),
  );
  const envTemplateFiles = peer.envTemplates.map((t) => translateOne(t.go, `templates/env-${t.name}.hbs`, 0));
  const config = writeSidecarConfig(peer, { templateFiles, envTemplateFiles, envNames: [...envNames] });
  const sorted = sortFindings(findings);
  const report = formatReport(sorted);
  const result = { findings: sorted, report, templates: templateFiles.length + envTemplateFiles.length, cleanTemplates: clean };
  if (options.check) return { ...result, written: [] };

  files.set(CONFIG_FILE, { text: config, mode: peer.mode });
  files.set(REPORT_FILE, { text: report, mode: peer.mode });
  await mkdir(join(options.outDir, 'templates'), { recursive: true, mode: 0o755 }).catch((cause: unknown) => {
    throw new SidecarError('SIDECAR_ERR_OUTPUT_WRITE', `cannot create --out ${options.outDir}: ${(cause as Error).message}`, { cause });
  });
  for (const [name, { text, mode }] of files) {
    // "wx": never through a link or over a file someone put there meanwhile.
    await writeFile(join(options.outDir, name), text, { flag: 'wx', mode: mode & 0o644 }).catch((cause: unknown) => {
      throw new SidecarError('SIDECAR_ERR_OUTPUT_WRITE', `cannot write ${join(options.outDir, name)}: ${(cause as Error).message}`, { cause });
    });
  }
  return { ...result, written: [...files.keys()] };
}

/** The output directory is new or empty: the converter never overwrites or mixes with files it did not write. */
async function checkOutDir(dir: string): Promise<void> {
  const info = await stat(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new SidecarError('SIDECAR_ERR_OUTPUT_WRITE', `cannot use --out ${dir}: ${error.message}`, { cause: error });
  });
  if (!info) return;
  if (!info.isDirectory()) throw new SidecarError('SIDECAR_ERR_USAGE', `--out ${dir} is not a directory`);
  if ((await readdir(dir)).length > 0) throw new SidecarError('SIDECAR_ERR_USAGE', `--out ${dir} is not empty: give a new or empty directory`);
}

/**
 * A template file name from a source or destination name: letters, digits, ".", "_" and "-" only, so that no
 * name ("../../x", "{{ .Data }}", a newline) can leave templates/ or look like anything but a file name.
 */
export function safeName(hint: string): string {
  const stem = hint.replace(/\.(ctmpl|tmpl|tpl|gotmpl|gotext|template)$/i, '');
  const cleaned = stem
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[._-]+/, '')
    .slice(0, 60);
  return cleaned === '' ? 'template' : cleaned;
}

/** One of the sidecar's own credential variables (VAULT_TOKEN, AWS_*…), which env_allow must not open silently. */
function isCredentialVariable(name: string): boolean {
  return SIDECAR_CREDENTIAL_ENV.some((entry) => (entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : name === entry));
}

/** Where the Go text reads the variable (its first `env "NAME"`), or the template's first line. */
function credentialFinding(go: PeerTemplateText, name: string, configFile: string): ConversionFinding {
  const at = go.text.search(new RegExp(`\\benv\\s+"${name}"`));
  const before = go.text.slice(0, Math.max(0, at));
  const inText = { file: go.file, line: before.split('\n').length, column: before.length - before.lastIndexOf('\n') };
  const finding = {
    ...inText,
    construct: `env "${name}"`,
    advice: `${name} holds or points at the sidecar's own credentials, which templates cannot read unless env_allow names it: add it to env_allow only if this file must hold it`,
  };
  return go.offset ? inConfig(finding, go.offset, configFile) : finding;
}

/** The variables a translated template reads with `env`, for env_allow. */
function envNamesOf(template: string): string[] {
  // `{{env "NAME"}}`, `(env "NAME")`, or `(deferred "env" "NAME")` inside an and/or argument; not text that says so.
  return [...template.matchAll(/(?:\{\{|\()(?:deferred "env"|env)\s+"([A-Za-z_][A-Za-z0-9_]*)"/g)].map((m) => m[1] ?? '');
}

/** `env` given a computed name: which names it reads is known only at run time, so env_allow cannot list them. */
const COMPUTED_ENV = /(?:\{\{|\()(?:deferred "env"|env)\s+(?!")/;

function computedEnvFinding(go: PeerTemplateText, configFile: string): ConversionFinding {
  const at = go.text.search(/\benv\s+[^\s"]/);
  const before = go.text.slice(0, Math.max(0, at));
  const finding = {
    file: go.file,
    line: before.split('\n').length,
    column: before.length - before.lastIndexOf('\n'),
    construct: 'env with a computed name',
    advice: "translated, but the names it can take are not known here: list them in sidecar.hcl's env_allow, or the render fails",
  };
  return go.offset ? inConfig(finding, go.offset, configFile) : finding;
}

/**
 * A finding in inline `contents`, moved to its place in the config: a heredoc's text starts on the line after
 * its marker; a quoted string's first line right after its quote (its later lines are escapes, on the same line).
 */
function inConfig(f: ConversionFinding, offset: InlineOffset, file: string): ConversionFinding {
  if (offset.heredoc) return { ...f, file, line: offset.line + f.line };
  if (f.line === 1) return { ...f, file, line: offset.line, column: offset.column + f.column };
  return { ...f, file, line: offset.line, column: offset.column };
}
