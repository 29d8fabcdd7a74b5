import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { SidecarError } from '../../errors.js';

/** A certificate's parts as PEM, for separate files: the key, the leaf, the chain above it, and all in one. */
export interface CertificateParts {
  readonly private_key: string;
  readonly certificate: string;
  readonly chain: string;
  readonly bundle: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

/**
 * Splits the secret behind a Key Vault certificate into PEM parts. Key Vault stores it as PKCS#12 (base64, no
 * password; parsed with node-forge) or as PEM text. The leaf is the certificate that matches the private key,
 * whatever its position; the chain is every other certificate, in the order given.
 */
export function certificateParts(value: string, contentType: string | undefined, what: string): CertificateParts {
  const { key, certificates } = contentType === 'application/x-pkcs12' ? fromPkcs12(value, what) : fromPem(value, what);
  let privateKey: KeyObject;
  let leafIndex: number;
  try {
    privateKey = createPrivateKey(key);
    leafIndex = certificates.findIndex((pem) => new X509Certificate(pem).checkPrivateKey(privateKey));
  } catch (error) {
    // OpenSSL's reason only ("unsupported", "header too long"): never the PEM text itself.
    throw malformed(
      what,
      `holds a key or certificate that cannot be read (${(error as { reason?: string }).reason ?? (error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    );
  }
  if (leafIndex === -1) throw malformed(what, 'holds no certificate for its private key');
  const leaf = certificates[leafIndex] ?? '';
  const chain = certificates.filter((_, i) => i !== leafIndex);
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { private_key: pkcs8, certificate: leaf, chain: chain.join(''), bundle: pkcs8 + leaf + chain.join('') };
}

function fromPem(text: string, what: string): { key: string; certificates: string[] } {
  const blocks = [...text.matchAll(PEM_BLOCK)].map((m) => ({ type: m[1] ?? '', pem: `${m[0]}\n` }));
  const key = blocks.find((b) => b.type.endsWith('PRIVATE KEY'))?.pem;
  const certificates = blocks.filter((b) => b.type === 'CERTIFICATE').map((b) => b.pem);
  if (!key || certificates.length === 0) throw malformed(what, 'is not a PEM certificate with its private key');
  return { key, certificates };
}

function fromPkcs12(base64: string, what: string): { key: string; certificates: string[] } {
  try {
    const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(forge.util.decode64(base64)), '');
    const oids = forge.pki.oids;
    const keyBags = [oids['pkcs8ShroudedKeyBag'], oids['keyBag']].flatMap((type) => (type ? (p12.getBags({ bagType: type })[type] ?? []) : []));
    const certOid = oids['certBag'] ?? '';
    const certBags = p12.getBags({ bagType: certOid })[certOid] ?? [];
    const key = keyBags.find((bag) => bag.key)?.key;
    if (!key) throw new Error('no private key');
    return { key: forge.pki.privateKeyToPem(key), certificates: certBags.flatMap((bag) => (bag.cert ? [forge.pki.certificateToPem(bag.cert)] : [])) };
  } catch (error) {
    // node-forge reads RSA keys only; its message names what it could not read, never key material.
    throw malformed(what, `is not a PKCS#12 bundle this reader understands (${(error as Error).message}); store the certificate as PEM`);
  }
}

function malformed(what: string, problem: string): SidecarError {
  return new SidecarError('SIDECAR_ERR_BACKEND_MALFORMED', `${what} ${problem}`, { retryable: false });
}
