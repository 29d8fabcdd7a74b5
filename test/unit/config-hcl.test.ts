import { describe, expect, it } from 'vitest';
import { toPlain } from '../../src/config/located.js';
import { parseConfig } from '../../src/config/load-config.js';
import { parseHclConfig } from '../../src/config/parse-hcl.js';
import { MAX_NESTING, MAX_SYNTAX_NODES } from '../../src/config/source-limits.js';
import { SidecarError } from '../../src/errors.js';
import { configError as loadError } from '../support/config-error.js';

/*
 * The hand-written HCL parser on its own: HCL's rules where the tree-sitter grammar it replaced was looser (the
 * differential test, config-hcl-differential.test.ts, holds the rest to the grammar's trees), refusals that
 * name a place and never a value, and hostile input.
 */

const FILE = '/etc/sidecar/sidecar.hcl';
const plain = (source: string) => toPlain(parseHclConfig(source, FILE));

function refusal(source: string): string {
  try {
    parseHclConfig(source, FILE);
  } catch (error) {
    expect(error).toBeInstanceOf(SidecarError);
    expect((error as SidecarError).code).toBe('SIDECAR_ERR_CONFIG_SYNTAX');
    return (error as SidecarError).message.replace(`${FILE}:`, '');
  }
  throw new Error(`accepted: ${JSON.stringify(source)}`);
}

