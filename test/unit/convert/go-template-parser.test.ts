import { describe, expect, it } from 'vitest';
import type { Node } from '../../../src/convert/go-template/ast.js';
import { GoTemplateSyntaxError, tokenize } from '../../../src/convert/go-template/lexer.js';
import { parseGoTemplate } from '../../../src/convert/go-template/parser.js';

function syntaxError(source: string): GoTemplateSyntaxError {
  try {
    parseGoTemplate(source);
  } catch (error) {
    expect(error).toBeInstanceOf(GoTemplateSyntaxError);
    return error as GoTemplateSyntaxError;
  }
  throw new Error('expected a syntax error');
}

const texts = (nodes: Node[]) => nodes.filter((n) => n.kind === 'text').map((n) => (n.kind === 'text' ? n.text : ''));

describe('Go template lexer', () => {
  it('gives every token its line and column', () => {
    const tokens = tokenize('a\n  {{ .Data.x | f "s" }}');
    const field = tokens.find((t) => t.kind === 'field');
    const str = tokens.find((t) => t.kind === 'string');
    expect(field?.pos).toEqual({ offset: 7, line: 2, column: 6 });
    expect(str?.pos).toMatchObject({ line: 2, column: 18 });
  });

  it('reads a dash as a trim marker only when white space follows it', () => {
    expect(tokenize('{{-3}}').map((t) => t.kind)).toEqual(['leftDelim', 'number', 'rightDelim', 'eof']);
    const trimmed = tokenize('{{- 3 -}}');
    expect(trimmed[0]).toMatchObject({ kind: 'leftDelim', trim: true });
    expect(trimmed.find((t) => t.kind === 'rightDelim')).toMatchObject({ trim: true });
  });

  it('lexes variables, declarations, parentheses, raw strings, chars, bools and nil', () => {
    const kinds = tokenize("{{ $x := (index .M `k`) }}{{ $x = true }}{{ nil }}{{ 'a' }}")
      .filter((t) => t.kind !== 'space')
      .map((t) => t.kind);
    expect(kinds).toEqual([
      'leftDelim',
      'variable',
      'declare',
      'leftParen',
      'identifier',
      'field',
      'rawString',
      'rightParen',
      'rightDelim',
      'leftDelim',
      'variable',
      'assign',
      'bool',
      'rightDelim',
      'leftDelim',
      'nil',
      'rightDelim',
      'leftDelim',
      'char',
      'rightDelim',
      'eof',
    ]);
  });

  it('honours other delimiters', () => {
    const nodes = parseGoTemplate('{{ not an action }} [[ .X ]]', { left: '[[', right: ']]' });
    expect(texts(nodes)).toEqual(['{{ not an action }} ']);
    expect(nodes[1]?.kind).toBe('action');
  });
});

