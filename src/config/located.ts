/** A parsed config document that remembers where each value and key came from, for error messages. */

export interface Position {
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
}

export interface LocatedEntry {
  readonly keyPos: Position;
  readonly node: LocatedNode;
}

export type LocatedNode =
  | { readonly kind: 'object'; readonly pos: Position; readonly entries: Map<string, LocatedEntry> }
  | { readonly kind: 'array'; readonly pos: Position; readonly items: LocatedNode[] }
  | { readonly kind: 'scalar'; readonly pos: Position; readonly value: string | number | boolean | null };

export type PathSegment = string | number;

export function toPlain(node: LocatedNode): unknown {
  switch (node.kind) {
    case 'scalar':
      return node.value;
    case 'array':
      return node.items.map(toPlain);
    case 'object': {
      const plain: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      for (const [key, entry] of node.entries) plain[key] = toPlain(entry.node);
      return plain;
    }
  }
}

/**
 * The position of the value at `path`, or of the deepest ancestor that exists. With `key`, the position of that
 * key inside the object at `path` (for "unknown key" errors).
 */
export function locate(root: LocatedNode, path: readonly PathSegment[], key?: string): Position {
  let node = root;
  for (const segment of path) {
    const next = child(node, segment);
    if (!next) return node.pos;
    node = next.node;
  }
  // A once-only block that HCL parsed as a one-item list: its keys are in the item.
  if (key !== undefined && node.kind === 'array' && node.items.length === 1) node = node.items[0]!;
  if (key !== undefined && node.kind === 'object') return node.entries.get(key)?.keyPos ?? node.pos;
  return node.pos;
}

function child(node: LocatedNode, segment: PathSegment): LocatedEntry | undefined {
  if (node.kind === 'object') return node.entries.get(String(segment));
  if (node.kind === 'array') {
    // A string segment on a list: a once-only block that HCL parsed as a one-item list.
    const item = node.items[typeof segment === 'number' ? segment : 0];
    if (typeof segment === 'string') return item ? child(item, segment) : undefined;
    return item ? { keyPos: item.pos, node: item } : undefined;
  }
  // A single block written where a list is allowed: the path's index 0 means the block itself.
  if (segment === 0) return { keyPos: node.pos, node };
  return undefined;
}
