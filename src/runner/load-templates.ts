import { readFile } from 'node:fs/promises';
import type { ResolvedConfig, TemplateConfig } from '../config/types.js';
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
  const backendNames = new Set(config.backends.map((b) => b.name));
  return Promise.all(
    config.templates.map(async (template) => {
      const source = template.contents ?? (await readSource(template));
      const compiled = compileTemplate(template.name, source, template.errorOnMissingKey);
      for (const literal of compiled.literalRefs) checkLiteralRef(template, literal.text, literal.line, backendNames);
      return { config: template, compiled };
    }),
  );
}

async function readSource(template: TemplateConfig): Promise<string> {
  const path = template.source ?? '';
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new SidecarError('SIDECAR_ERR_TEMPLATE_READ', `template "${template.name}": cannot read ${path}${code === 'ENOENT' ? ': no such file' : ` (${code ?? 'error'})`}`, { cause });
  }
}

function checkLiteralRef(template: TemplateConfig, text: string, line: number, backends: ReadonlySet<string>): void {
  let backend: string;
  try {
    backend = parseSecretRef(text).backend;
  } catch (error) {
    throw new SidecarError('SIDECAR_ERR_TEMPLATE_REF', `template "${template.name}" line ${line}: ${(error as Error).message}`);
  }
  if (!backends.has(backend)) {
    const known = [...backends].map((n) => `"${n}"`).join(', ') || 'none';
    throw new SidecarError('SIDECAR_ERR_TEMPLATE_REF', `template "${template.name}" line ${line}: "${text}" names backend "${backend}", which is not configured (configured: ${known})`);
  }
}
