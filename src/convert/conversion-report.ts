import { formatFinding, type ConversionFinding } from './conversion-finding.js';

/** The findings in file order, then position, so the report reads top to bottom. */
export function sortFindings(findings: readonly ConversionFinding[]): ConversionFinding[] {
  return [...findings].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) || a.line - b.line || a.column - b.column);
}

/**
 * `file:line:col: construct: what to do instead`, one line per finding, as compilers print them. A finding names
 * options and constructs, never their values (a peer config may hold a token); a construct spanning lines (a
 * template action) is folded onto one.
 */
export function formatReport(findings: readonly ConversionFinding[]): string {
  return sortFindings(findings)
    .map((f) => `${formatFinding({ ...f, construct: oneLine(f.construct), advice: oneLine(f.advice) })}\n`)
    .join('');
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ');
}