describe('HCL as HashiCorp reads it', () => {
  it('reads one-line blocks, objects, lists and comments in the forms HCL allows', () => {
    expect(plain('a { b = 1 }\nc {}\nd { }\ne "x" y {\n}\n')).toEqual({ a: [{ b: 1 }], c: [{}], d: [{}], e: { x: { y: {} } } });
    expect(plain('o = {a = 1, "b": 2,}\np = {\n  a = 1\n\n  b = 2,\n  c: [\n    1,\n    2,\n  ]\n}\n')).toEqual({
      o: { a: 1, b: 2 },
      p: { a: 1, b: 2, c: [1, 2] },
    });
    expect(plain('# a\n// b\n/* c\n d */ a /* e */ = /* f\n */ 1 # g\nb = [ /* h */ ]\n')).toEqual({ a: 1, b: [] });
    expect(plain('a = (1)\nb = ("x")\n')).toEqual({ a: 1, b: 'x' });
  });

  it('reads numbers as HCL writes them, exponents without a fraction included', () => {
    expect(plain('a = 1e3\nb = 1.5E-2\nc = 007\nd = - 1\ne = -0.5\nf = 2e+1\n')).toEqual({ a: 1000, b: 0.015, c: 7, d: -1, e: -0.5, f: 20 });
  });

  it('takes Unicode identifiers as HCL does (ID_Start, then ID_Continue or "-"), astral ones included', () => {
    expect(plain('é = 1\nÜnïcode-name_2 = 2\n_x = 3\n𝒜 = 4\nblock "é" ünï {}\no = {ключ = 5}\n')).toEqual({
      é: 1,
      'Ünïcode-name_2': 2,
      _x: 3,
      '𝒜': 4,
      block: { é: { ünï: {} } },
      o: { ключ: 5 },
    });
    // An emoji is no identifier, and the error names no text.
    expect(refusal('😀 = 1\n')).toBe('1:1: syntax error: unexpected text');
  });

  it('reads "$$${" as a literal "$" and the escape "$${", as HCL scans it', () => {
    expect(plain('a = "$$${x}"\nb = "%%%{y}"\nc = <<EOT\n$$${z}\nEOT\n')).toEqual({ a: '$${x}', b: '%%{y}', c: '$${z}\n' });
  });

  it('counts columns in UTF-16 code units from 1, a tab as one, over CRLF line ends', () => {
    expect(refusal('\tx = foo\n')).toMatch(/^1:6: an unquoted word/);
    expect(refusal('x = "😀é" + 1\r\ny = 2\r\n')).toMatch(/^1:5: operators are not supported/);
    expect(refusal('x = 1\r\ny = "😀" foo\r\n')).toMatch(/^2:10: syntax error: unexpected text/);
    expect(refusal('x = <<EOT\r\na\r\nEOT\r\ny = bar\r\n')).toMatch(/^4:5: an unquoted word/);
    expect(refusal('x = /* a\r\n b */ [\r\n\t\t1, baz]\r\n')).toMatch(/^3:6: an unquoted word/);
  });

  it.each([
    ['two attributes on one line', 'a = 1 b = 2\n', '1:7: syntax error: unexpected text; an attribute or block ends its line'],
    ['a closing brace after an attribute', 'a {\n  b = 1 }\n', '2:9: syntax error: unexpected "}"; an attribute or block ends its line'],
    ['two blocks on one line', 'a {} b {}\n', '1:6: syntax error: unexpected text; an attribute or block ends its line'],
    [
      'two attributes in a one-line block',
      'a { b = 1 c = 2 }\n',
      '1:11: syntax error: unexpected text; a block on one line holds at most one attribute and ends with "}"',
    ],
    [
      'a block in a one-line block',
      'a { b {} }\n',
      '1:5: syntax error: a block on one line holds at most one attribute (name = value); write a longer block on several lines',
    ],
    ['object items without a separator', 'o = {a = 1 b = 2}\n', '1:12: syntax error: unexpected text; object items are separated by a comma or a new line'],
    [
      'a quoted string across lines',
      'a = "x\ny"\n',
      '1:5: syntax error: this string is not closed on its line (a string of several lines is a heredoc: <<EOT)',
    ],
    ['a value on the next line', 'a =\n  1\n', '1:1: syntax error: no value after "=" on this line'],
    ['an equals sign on the next line', 'a\n= 1\n', '1:2: syntax error: unexpected end of line'],
    ['text after a heredoc marker', 'a = <<EOT # c\nx\nEOT\n', '1:5: syntax error: a heredoc starts with <<MARKER or <<-MARKER and a new line'],
    ['a CR that ends no line', 'a = 1\rb = 2\n', '1:6: syntax error: unexpected text; an attribute or block ends its line'],
    ['an index after a list', 'a = [1, 2][0]\n', '1:11: syntax error: unexpected "["; an attribute or block ends its line'],
    ['an attribute after a string on the next line', 'a = "x"\n.y\n', '2:1: syntax error: unexpected "."'],
    ['a number with a dot and no fraction', 'a = 6.e17\n', '1:6: syntax error: unexpected "."; an attribute or block ends its line'],
    ['a hexadecimal number', 'a = 0x10\n', '1:6: syntax error: unexpected text; an attribute or block ends its line'],
    ['an object key with an attribute access', 'o = {a.b = 1}\n', '1:7: syntax error: unexpected "."'],
    ['interpolation in a block label', 'a "${b}" {}\n', '1:4: interpolation (${…} or %{…}) is not supported in the config; write "$${" for a literal "${"'],
    ['for as the first word of an object', 'o = {for = 1}\n', '1:5: for expr is not supported; the config takes literal values only'],
  ])('refuses %s, which the grammar let through, at its position', (_what, source, expected) => {
    expect(refusal(source)).toBe(expected);
  });

  it.each([
    ['a function call', 'a = file("x")\n', '1:5: function call is not supported'],
    ['a conditional', 'a = x ? 1 : 2\n', '1:5: conditional is not supported'],
    ['a conditional on a literal', 'a = true ? 1 : 2\n', '1:5: conditional is not supported'],
    ['a for-expression', 'a = [for x in y: x]\n', '1:5: for expr is not supported'],
    ['an object for-expression', 'a = {for k, v in y: k => v}\n', '1:5: for expr is not supported'],
    ['negation', 'a = !true\n', '1:5: operators are not supported'],
    ['a negative variable', 'a = -x\n', '1:5: operators are not supported'],
    ['a double negative', 'a = --1\n', '1:5: operators are not supported'],
    ['arithmetic', 'a = 1 + 2\n', '1:5: operators are not supported'],
    ['a comparison of words', 'a = x == y\n', '1:5: operators are not supported'],
    ['an attribute access', 'a = x.y\n', '1:5: an unquoted word here reads as a variable'],
    ['an index', 'a = x[0]\n', '1:5: an unquoted word here reads as a variable'],
    ['a splat', 'a = x[*].y\n', '1:5: an unquoted word here reads as a variable'],
    ['interpolation', 'a = "x${y}"\n', '1:7: interpolation'],
    ['a directive', 'a = "%{ if x }y%{ endif }"\n', '1:6: interpolation'],
    ['interpolation in a heredoc', 'a = <<EOT\nok\n  ${y}\nEOT\n', '3:3: interpolation'],
    ['a number key', 'o = {1 = 2}\n', '1:6: an object key must be a name or a string'],
    ['a root object', '{"a": 1}\n', '1:1: a config file must be a body of attributes and blocks, not an object'],
  ])('refuses %s with the message it had', (_what, source, expected) => {
    expect(refusal(source)).toMatch(new RegExp(`^${expected.replace(/[$()*+.?[\]^{|}]/g, '\\$&')}`));
  });
});

