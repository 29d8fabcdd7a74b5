import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { boundedCall, readBounded } from '../bounded-read.js';
import type { Position } from '../config/located.js';
import { parseHclConfig } from '../config/parse-hcl.js';
import { parseJsonConfig } from '../config/parse-json.js';
import { MAX_CONFIG_BYTES, checkConfigSource, checkValueCharacters, decodeConfig } from '../config/source-limits.js';
import { SidecarError } from '../errors.js';
import type { ConversionFinding } from './conversion-finding.js';
import { PeerBlock, type PeerFile } from './peer-block.js';

/**
 * A peer's config file (HCL, or JSON), read with our own parsing machinery: the same size, depth and UTF-8 limits, and a broken
 * input gets the same file:line:col errors as a broken sidecar.hcl.
 */
export async function readPeerHcl(file: string): Promise<{ root: PeerBlock; report: ConversionFinding[] }> {
  let bytes: Buffer;
  try {
    bytes = await readBounded(file, { maxBytes: MAX_CONFIG_BYTES + 4, regularOnly: true });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EFBIG' ? `larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB` : (cause as Error).message;
    throw new SidecarError('SIDECAR_ERR_CONFIG_READ', `cannot read config ${file}: ${reason}`, { cause });
  }
  const text = checkConfigSource(decodeConfig(bytes, file), file);
  // The peers read JSON configs too (HCL 1 parses them): a name ending in .json is JSON, as for sidecar.hcl.
  const tree = extname(file).toLowerCase() === '.json' ? parseJsonConfig(text, file) : parseHclConfig(text, file);
  checkValueCharacters(tree, file);
  if (tree.kind !== 'object') throw new SidecarError('SIDECAR_ERR_CONFIG_SYNTAX', `${file}:1:1: expected a body of attributes and blocks`);
  const report: ConversionFinding[] = [];
  const mode = await permissionBits(file);
  return { root: new PeerBlock({ file, lines: text.split('\n'), report, mode }, tree, ''), report };
}

/** Go templates are kilobytes; a larger source is refused rather than held in memory whole. */
export const MAX_TEMPLATE_BYTES = 1024 * 1024;

/**
 * What all the sources one config names may total: a 1 MiB config can hold thousands of template blocks naming
 * the same large file, each read, translated and held until written (~8 MiB of memory per MiB of source).
 */
export const MAX_TOTAL_TEMPLATE_BYTES = 16 * 1024 * 1024;

/** Source bytes read so far, per config file being converted. */
const sourceBytesRead = new WeakMap<PeerFile, number>();

/**
 * A template source file, read as the peer reads it. Only a regular file: a device (/dev/zero) or a FIFO would
 * never end, and a directory is a mistake. The error names the option in the config, not the file's contents.
 */
export async function readTemplateSource(path: string, peer: PeerFile, pos: Position): Promise<{ text: string; mode: number }> {
  const file = peer.file;
  const before = sourceBytesRead.get(peer) ?? 0;
  const left = MAX_TOTAL_TEMPLATE_BYTES - before;
  let bytes: Buffer;
  try {
    bytes = await readBounded(path, { maxBytes: Math.min(MAX_TEMPLATE_BYTES, left), regularOnly: true });
    sourceBytesRead.set(peer, before + bytes.length);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EFBIG'
          ? left < MAX_TEMPLATE_BYTES
            ? `the sources this config names would total more than ${MAX_TOTAL_TEMPLATE_BYTES / 1024 / 1024} MiB; convert it in parts`
            : `larger than ${MAX_TEMPLATE_BYTES / 1024 / 1024} MiB`
          : code === 'EINVAL'
            ? 'not a regular file'
            : (cause as Error).message;
    throw new SidecarError('SIDECAR_ERR_TEMPLATE_READ', `${file}:${pos.line}:${pos.column}: cannot read template source ${path}: ${reason}`, { cause });
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), mode: await permissionBits(path) };
  } catch (cause) {
    throw new SidecarError('SIDECAR_ERR_TEMPLATE_READ', `${file}:${pos.line}:${pos.column}: template source ${path} is not valid UTF-8`, { cause });
  }
}

/**
 * A file's permission bits, which its converted copy never exceeds: a template read from a file only its owner may
 * read must not become readable by all in --out.
 */
async function permissionBits(path: string): Promise<number> {
  return (await boundedCall(path, 'stat', () => stat(path))).mode & 0o777;
}
