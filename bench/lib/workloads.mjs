// The benchmark workloads of ../shared/TARGETS.md, written as one directory per workload: the secrets in
// OpenBao, and the same templates for secrets-sidecar (Handlebars), consul-template and bao agent (Go
// templates), each tool writing into its own output directory.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const KV_WORKLOADS = {
  P1: { templates: 1, refsPerTemplate: 1, unique: 1 },
  P2: { templates: 200, refsPerTemplate: 5, unique: 500 },
};
export const P3_SHAPE = { templates: 20, kvPerTemplate: 5, ttl: '30s', maxTtl: '120s' };

/** consul-template's and bao agent's configs around the same `template` blocks (TOOL: the output directory). */
function peerConfigs(root, bao, ctTemplates, { once }) {
  writeFileSync(
    join(root, 'ct.hcl'),
    `vault {\n  address = "${bao.address}"\n  token = "${bao.rootToken}"\n  renew_token = false\n}\n${ctTemplates.replaceAll('TOOL', 'ct')}`,
  );
  writeFileSync(
    join(root, 'agent.hcl'),
    `vault {\n  address = "${bao.address}"\n}\nauto_auth {\n  method "token_file" {\n    config = {\n      token_file_path = "${join(root, 'token')}"\n    }\n  }\n}\n${
      once ? 'exit_after_auth = true\ntemplate_config {\n  exit_on_retry_failure = true\n}\n' : ''
    }${ctTemplates.replaceAll('TOOL', 'agent')}`,
  );
}

function sidecarBackend(root, bao, extra = '') {
  return `backend "vault" "main" {\n  address = "${bao.address}"\n${extra}  auth "token" {\n    token_file = "${join(root, 'token')}"\n  }\n}\n`;
}

/** Puts a KV workload's secrets into OpenBao (once per server). */
export async function seedKv(bao, { unique }) {
  for (let start = 0; start < unique; start += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, unique - start) }, (_, i) =>
        bao.api('POST', `secret/data/svc${start + i}`, { data: { username: `user${start + i}`, password: `bench-pw-${start + i}` } }),
      ),
    );
  }
}

/** P1/P2: `templates` templates of `refsPerTemplate` KV v2 references each, over `unique` secrets. */
export function writeKvWorkload(root, bao, { templates, refsPerTemplate, unique }, { once }) {
  writeFileSync(join(root, 'token'), bao.rootToken);
  mkdirSync(join(root, 'tpl'), { recursive: true });
  const refs = (t) => Array.from({ length: refsPerTemplate }, (_, r) => (t * refsPerTemplate + r) % unique);
  let sidecar = sidecarBackend(root, bao, '  max_connections = 10\n');
  let ctTemplates = '';
  for (let t = 0; t < templates; t++) {
    writeFileSync(
      join(root, 'tpl', `t${t}.hbs`),
      refs(t)
        .map((n, r) => `S${r}={{secret "main:secret/svc${n}#password"}}`)
        .join('\n') + '\n',
    );
    writeFileSync(
      join(root, 'tpl', `t${t}.tpl`),
      refs(t)
        .map((n, r) => `S${r}={{ with secret "secret/data/svc${n}" }}{{ .Data.data.password }}{{ end }}`)
        .join('\n') + '\n',
    );
    sidecar += `template {\n  source = "tpl/t${t}.hbs"\n  destination = "${root}/out-sidecar/t${t}.env"\n}\n`;
    ctTemplates += `template {\n  source = "${root}/tpl/t${t}.tpl"\n  destination = "${root}/out-TOOL/t${t}.env"\n}\n`;
  }
  writeFileSync(join(root, 'sidecar.hcl'), sidecar);
  peerConfigs(root, bao, ctTemplates, { once });
}

/** P3's database roles (with the test suite's mountDatabaseEngine) and KV secrets (once per server). */
export async function seedP3(bao, pg, mountDatabaseEngine) {
  const { templates, kvPerTemplate, ttl, maxTtl } = P3_SHAPE;
  await mountDatabaseEngine(bao, pg, Object.fromEntries(Array.from({ length: templates }, (_, i) => [`app${i}`, { defaultTtl: ttl, maxTtl }])));
  for (let i = 0; i < templates * kvPerTemplate; i++) await bao.api('POST', `secret/data/kv${i}`, { data: { value: `bench-kv-${i}` } });
}

/** P3: 20 templates, each one database lease and 5 KV v2 secrets. */
export function writeP3Workload(root, bao) {
  const { templates, kvPerTemplate } = P3_SHAPE;
  writeFileSync(join(root, 'token'), bao.rootToken);
  mkdirSync(join(root, 'tpl'), { recursive: true });
  let sidecar = sidecarBackend(root, bao);
  let ctTemplates = '';
  for (let t = 0; t < templates; t++) {
    const kv = Array.from({ length: kvPerTemplate }, (_, k) => t * kvPerTemplate + k);
    writeFileSync(
      join(root, 'tpl', `t${t}.hbs`),
      `{{#with (secret "main:database/creds/app${t}")}}user={{username}}\npass={{password}}\n{{/with}}${kv.map((n) => `kv${n}={{secret "main:secret/kv${n}#value"}}\n`).join('')}`,
    );
    writeFileSync(
      join(root, 'tpl', `t${t}.tpl`),
      `{{ with secret "database/creds/app${t}" }}user={{ .Data.username }}\npass={{ .Data.password }}\n{{ end }}${kv.map((n) => `kv${n}={{ with secret "secret/data/kv${n}" }}{{ .Data.data.value }}{{ end }}\n`).join('')}`,
    );
    sidecar += `template {\n  source = "tpl/t${t}.hbs"\n  destination = "${root}/out-sidecar/t${t}.env"\n}\n`;
    ctTemplates += `template {\n  source = "${root}/tpl/t${t}.tpl"\n  destination = "${root}/out-TOOL/t${t}.env"\n}\n`;
  }
  writeFileSync(join(root, 'sidecar.hcl'), sidecar);
  peerConfigs(root, bao, ctTemplates, { once: false });
}
