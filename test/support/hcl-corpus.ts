/**
 * Seeded generator of literal-only HCL2 configs, for the differential test of the hand-written parser against
 * the tree-sitter grammar it replaced: random trees of blocks and attributes, random spacing, comments, escapes
 * and heredocs, CRLF or LF. Everything it writes is valid HCL as HashiCorp's parser reads it.
 */
export class HclCorpus {
  private readonly newline: string;

  constructor(private readonly random: () => number) {
    this.newline = random() < 0.2 ? '\r\n' : '\n';
  }

  config(): string {
    return this.body(0, '').join('');
  }

  private int(n: number): number {
    return Math.floor(this.random() * n);
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  private space(): string {
    return this.pick(['', ' ', ' ', '  ', '\t', ' \t ']);
  }

  /** Space where one is required, with now and then a comment of `/* … *\/` form. */
  private gap(): string {
    return this.random() < 0.1 ? ` /* ${this.pick(['c', '{', '"', 'x = 1', '*'])} */ ` : this.pick([' ', '  ', '\t']);
  }

  private endOfLine(): string {
    const comment = this.random() < 0.15 ? this.space() + this.pick(['# note', '// note', '#', '# a = "${x}"', '// }']) : '';
    return this.space() + comment + this.newline;
  }

  private blankLines(indent: string): string {
    if (this.random() < 0.8) return '';
    return this.pick([this.newline, indent + '# comment' + this.newline, `/* a${this.newline} b */` + this.newline]);
  }

  private name(): string {
    return this.pick(['a', 'b', 'c', 'name', 'é', 'a-b', '_x', 'x1', 'Ünïcode', 'for', 'in', 'true_', 'null1', 'ab_c-d']);
  }

  private body(depth: number, indent: string): string[] {
    const lines: string[] = [];
    const used = new Set<string>();
    const count = this.int(depth === 0 ? 6 : 4);
    for (let i = 0; i < count; i++) {
      lines.push(this.blankLines(indent));
      let name = this.name();
      // A name used twice in a body is an error both parsers report; a few are left in on purpose.
      if (used.has(name) && this.random() < 0.9) name = `${name}${i}`;
      used.add(name);
      if (this.random() < 0.45 || depth > 4) lines.push(`${indent}${name}${this.space()}=${this.space()}${this.value(depth + 1, indent)}${this.endOfLine()}`);
      // A heredoc's closing line holds only its marker: no comment after it.
      else if (this.random() < 0.2) lines.push(`${indent}${name}${this.space()}=${this.space()}${this.heredoc()}${this.newline}`);
      else lines.push(this.block(name, depth, indent));
    }
    return lines;
  }

  private block(type: string, depth: number, indent: string): string {
    const labels = Array.from({ length: this.int(3) }, () => (this.random() < 0.7 ? this.string() : this.name()));
    const head = `${indent}${type}${labels.map((l) => this.gap() + l).join('')}${this.space()}{`;
    const shape = this.random();
    if (shape < 0.15) return `${head}}${this.endOfLine()}`;
    if (shape < 0.3) return `${head} ${this.name()} = ${this.random() < 0.5 ? this.number() : this.string()} }${this.endOfLine()}`;
    const inner = indent + this.pick(['  ', '\t', '    ']);
    return `${head}${this.endOfLine()}${this.body(depth + 1, inner).join('')}${indent}}${this.endOfLine()}`;
  }

  private value(depth: number, indent: string): string {
    const kind = this.random();
    if (depth > 6 || kind < 0.2) return this.number();
    if (kind < 0.28) return this.pick(['true', 'false', 'null']);
    if (kind < 0.6) return this.string();
    if (kind < 0.82) return this.tuple(depth, indent);
    return this.object(depth, indent);
  }

  private number(): string {
    const digits = String(this.int(1000));
    const forms = [digits, `${digits}.${this.int(100)}`, `${this.int(10)}.${this.int(10)}e${this.pick(['', '+', '-'])}${this.int(20)}`, `0${digits}`];
    const body = this.pick(forms);
    return this.random() < 0.2 ? `-${this.pick(['', ' '])}${body}` : body;
  }

  string(): string {
    const pieces = [
      'a',
      ' ',
      'hello',
      'é',
      '😀',
      '\\n',
      '\\t',
      '\\r',
      '\\"',
      '\\\\',
      '\\u00e9',
      '\\U0001F600',
      '$${x}',
      '%%{ if }',
      'a$b',
      'a%b',
      '$"'.slice(0, 1) + 'a',
      '{',
      '}',
      '#',
      '//',
      '/*',
      '<<EOF',
      "'",
      '\t',
    ];
    return `"${Array.from({ length: this.int(6) }, () => this.pick(pieces)).join('')}"`;
  }

  private heredoc(): string {
    const marker = this.pick(['EOF', 'EOT', 'END_OF-TEXT']);
    const strip = this.random() < 0.5;
    const lines = Array.from({ length: this.int(4) }, () =>
      this.pick(['', '  ', '\t']).concat(this.pick(['line', '"quoted" \\n', '$${a} %%{b}', '  x  ', '', '$ % { }', `${marker}x`, `x ${marker}`])),
    );
    const closing = this.pick(['', '  ', '\t']) + marker + this.pick(['', ' ']);
    return `<<${strip ? '-' : ''}${marker}${this.newline}${lines.map((l) => l + this.newline).join('')}${closing}`;
  }

  private tuple(depth: number, indent: string): string {
    const items = Array.from({ length: this.int(4) }, () => this.value(depth + 1, indent));
    const multiline = this.random() < 0.4;
    const sep = multiline ? `,${this.newline}${indent}  ` : `,${this.space()}`;
    const trailing = items.length > 0 && this.random() < 0.3 ? ',' : '';
    if (multiline) return `[${this.newline}${indent}  ${items.join(sep)}${trailing}${this.newline}${indent}]`;
    return `[${this.space()}${items.join(sep)}${trailing}${this.space()}]`;
  }

  private object(depth: number, indent: string): string {
    const used = new Set<string>();
    const items = Array.from({ length: this.int(4) }, () => {
      // HCL reads `for` first in an object as a for-expression.
      let key = this.random() < 0.5 ? this.name().replace(/^for$/, 'fo') : this.string();
      if (used.has(key)) key = `k${used.size}`;
      used.add(key);
      return `${key}${this.space()}${this.pick(['=', ':'])}${this.space()}${this.value(depth + 1, indent)}`;
    });
    if (this.random() < 0.5) {
      const trailing = items.length > 0 && this.random() < 0.3 ? ',' : '';
      return `{${this.space()}${items.join(`,${this.space()}`)}${trailing}${this.space()}}`;
    }
    const inner = indent + '  ';
    return `{${this.newline}${items.map((i) => `${inner}${i}${this.pick(['', ','])}${this.newline}`).join('')}${indent}}`;
  }
}

/** A copy of `text` with one random edit: a character deleted or inserted, the text cut short, or a line doubled. */
export function mutate(text: string, random: () => number): string {
  const at = Math.floor(random() * (text.length + 1));
  const kind = random();
  if (kind < 0.3) return text.slice(0, at) + text.slice(at + 1);
  if (kind < 0.6) {
    const inserts = ['{', '}', '[', ']', '(', ')', '=', ',', ':', '"', '#', '$', '${', '%{', '\\', '\n', '<<', '-', '.', 'x', '1', '/*', '*/', '?', '+', ' '];
    return text.slice(0, at) + inserts[Math.floor(random() * inserts.length)]! + text.slice(at);
  }
  if (kind < 0.8) return text.slice(0, at);
  const lines = text.split('\n');
  const line = Math.floor(random() * lines.length);
  lines.splice(line, 0, lines[line]!);
  return lines.join('\n');
}