describe('Go template parser', () => {
  it('trims white space (spaces, tabs, CR, LF) exactly as far as the next non-space, as Go does', () => {
    const nodes = parseGoTemplate('a \t\r\n {{- .X -}} \n\n b {{ .Y }} c');
    expect(texts(nodes)).toEqual(['a', 'b ', ' c']);
  });

  it('drops comments, trimmed or not, and keeps the text around them', () => {
    expect(texts(parseGoTemplate('a {{/* one */}} b {{- /* two */ -}} c'))).toEqual(['a ', ' b', 'c']);
    expect(syntaxError('{{/* open').message).toBe('unclosed comment');
    expect(syntaxError('{{/* x */ }}').message).toBe('comment ends before closing delimiter');
  });

  it('moves a trimmed text node to where its first kept character is', () => {
    const nodes = parseGoTemplate('{{ 1 -}}\n\n  x');
    expect(nodes[1]).toMatchObject({ kind: 'text', text: 'x', pos: { line: 3, column: 3 } });
  });

  it('parses if / else if / else as a chain sharing one end', () => {
    const [node] = parseGoTemplate('{{if .A}}a{{else if .B}}b{{else}}c{{end}}');
    expect(node).toMatchObject({ kind: 'if', chained: false, list: [{ text: 'a' }] });
    const chained = node?.kind === 'if' ? node.elseList?.[0] : undefined;
    expect(chained).toMatchObject({ kind: 'if', chained: true, list: [{ text: 'b' }], elseList: [{ text: 'c' }] });
  });

  it('parses range with two variables and an else, and with and its variable', () => {
    const [range, , withNode] = parseGoTemplate('{{ range $k, $v := .M }}{{$k}}{{else}}none{{end}} {{ with $s := secret "p" }}{{end}}');
    expect(range).toMatchObject({ kind: 'range', pipe: { decl: [{ name: '$k' }, { name: '$v' }] }, elseList: [{ text: 'none' }] });
    expect(withNode).toMatchObject({ kind: 'with', pipe: { decl: [{ name: '$s' }], cmds: [{ args: [{ name: 'secret' }, { value: 'p' }] }] } });
  });

  it('parses pipelines, parenthesised calls and field chains on variables and calls', () => {
    const [action] = parseGoTemplate('{{ (secret "p").Data.x | f $v.A.b "q" }}');
    expect(action).toMatchObject({
      kind: 'action',
      pipe: {
        cmds: [
          { args: [{ kind: 'field', names: ['Data', 'x'], receiver: { kind: 'pipeline' } }] },
          {
            args: [
              { kind: 'identifier', name: 'f' },
              { kind: 'field', names: ['A', 'b'], receiver: { kind: 'variable', name: '$v' } },
              { kind: 'string', value: 'q' },
            ],
          },
        ],
      },
    });
  });

  it('reads Go string escapes and number forms', () => {
    const [action] = parseGoTemplate('{{ f "a\\n\\t\\"\\u00e9\\x41\\101" 0x1F -2.5 1_000 0o17 017 }}');
    const args = action?.kind === 'action' ? action.pipe.cmds[0]?.args : [];
    expect(args?.slice(1).map((a) => ('value' in a ? a.value : undefined))).toEqual(['a\n\t"éAA', 31, -2.5, 1000, 15, 15]);
  });

  it('reports syntax errors with the line and column of the culprit', () => {
    expect(syntaxError('ok\n{{ if .A }}never closed').pos).toMatchObject({ line: 2, column: 4 });
    const unexpected = syntaxError('a\nb {{ end }}');
    expect(unexpected.message).toBe('unexpected {{end}}');
    expect(unexpected.pos).toMatchObject({ line: 2, column: 6 });
    expect(syntaxError('{{ "open }}').message).toBe('unterminated quoted string');
    expect(syntaxError('{{ f ( }}').message).toBe('unclosed left paren');
    expect(syntaxError('{{ f ) }}').message).toBe('unexpected right paren');
    expect(syntaxError('{{ .A').message).toBe('unclosed action');
    expect(syntaxError('{{ "bad \\q" }}').message).toContain('invalid escape');
    // A literal in a broken action is never quoted back: it may be a password written in the template.
    for (const source of ['{{ "hunter2-pw\\q" }}', '{{ end "hunter2-pw" }}', '{{ if "a" }}{{ else "hunter2-pw" }}{{ end }}', '{{ ( `hunter2-pw` }}'])
      expect(syntaxError(source).message).not.toContain('hunter2');
    expect(syntaxError('{{ 12ab }}').message).toContain('bad number syntax');
    expect(syntaxError('{{ f | }}').message).toBe('missing command after |');
  });

  it('keeps template, define, block, break and continue as nodes to report', () => {
    const nodes = parseGoTemplate('{{ define "x" }}body{{ end }}{{ template "x" }}{{ range .L }}{{ break }}{{ end }}');
    expect(nodes.map((n) => (n.kind === 'other' ? n.keyword : n.kind))).toEqual(['define', 'template', 'range']);
  });
});
