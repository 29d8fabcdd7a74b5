/*
 * Kubernetes resource quantities ("100m", "64Mi", "1.5", "2e3"), parsed to compare an override with its limit.
 * The grammar is Kubernetes' own (k8s.io/apimachinery resource.Quantity); anything else is refused, so a value
 * the API server would reject never reaches a patch.
 */
const QUANTITY = /^(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d{1,3})?$/;

const SUFFIX: Readonly<Record<string, number>> = {
  '': 1,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** The quantity in base units (cores, bytes), or undefined when `text` is not a quantity. */
export function parseQuantity(text: string): number | undefined {
  if (text.length > 40) return undefined;
  const match = QUANTITY.exec(text);
  if (!match) return undefined;
  const [, digits = '', suffix = ''] = match;
  const factor = /^[eE]/.test(suffix) ? 10 ** Number(suffix.slice(1)) : SUFFIX[suffix];
  const value = Number(digits) * (factor ?? NaN);
  return Number.isFinite(value) ? value : undefined;
}
