import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './dirs.js';

const PYTHON = join(REPO_ROOT, '.cache', 'prometheus-client', 'bin', 'python');
const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append({"family": family.name, "type": family.type, "name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps(out))
`;

export interface PrometheusSample {
  readonly family: string;
  readonly type: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses Prometheus text with Prometheus' own Python client (installed by test/infra); throws if it cannot. */
export function parsePrometheus(text: string): PrometheusSample[] {
  if (!existsSync(PYTHON)) throw new Error(`prometheus-client is not installed at ${PYTHON}: run test/infra/install-test-tools.sh (npm test does)`);
  const result = spawnSync(PYTHON, ['-c', PARSE], { input: text, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`the Prometheus parser rejected the text: ${result.stderr}`);
  return JSON.parse(result.stdout) as PrometheusSample[];
}

/** The value of one sample, by name and labels; undefined when absent. */
export function sample(samples: readonly PrometheusSample[], name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}