describe('refusals name a place, never a value', () => {
  const SECRET = 'hvs.CAESIJ-s3cr3t_Pa55w0rd';

  it.each([
    ['an unquoted value', `token = ${SECRET}\n`],
    ['an unquoted value and more text', `token = ${SECRET} ${SECRET}\n`],
    ['an unquoted value with a colon', `token = ${SECRET}:${SECRET}@x\n`],
    ['a value after a string', `token = "x"${SECRET}\n`],
    ['an unterminated string', `token = "${SECRET}\n`],
    ['a string across lines', `token = "${SECRET}\n${SECRET}"\n`],
    ['a bad escape in a string', `token = "${SECRET}\\q${SECRET}"\n`],
    ['interpolation in a string', `token = "${SECRET}\${${SECRET}}"\n`],
    ['an unterminated heredoc', `token = <<EOT\n${SECRET}\n`],
    ['a heredoc marker closed at the end of the file', `token = <<EOT\n${SECRET}\nEOT`],
    ['an unterminated comment', `a = 1 /* ${SECRET}\n`],
    ['a stray word in a one-line block', `a { token = "x" ${SECRET} }\n`],
    ['a stray word in an object', `a = {token = "x" ${SECRET} = 1}\n`],
    ['a stray word in a list', `a = ["x" ${SECRET}]\n`],
    ['a label that is a number', `a "b" 1${SECRET} {}\n`],
    ['a word in a list', `a = [${SECRET}]\n`],
    ['a function call', `a = ${SECRET}("x")\n`],
    ['an operator', `a = ${SECRET} + 1\n`],
    ['a number out of range', `a = 9${'9'.repeat(400)}\n`],
  ])('does not quote back %s', (_what, source) => {
    const message = refusal(source);
    expect(message).toMatch(/^\d+:\d+: /);
    expect(message).not.toContain(SECRET);
    expect(message).not.toContain('s3cr3t');
    expect(message).not.toContain('999');
  });
});

