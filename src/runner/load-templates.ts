import { readTextBounded } from '../bounded-read.js';
import type { EnvTemplateConfig, ResolvedConfig, TemplateConfig } from '../config/types.js';
import { SidecarError } from '../errors.js';
import { compileTemplate, type CompiledTemplate } from '../template/compile.js';
import { parseSecretRef } from '../template/secret-ref.js';

export interface LoadedTemplate {
  readonly config: TemplateConfig;
  readonly compiled: CompiledTemplate;
}

/**
 * Reads and compiles every template, and checks the references written as literals against the configured
 * backends, so that a typo fails at start (exit 2) rather than at the first render.
 */
export async function loadTemplates(config: ResolvedConfig): Promise<LoadedTemplate[]> {
  return Promise.all(config.templates.map(async (template) => ({ config: template, compiled: await compileSource(template, config) })));
}

export interface LoadedEnvTemplate {
  readonly config: EnvTemplateConfig;
  readonly compiled: CompiledTemplate;
}

export async function loadEnvTemplates(config: ResolvedConfig): Promise<LoadedEnvTemplate[]> {
  return Promise.all(config.envTemplates.map(async (t) => ({ config: t, compiled: await compileSource({ ...t, name: `env_template "${t.name}"` }, config) })));
}

type TemplateSource = Pick<TemplateConfig, 'name' | 'source' | 'contents' | 'errorOnMissingKey'> & Partial<Pick<TemplateConfig, 'maxBytes'>>;

async function compileSource(template: TemplateSource, config: ResolvedConfig): Promise<CompiledTemplate> {
  const backendNames = new Set(config.backends.map((b) => b.name));
  const source = template.contents ?? (await readSource(template));
  const compiled = compileTemplate(template.name, source, template.errorOnMissingKey, template.maxBytes);
  for (const literal of compiled.literalRefs) checkLiteralRef(template, literal.text, literal.line, backendNames);
  return compiled;
}

async function readSource(template: TemplateSource): Promise<string> {
  const path = template.source ?? '';
  try {
    return await readTextBounded(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new SidecarError(
      'SIDECAR_ERR_TEMPLATE_READ',
      `template "${template.name}": cannot read ${path}${code === 'ENOENT' ? ': no such file' : code === 'ETIMEDOUT' ? ': the read did not finish in time (a hung mount, or a FIFO)' : ` (${code ?? 'error'})`}`,
      { cause },
    );
  }
}

function checkLiteralRef(template: TemplateSource, text: string, line: number, backends: ReadonlySet<string>): void {
  let backend: string;
  try {
    backend = parseSecretRef(text).backend;
  } catch (error) {
    throw new SidecarError('SIDECAR_ERR_TEMPLATE_REF', `template "${template.name}" line ${line}: ${(error as Error).message}`);
  }
  if (!backends.has(backend)) {
    const known = [...backends].map((n) => `"${n}"`).join(', ') || 'none';
    throw new SidecarError(
      'SIDECAR_ERR_TEMPLATE_REF',
      `template "${template.name}" line ${line}: "${text}" names backend "${backend}", which is not configured (configured: ${known})`,
    );
  }
}
