import type { LocatedEntry, LocatedNode, Position } from '../config/located.js';
import { formatLocation } from '../config/syntax-error.js';
import { SidecarError } from '../errors.js';
import type { ConversionFinding } from './conversion-finding.js';
import type { InlineOffset } from './peer-config.js';

type ObjectNode = Extract<LocatedNode, { kind: 'object' }>;

/** What a peer config reader shares while it walks one file. */
export interface PeerFile {
  readonly file: string;
  /** The source lines, to read a number as written (`perms = 0600` is octal to HCL 1, which the peers use). */
  readonly lines: readonly string[];
  readonly report: ConversionFinding[];
  /** The config file's permission bits. */
  readonly mode: number;
}

/**
 * One block (or object) of a peer config, read option by option. Each getter marks its key as read, so that
 * `reportRest` can put every option the converter did not read in the report: nothing is dropped silently.
 * Errors name file:line:col and the option's path, never its value.
 */
export class PeerBlock {
  readonly #read = new Set<string>();

  constructor(
    readonly peer: PeerFile,
    readonly node: ObjectNode,
    /** `vault`, `template[2]`, `auto_auth.method "approle"`: how the report names an option inside. */
    readonly path: string,
  ) {}

  get pos(): Position {
    return this.node.pos;
  }

  has(key: string): boolean {
    return this.node.entries.has(key);
  }

  keyPos(key: string): Position {
    return this.node.entries.get(key)?.keyPos ?? this.node.pos;
  }

  name(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  /** Marks a key as read without reading it (the caller reports or uses it by itself). */
  take(key: string): LocatedEntry | undefined {
    this.#read.add(key);
    return this.node.entries.get(key);
  }

  string(key: string): string | undefined {
    const entry = this.take(key);
    if (!entry) return undefined;
    if (entry.node.kind !== 'scalar' || typeof entry.node.value !== 'string') throw this.invalid(entry, key, 'expected a string');
    return entry.node.value;
  }

  bool(key: string): boolean | undefined {
    const entry = this.take(key);
    if (!entry) return undefined;
    if (entry.node.kind === 'scalar' && typeof entry.node.value === 'boolean') return entry.node.value;
    // HCL 1 and Go's strconv.ParseBool, which the peers decode with, take these strings too.
    if (entry.node.kind === 'scalar' && typeof entry.node.value === 'string') {
      if (['true', '1', 't', 'T', 'TRUE', 'True'].includes(entry.node.value)) return true;
      if (['false', '0', 'f', 'F', 'FALSE', 'False'].includes(entry.node.value)) return false;
    }
    throw this.invalid(entry, key, 'expected true or false');
  }

  /** A number exactly as the source writes it ("0600", "10"), or a string's text. */
  numberText(key: string): string | undefined {
    const entry = this.take(key);
    if (!entry) return undefined;
    if (entry.node.kind !== 'scalar') throw this.invalid(entry, key, 'expected a number or a string');
    if (typeof entry.node.value === 'string') return entry.node.value;
    if (typeof entry.node.value !== 'number') throw this.invalid(entry, key, 'expected a number or a string');
    const line = this.peer.lines[entry.node.pos.line - 1] ?? '';
    return /^-?[0-9a-fA-FxXoO._+e]+/.exec(line.slice(entry.node.pos.column - 1))?.[0] ?? String(entry.node.value);
  }

  /** Where a string value starts in the source, and whether it is a heredoc (for positions inside it). */
  valueOffset(key: string): InlineOffset | undefined {
    const node = this.node.entries.get(key)?.node;
    if (!node) return undefined;
    const line = this.peer.lines[node.pos.line - 1] ?? '';
    return { line: node.pos.line, column: node.pos.column, heredoc: line.slice(node.pos.column - 1).startsWith('<<') };
  }

  /** A string, or a list of strings (the peers take both for commands and lists of names). */
  stringOrList(key: string): { readonly value: string | string[]; readonly pos: Position } | undefined {
    const entry = this.take(key);
    if (!entry) return undefined;
    if (entry.node.kind === 'scalar' && typeof entry.node.value === 'string') return { value: entry.node.value, pos: entry.node.pos };
    if (entry.node.kind === 'array' && entry.node.items.every((i) => i.kind === 'scalar' && typeof i.value === 'string')) {
      return { value: entry.node.items.map((i) => (i.kind === 'scalar' ? String(i.value) : '')), pos: entry.node.pos };
    }
    throw this.invalid(entry, key, 'expected a string or a list of strings');
  }

  /** Unlabelled blocks `key { … }` (or `key = { … }`), in order. */
  blocks(key: string): PeerBlock[] {
    const entry = this.take(key);
    if (!entry) return [];
    const items = entry.node.kind === 'array' ? entry.node.items : [entry.node];
    return items.map((item, index) => {
      if (item.kind !== 'object') throw this.invalid(entry, key, 'expected a block');
      return new PeerBlock(this.peer, item, items.length > 1 ? `${this.name(key)}[${index}]` : this.name(key));
    });
  }

  /** A block that may appear once; a second one is an error, as it is to the peers. */
  block(key: string): PeerBlock | undefined {
    const all = this.blocks(key);
    if (all.length > 1) throw this.invalid(this.node.entries.get(key) as LocatedEntry, key, 'this block may appear only once');
    return all[0];
  }

  /** Labelled blocks `key "label" { … }`, by label; an unlabelled `key { … }` comes back as an error. */
  labelled(key: string): Array<{ readonly label: string; readonly block: PeerBlock }> {
    const entry = this.take(key);
    if (!entry) return [];
    if (entry.node.kind !== 'object') throw this.invalid(entry, key, 'expected a labelled block: key "label" { … }');
    return [...entry.node.entries].map(([label, inner]) => {
      if (inner.node.kind !== 'object') throw this.invalid(inner, key, 'expected a block');
      return { label, block: new PeerBlock(this.peer, inner.node, `${this.name(key)} "${label}"`) };
    });
  }

  /** Puts one line in the report for a construct at a key. */
  note(key: string, advice: string, construct = this.name(key)): void {
    const { line, column } = this.keyPos(key);
    this.peer.report.push({ file: this.peer.file, line, column, construct, advice });
  }

  /** An option with no counterpart: a report line if it is there, and it counts as read. */
  drop(key: string, advice: string): void {
    if (this.has(key)) this.note(key, advice);
    this.take(key);
  }

  /** Puts one line in the report for the block itself (at its first line). */
  noteBlock(advice: string, construct = this.path): void {
    this.peer.report.push({ file: this.peer.file, line: this.pos.line, column: this.pos.column, construct, advice });
  }

  /** Reports every option not read, with what to do instead (`insteadOf` knows the peer's options). */
  reportRest(insteadOf: (key: string) => string): void {
    for (const [key, entry] of this.node.entries) {
      if (this.#read.has(key)) continue;
      this.#read.add(key);
      this.peer.report.push({ file: this.peer.file, line: entry.keyPos.line, column: entry.keyPos.column, construct: this.name(key), advice: insteadOf(key) });
    }
  }

  invalid(entry: LocatedEntry, key: string, message: string): SidecarError {
    return new SidecarError('SIDECAR_ERR_CONFIG_INVALID', `${formatLocation(this.peer.file, entry.keyPos)}: ${this.name(key)}: ${message}`);
  }
}