describe('hostile input', () => {
  const deep = `blocks, lists and objects are nested more than ${MAX_NESTING} levels deep here`;

  it('refuses 100,000 levels of any nesting with a located error, not a stack overflow', () => {
    expect(refusal(`x = ${'('.repeat(100_000)}1${')'.repeat(100_000)}\n`)).toBe(`1:${5 + MAX_NESTING}: ${deep}`);
    expect(refusal(`x = ${'[{a = '.repeat(50_000)}\n`)).toBe(`1:${5 + (MAX_NESTING / 2) * 6}: ${deep}`);
    expect(refusal(`${'a {\n'.repeat(100_000)}`)).toBe(`${MAX_NESTING + 1}:1: ${deep}`);
    expect(refusal(`x = ${'['.repeat(100_000)}`)).toBe(`1:${5 + MAX_NESTING}: ${deep}`);
  });

  it('counts block labels as nesting: 40,000 labels made a tree that overflowed the stack of every walk over it', async () => {
    expect(refusal(`a ${'x '.repeat(40_000)}{}\n`)).toBe(`1:${3 + 2 * MAX_NESTING}: ${deep}`);
    expect(refusal(`${'a {\n'.repeat(MAX_NESTING - 1)}b "x" "y" {}\n`)).toBe(`${MAX_NESTING}:7: ${deep}`);
    expect(plain(`${'a {\n'.repeat(MAX_NESTING - 2)}b "x" "y" {}\n${'}\n'.repeat(MAX_NESTING - 2)}`)).toBeDefined();
    const error = await loadError(`a ${'"x" '.repeat(40_000)}{}\n`, FILE);
    expect(error.code).toBe('SIDECAR_ERR_CONFIG_SYNTAX');
  });

  it('refuses more syntax elements than any real config, a million-element list among them', () => {
    const limit = `1:1: the config has more than ${MAX_SYNTAX_NODES} syntax elements`;
    expect(refusal(`x = [${'1,'.repeat(1_000_000)}1]\n`)).toBe(limit);
    expect(refusal(`${'a = 1\n'.repeat(50_000).replace(/a = 1\n/g, (_m, offset: number) => `a${offset} = 1\n`)}`)).toBe(limit);
    // Blocks alone (no value in them) count too: 1 MiB holds 250,000 of these.
    expect(refusal('a {}\n'.repeat(100_000))).toBe(limit);
    expect(plain('a {}\n'.repeat(20_000))).toEqual({ a: Array.from({ length: 20_000 }, () => ({})) });
  });

  it('reads a 10 MB string and a 10 MB heredoc whole (the 1 MiB limit is the loader’s)', () => {
    const big = 'x'.repeat(10_000_000);
    expect(plain(`a = "${big}"\nb = <<EOT\n${big}\nEOT\n`)).toEqual({ a: big, b: `${big}\n` });
  });

  it.each([
    ['a string at the end of the file', 'a = "abc', '1:5: syntax error: this string is not closed on its line'],
    ['a string at the end of a line', 'a = "abc\nb = 1\n', '1:5: syntax error: this string is not closed on its line'],
    ['a heredoc that never closes', 'a = <<EOT\nabc\nEOTX\n', '1:5: syntax error: this heredoc is never closed by a line holding only its marker'],
    ['a heredoc closed at the very end of the file', 'a = <<EOT\nabc\nEOT', '3:1: syntax error: the line that closes a heredoc must end with a new line'],
    ['a heredoc with no marker', 'a = <<\nabc\n', '1:5: syntax error: a heredoc starts with <<MARKER or <<-MARKER and a new line'],
    ['a comment', 'a = 1\n/* abc', '2:1: syntax error: this comment is never closed by "*/"'],
    ['a block', 'a {\n  b = 1\n', '1:3: syntax error: this block is never closed by "}"'],
    ['a list', 'a = [1,', '1:8: syntax error: unexpected end of file'],
    ['an object', 'a = {b = 1', '1:11: syntax error: unexpected end of file; object items are separated by a comma or a new line'],
    ['an escape', 'a = "\\', '1:6: syntax error: unexpected "\\"'],
    ['a \\u escape', 'a = "\\u12', '1:6: syntax error: unexpected "\\"'],
    ['an attribute', 'a =', '1:1: syntax error: no value after "=" on this line'],
  ])('refuses %s cut short at its position', (_what, source, expected) => {
    expect(refusal(source)).toMatch(new RegExp(`^${expected.replace(/[$()*+.?[\]^{|}\\]/g, '\\$&')}`));
  });

  it('refuses lone surrogate escapes and keeps "<<" inside a string as text', () => {
    expect(refusal('a = "\\uD800"\n')).toMatch(/^1:6: invalid escape: not a Unicode scalar value/);
    expect(refusal('a = "\\uDC00\\uD800"\n')).toMatch(/^1:6: invalid escape/);
    expect(plain('a = "<<EOT"\nb = "x <<-EOT\\n"\n')).toEqual({ a: '<<EOT', b: 'x <<-EOT\n' });
  });

  it('refuses NUL bytes, invalid text and oversized files in the loader, before the parser', async () => {
    expect((await loadError('a = "x\0"\n', FILE)).message).toBe(`${FILE}:1:7: a NUL character is not allowed in a config (is this a binary file?)`);
    expect((await loadError(`a = "${'x'.repeat(16 * 1024 * 1024)}"\n`, FILE)).message).toBe(`${FILE}:1:1: the config is larger than 1 MiB`);
    expect((await loadError('a = "\uDC00"\n', FILE)).message).toBe(`${FILE}:1:6: the config is not valid UTF-8 here`);
  });

  it('reads keys that look like paths or templates as plain keys', async () => {
    expect(plain('o = {"../../etc/passwd" = 1, "{{secret \\"x\\"}}" = 2, "__proto__" = 3}\n')).toEqual({
      o: { '../../etc/passwd': 1, '{{secret "x"}}': 2, ['__proto__']: 3 },
    });
    const error = await loadError('"../../etc/passwd" = "x"\n', FILE);
    expect(error.message).toBe(`${FILE}:1:1: syntax error: unexpected string`);
  });

  it('reads a config with a byte-order mark and CRLF line ends through the loader', async () => {
    const config = await parseConfig('\uFEFFlog_level = "debug"\r\ntemplate {\r\n  contents    = "x"\r\n  destination = "/dev/shm/x"\r\n}\r\n', FILE);
    expect(config.logLevel).toBe('debug');
    expect(config.templates[0]?.contents).toBe('x');
  });
});

