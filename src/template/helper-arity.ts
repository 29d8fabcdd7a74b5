/** How each helper may be called: positional arguments, hash arguments, block or not. */
export interface HelperShape {
  readonly args: number;
  /** Hash argument names accepted; `any` for `secret` (its hash arguments are the request's parameters). */
  readonly hash: readonly string[] | 'any';
  readonly block: boolean;
  readonly usage: string;
}

export const HELPER_SHAPES: Readonly<Record<string, HelperShape>> = {
  secret: { args: 1, hash: 'any', block: false, usage: '{{secret "name:path#key"}}' },
  json: { args: 1, hash: ['indent'], block: false, usage: '{{json value}} or {{json value indent=2}}' },
  base64Encode: { args: 1, hash: [], block: false, usage: '{{base64Encode value}}' },
  base64Decode: { args: 1, hash: [], block: false, usage: '{{base64Decode value}}' },
  default: { args: 2, hash: [], block: false, usage: '{{default value "fallback"}}' },
  trim: { args: 1, hash: [], block: false, usage: '{{trim value}}' },
  indent: { args: 2, hash: [], block: false, usage: '{{indent value 4}}' },
  env: { args: 1, hash: [], block: false, usage: '{{env "NAME"}}' },
  lookup: { args: 2, hash: [], block: false, usage: '{{lookup object "key"}}' },
  each: { args: 1, hash: [], block: true, usage: '{{#each list}}…{{/each}}' },
  if: { args: 1, hash: ['includeZero'], block: true, usage: '{{#if value}}…{{/if}}' },
  unless: { args: 1, hash: ['includeZero'], block: true, usage: '{{#unless value}}…{{/unless}}' },
  with: { args: 1, hash: [], block: true, usage: '{{#with value}}…{{/with}}' },
};

/** Why a call does not fit its helper's shape, or undefined when it does. */
export function shapeMismatch(name: string, args: number, hashNames: readonly string[], block: boolean): string | undefined {
  if (!Object.hasOwn(HELPER_SHAPES, name)) return undefined;
  const shape = HELPER_SHAPES[name] as HelperShape;
  const plural = shape.args === 1 ? 'argument' : 'arguments';
  if (args !== shape.args) return `${name} takes ${shape.args} ${plural}, got ${args}: ${shape.usage}`;
  if (block !== shape.block) return shape.block ? `${name} is a block helper: ${shape.usage}` : `${name} is not a block helper: ${shape.usage}`;
  if (shape.hash !== 'any') {
    const unknown = hashNames.find((n) => !(shape.hash as readonly string[]).includes(n));
    if (unknown !== undefined) return `${name} takes no argument "${unknown}=": ${shape.usage}`;
  }
  return undefined;
}
