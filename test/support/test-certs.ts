import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface TestCertificates {
  readonly caCert: string;
  readonly caKey: string;
  /** PEM files for each name asked for: `<name>.pem` and `<name>.key`. */
  cert(name: string): { readonly cert: string; readonly key: string };
}

/**
 * A CA and certificates it signs, made with openssl in `dir`: each entry is a name and the X.509 extension line
 * for it ("subjectAltName=DNS:…" for a server, "extendedKeyUsage=clientAuth" for a client).
 */
export async function makeCertificates(
  dir: string,
  entries: readonly (readonly [name: string, extension: string])[],
  keyType: 'ec' | 'rsa' = 'ec',
): Promise<TestCertificates> {
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const newKey = keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'] : ['-newkey', 'rsa:2048', '-nodes'];
  openssl('req', '-x509', ...newKey, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '1', '-subj', '/CN=secrets-sidecar test CA');
  for (const [name, extension] of entries) {
    openssl('req', ...newKey, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', `/CN=${name}`);
    await writeFile(file(`${name}.ext`), `${extension}\n`);
    openssl(
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file(`${name}.pem`),
      '-days',
      '1',
      '-extfile',
      file(`${name}.ext`),
    );
  }
  return { caCert: file('ca.pem'), caKey: file('ca.key'), cert: (name) => ({ cert: file(`${name}.pem`), key: file(`${name}.key`) }) };
}
