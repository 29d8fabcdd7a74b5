import { existsSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Daemon, runCli } from '../support/cli.js';
import { REPO_ROOT, removeDir } from '../support/dirs.js';
import { expectNoSecrets } from '../support/leaks.js';
import { makeProject, type Project } from '../support/project.js';

/** Shopify ejson's own test vector (see test/fixtures/ejson/ATTRIBUTION.md). */
const VECTOR = join(REPO_ROOT, 'test/fixtures/ejson/shopify-ejson2env.ejson');
const VECTOR_PUBLIC = '795e671066eef17025c816b6d7c4f5c658b191cfaa31baca69963d761606415c';
const VECTOR_PRIVATE = '2ed65dd6a16eab833cc4d2a860baa60042da34a58ac43855e8554ca87a5e557d';

let project: Project | undefined;
let daemon: Daemon | undefined;
afterEach(async () => {
  await daemon?.stop();
  await removeDir(project?.root);
  daemon = project = undefined;
});

async function keyDir(root: string, publicKey: string, privateKey: string): Promise<string> {
  const dir = join(root, 'keys');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, publicKey), `${privateKey}\n`, { mode: 0o400 });
  return dir;
}

const ejsonConfig = (templates: string, backend = 'key_dir = "@ROOT@/keys"') =>
  `backend "ejson" "repo" {\n  path = "@ROOT@/secrets.ejson"\n  ${backend}\n}\n${templates}`;

