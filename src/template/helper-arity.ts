/** How each helper may be called: positional arguments, hash arguments, block or not. */
export interface HelperShape {
  /** The least number of positional arguments; also the most unless `maxArgs` says otherwise. */
  readonly args: number;
  readonly maxArgs?: number;
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
  list: { args: 1, hash: [], block: false, usage: '{{#range (list "name:path/")}}{{this}}{{/range}}' },
  range: { args: 1, hash: [], block: true, usage: '{{#range value as |item key|}}…{{else}}…{{/range}}' },
  let: { args: 1, hash: ['cell'], block: true, usage: '{{#let value as |name|}}…{{/let}}' },
  assign: { args: 2, hash: [], block: false, usage: '{{assign name value}} (name from {{#let value cell=true as |name|}})' },
  unconverted: { args: 1, hash: [], block: false, usage: '{{unconverted "what the converter could not translate"}}' },
  replace: { args: 3, hash: [], block: false, usage: '{{replace value "from" "to"}}' },
  split: { args: 2, hash: [], block: false, usage: '{{split value ","}}' },
  join: { args: 2, hash: [], block: false, usage: '{{join list ","}}' },
  upper: { args: 1, hash: [], block: false, usage: '{{upper value}}' },
  lower: { args: 1, hash: [], block: false, usage: '{{lower value}}' },
  trimSpace: { args: 1, hash: [], block: false, usage: '{{trimSpace value}}' },
  contains: { args: 2, hash: [], block: false, usage: '{{contains text "part"}} or {{contains list item}}' },
  printf: { args: 1, maxArgs: Infinity, hash: [], block: false, usage: '{{printf "%s-%d" text 3}}' },
  toJSON: { args: 1, hash: [], block: false, usage: '{{toJSON value}}' },
  toJSONPretty: { args: 1, hash: [], block: false, usage: '{{toJSONPretty value}}' },
  toYAML: { args: 1, hash: [], block: false, usage: '{{toYAML value}}' },
  eq: { args: 2, maxArgs: Infinity, hash: [], block: false, usage: '{{#if (eq a b)}}…{{/if}}' },
  ne: { args: 2, hash: [], block: false, usage: '{{#if (ne a b)}}…{{/if}}' },
  not: { args: 1, hash: [], block: false, usage: '{{#if (not a)}}…{{/if}}' },
  and: { args: 1, maxArgs: Infinity, hash: [], block: false, usage: '{{#if (and a b)}}…{{/if}}' },
  or: { args: 1, maxArgs: Infinity, hash: [], block: false, usage: '{{#if (or a b)}}…{{/if}}' },
  len: { args: 1, hash: [], block: false, usage: '{{len value}}' },
  deferred: { args: 1, maxArgs: Infinity, hash: 'any', block: false, usage: '{{#if (and a (deferred "len" a))}}…{{/if}} (written by convert)' },
  lt: { args: 2, hash: [], block: false, usage: '{{#if (lt a b)}}…{{/if}}' },
  le: { args: 2, hash: [], block: false, usage: '{{#if (le a b)}}…{{/if}}' },
  gt: { args: 2, hash: [], block: false, usage: '{{#if (gt a b)}}…{{/if}}' },
  ge: { args: 2, hash: [], block: false, usage: '{{#if (ge a b)}}…{{/if}}' },
};

/** Why a call does not fit its helper's shape, or undefined when it does. */
export function shapeMismatch(name: string, args: number, hashNames: readonly string[], block: boolean): string | undefined {
  if (!Object.hasOwn(HELPER_SHAPES, name)) return undefined;
  const shape = HELPER_SHAPES[name] as HelperShape;
  const max = shape.maxArgs ?? shape.args;
  const count = max === shape.args ? `${shape.args}` : max === Infinity ? `at least ${shape.args}` : `${shape.args} to ${max}`;
  const plural = shape.args === 1 ? 'argument' : 'arguments';
  if (args < shape.args || args > max) return `${name} takes ${count} ${plural}, got ${args}: ${shape.usage}`;
  if (block !== shape.block) return shape.block ? `${name} is a block helper: ${shape.usage}` : `${name} is not a block helper: ${shape.usage}`;
  if (shape.hash !== 'any') {
    const unknown = hashNames.find((n) => !(shape.hash as readonly string[]).includes(n));
    if (unknown !== undefined) return `${name} takes no argument "${unknown}=": ${shape.usage}`;
  }
  return undefined;
}
