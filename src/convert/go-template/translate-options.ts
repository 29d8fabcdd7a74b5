import type { ConversionFinding } from '../conversion-finding.js';

export interface TranslateOptions {
  /** The original file's name, copied into every finding. */
  readonly file: string;
  /** The name of the sidecar.hcl `backend "vault"` block that `secret`, `secrets` and `pkiCert` read from. */
  readonly vaultBackend: string;
  /** consul-template's `left_delimiter` / `right_delimiter` (default `{{` and `}}`). */
  readonly leftDelimiter?: string;
  readonly rightDelimiter?: string;
}

export interface TranslateResult {
  /** The Handlebars template. Each construct that could not be translated is an `unconverted` call that fails the render. */
  readonly template: string;
  /** Every construct not translated (and the syntax error, if the file does not parse), in source order. */
  readonly findings: ConversionFinding[];
}
