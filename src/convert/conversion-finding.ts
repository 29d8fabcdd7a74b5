/**
 * One thing the converter could not translate as it was, or translated with a caveat: where it is in the original
 * file (1-based line and column, as an editor shows them), what it is, and what to do instead.
 */
export interface ConversionFinding {
  /** The original file, as the caller named it (the `file` option). */
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The construct, short: `key`, `plugin`, `.LeaseID of a secret`, `printf verb %05d`, `syntax error`. */
  readonly construct: string;
  /** What to do instead, for the report. */
  readonly advice: string;
}

/** The finding as one report line: `file:line:col: construct: advice`. */
export function formatFinding(finding: ConversionFinding): string {
  return `${finding.file}:${finding.line}:${finding.column}: ${finding.construct}: ${finding.advice}`;
}