describe('ejson backend (Shopify ejson files) with the built CLI', () => {
  it("decrypts Shopify's own test vector, by key, and as a whole document", async () => {
    project = await makeProject({
      config: ejsonConfig(
        'template {\n  contents = "{{secret \\"repo:environment#test_key\\"}}\\n{{json (secret \\"repo:.\\")}}"\n  destination = "@OUT@/env"\n}\n',
      ),
    });
    await copyFile(VECTOR, join(project.root, 'secrets.ejson'));
    await keyDir(project.root, VECTOR_PUBLIC, VECTOR_PRIVATE);
    const result = await runCli(['once', '-c', project.config]);
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(join(project.out, 'env'), 'utf8')).toBe('test_value\n{"environment":{"test_key":"test_value"}}');
    expectNoSecrets(result.stderr, ['test_value', VECTOR_PRIVATE]);
  });

  it('makes keys and encrypts files that it then renders, and re-renders an encrypted file edited in run mode', async () => {
    project = await makeProject({ config: '' });
    const keys = join(project.root, 'keys');
    const keygen = await runCli(['ejson', 'keygen', '--write', '--keydir', keys]);
    expect(keygen.code, keygen.stderr).toBe(0);
    const publicKey = keygen.stdout.trim();
    expect(publicKey).toMatch(/^[0-9a-f]{64}$/);
    const privateKey = (await readFile(join(keys, publicKey), 'utf8')).trim();
    expect(privateKey).toMatch(/^[0-9a-f]{64}$/);
    expect(keygen.stdout).not.toContain(privateKey);

    // As written by hand: plain values, an underscore key, a number, a nested object and an array.
    const file = join(project.root, 'secrets.ejson');
    await writeFile(
      file,
      `{\n  "_public_key": "${publicKey}",\n  "_comment": "left in clear",\n  "database": {\n    "password": "ej-db-pw-1a1a",\n    "port": 5432,\n    "hosts": ["ej-host-2b2b"]\n  }\n}\n`,
    );
    const encrypt = await runCli(['ejson', 'encrypt', file]);
    expect(encrypt.code, encrypt.stderr).toBe(0);
    const encrypted = await readFile(file, 'utf8');
    expect(encrypted).not.toContain('ej-db-pw-1a1a');
    expect(encrypted).not.toContain('ej-host-2b2b');
    expect(encrypted).toContain('"_comment": "left in clear"');
    expect(encrypted).toContain('"port": 5432');
    expect(encrypted.match(/"EJ\[1:[^"]+\]"/g)).toHaveLength(2);
    // A second encrypt leaves encrypted values as they are.
    expect((await runCli(['ejson', 'encrypt', file])).code).toBe(0);
    expect(await readFile(file, 'utf8')).toBe(encrypted);

    await project.write(
      'sidecar.hcl',
      ejsonConfig(
        `template {\n  contents = "{{secret \\"repo:database#password\\"}} {{secret \\"repo:database#hosts.0\\"}}"\n  destination = "${project.out}/db"\n}\n`,
      ).replaceAll('@ROOT@', project.root),
    );
    daemon = new Daemon(['-c', project.config]);
    await daemon.waitFor((r) => r.msg === 'all templates rendered');
    expect(readFileSync(join(project.out, 'db'), 'utf8')).toBe('ej-db-pw-1a1a ej-host-2b2b');

    // An edit: a new plain password, encrypted again; the running sidecar sees the file change.
    const mark = daemon.mark;
    await writeFile(file, encrypted.replace(/"password": "EJ\[[^"]+\]"/, '"password": "ej-db-pw-3c3c"'));
    expect((await runCli(['ejson', 'encrypt', file])).code).toBe(0);
    await daemon.waitFor((r) => r.msg === 'rendered' && r['outcome'] === 'written', mark);
    expect(readFileSync(join(project.out, 'db'), 'utf8')).toBe('ej-db-pw-3c3c ej-host-2b2b');
    expectNoSecrets(daemon.stderr + encrypt.stderr, ['ej-db-pw-1a1a', 'ej-db-pw-3c3c', 'ej-host-2b2b', privateKey]);
  });

  it('fails with a coded error and writes nothing for a wrong key, a missing key, a tampered value or a malformed file', async () => {
    project = await makeProject({
      config: ejsonConfig('template {\n  contents = "{{secret \\"repo:environment#test_key\\"}}"\n  destination = "@OUT@/env"\n}\n'),
    });
    const secrets = join(project.root, 'secrets.ejson');
    const vector = await readFile(VECTOR, 'utf8');
    await writeFile(secrets, vector);
    const once = () => runCli(['once', '-c', (project as Project).config, '--timeout', '1s']);

    // Missing: no file named by the public key (retried, as a mounted key may arrive, until --timeout).
    const missing = await once();
    expect(missing.code).toBe(6);
    expect(missing.stderr).toContain(`no private key for ejson public key ${VECTOR_PUBLIC}`);

    // Wrong: a file named by the public key that holds another private key.
    const other = '1111111111111111111111111111111111111111111111111111111111111111';
    await keyDir(project.root, VECTOR_PUBLIC, other);
    const wrong = await once();
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain('SIDECAR_ERR_BACKEND_KEY');
    expect(wrong.stderr).toContain(`is not the one for ejson public key ${VECTOR_PUBLIC}`);

    // Tampered: the right key, one byte of the box changed.
    await chmod(join(project.root, 'keys', VECTOR_PUBLIC), 0o600);
    await writeFile(join(project.root, 'keys', VECTOR_PUBLIC), VECTOR_PRIVATE);
    await writeFile(secrets, vector.replace('UR5ZeX7B', 'UR5ZeX7C'));
    const tampered = await once();
    expect(tampered.code).toBe(3);
    expect(tampered.stderr).toContain('SIDECAR_ERR_BACKEND_DECRYPT');
    expect(tampered.stderr).toContain('\\"environment.test_key\\" does not decrypt');

    // Malformed: JSON cut short; and a plain value where an encrypted one belongs.
    await writeFile(secrets, vector.slice(0, 120));
    const malformed = await once();
    expect(malformed.code).toBe(3);
    expect(malformed.stderr).toMatch(/is not valid JSON \(line \d+, column \d+\)/);
    await writeFile(secrets, vector.replace(/"EJ\[[^"]+\]"/, '"never-encrypted-4d4d"'));
    const plain = await once();
    expect(plain.code).toBe(3);
    expect(plain.stderr).toContain('\\"environment.test_key\\" is not encrypted');

    expect(existsSync(join(project.out, 'env'))).toBe(false);
    const stderr = missing.stderr + wrong.stderr + tampered.stderr + malformed.stderr + plain.stderr;
    expectNoSecrets(stderr, ['test_value', VECTOR_PRIVATE, other, 'never-encrypted-4d4d']);
    // The key file was 0600 in the last runs: readable by nobody else, so no warning; 0644 warns.
    expect(stderr).not.toContain('readable by group or others');
    await chmod(join(project.root, 'keys', VECTOR_PUBLIC), 0o644);
    await writeFile(secrets, vector);
    const loose = await once();
    expect(loose.code, loose.stderr).toBe(0);
    expect(loose.stderr).toContain('the ejson private key file is readable by group or others');
  });
});