// Each case read by hashicorp/hcl v2's hclsyntax (ParseConfig, then the values), our parser reading differently.
describe('where hashicorp/hcl reads differently from the first hand-written parser', () => {
  it('keeps the blank lines of a <<- heredoc as written: only lines with text lose the common indentation', () => {
    expect(plain('a = <<-EOT\n    x\n        \n  \n\n    y\nEOT\n')).toEqual({ a: 'x\n        \n  \n\ny\n' });
    expect(plain('a = <<-EOT\r\n  x\r\n  \r\n  y\r\nEOT\r\n')).toEqual({ a: 'x\r\n  \r\ny\r\n' });
  });

  it('counts any Unicode space as <<- indentation and around a closing marker, as Go’s unicode.IsSpace does', () => {
    expect(plain('a = <<-EOT\n\u00a0\u3000x\n\u00a0\u3000\ty\nEOT\n')).toEqual({ a: 'x\n\ty\n' });
    expect(plain('a = <<EOT\nx\n\u2003EOT\u00a0\u000b\n')).toEqual({ a: 'x\n' });
    // Not U+FEFF, which JavaScript's \s counts as a space and Go does not.
    expect(refusal('a = <<EOT\nx\nEOT\ufeff\n')).toMatch(/^1:5: syntax error: this heredoc is never closed/);
  });

  it('refuses a carriage return that ends no line inside a string or a heredoc, where it read as text', () => {
    const SECRET = 's3cr3t-cr';
    expect(refusal(`a = "${SECRET}\r${SECRET}"\n`)).toBe('1:15: syntax error: a carriage return (CR) that is not part of a line end (CR LF)');
    expect(refusal(`a = <<EOT\n${SECRET}\r${SECRET}\nEOT\n`)).toBe('2:10: syntax error: a carriage return (CR) that is not part of a line end (CR LF)');
    expect(refusal(`a = <<EOT\r\nx\r\r\nEOT\r\n`)).toBe('2:2: syntax error: a carriage return (CR) that is not part of a line end (CR LF)');
    expect(plain('a = "x" # a comment may hold a lone \r\nb = <<EOT\r\ny\r\nEOT\r\n')).toEqual({ a: 'x', b: 'y\r\n' });
  });

  it('refuses a number that a double cannot hold as written, instead of reading another one', () => {
    expect(refusal('a = 1e-400\n')).toBe('1:5: this number is out of range');
    expect(refusal('a = 9007199254740993\n')).toBe('1:5: this number is out of range');
    expect(refusal('a = -9007199254740993\n')).toBe('1:6: this number is out of range');
    expect(plain('a = 0e-400\nb = 9007199254740991\nc = 1e-300\nd = 0.000\n')).toEqual({ a: 0, b: 9007199254740991, c: 1e-300, d: 0 });
  });

  it('refuses a block whose labels run through an earlier block of fewer labels, in either order', () => {
    expect(refusal('a "x" {}\na "x" "y" {}\n')).toBe('2:3: duplicate block a "x" "y" (first defined at line 1)');
    expect(refusal('a "x" "y" {}\na "x" {}\n')).toBe('2:3: duplicate block a "x" (first defined at line 1)');
    expect(plain('a "x" "y" {}\na "x" "z" {}\na "w" {}\n')).toEqual({ a: { x: { y: {}, z: {} }, w: {} } });
  });
});
