import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT } from '../support/dirs.js';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const VALUES = parseYaml(readFileSync(join(REPO_ROOT, 'charts/secrets-sidecar/values.yaml'), 'utf8')) as Record<string, unknown>;
const SCHEMA = JSON.parse(readFileSync(join(REPO_ROOT, 'charts/secrets-sidecar/values.schema.json'), 'utf8')) as SchemaNode;

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
}

function valueAt(path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), VALUES);
}

/** Every dotted path to a leaf (or an empty object or list) in the default values. */
function leafPaths(node: unknown, prefix = ''): string[] {
  if (!node || typeof node !== 'object' || Array.isArray(node) || Object.keys(node).length === 0) return [prefix];
  return Object.entries(node).flatMap(([key, child]) => leafPaths(child, prefix ? `${prefix}.${key}` : key));
}

describe('the Helm chart documentation', () => {
  it('names only values the chart has, in the README subsection "Installing the webhook with Helm"', () => {
    const start = README.indexOf('### Installing the webhook with Helm');
    expect(start).toBeGreaterThanOrEqual(0);
    const section = README.slice(start, README.indexOf('\n## ', start));
    const mentioned = /`((?:webhook|injection|certificate|image|podDisruptionBudget|serviceAccount|service)\.[A-Za-z.]+|antiAffinity|replicaCount)[^`]*`/g;
    // `webhook.json` is the rendered file, not a value.
    const named = [...section.matchAll(mentioned)].map((match) => match[1] ?? '').filter((path) => !/\.(json|hcl|yaml)$/.test(path));
    expect(named.length).toBeGreaterThan(5);
    for (const path of named) expect(valueAt(path), `README names ${path}`).toBeDefined();
  });

  it('declares every default value in values.schema.json (which refuses undeclared keys)', () => {
    const declared = (path: string) =>
      path.split('.').reduce<SchemaNode | undefined>((node, key) => node?.properties?.[key] ?? (node && !node.properties ? node : undefined), SCHEMA);
    for (const path of leafPaths(VALUES)) expect(declared(path), `values.schema.json declares ${path}`).toBeDefined();
  });
});
