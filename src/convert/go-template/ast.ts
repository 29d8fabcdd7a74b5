import type { Position } from './lexer.js';

/** The tree of a Go template, as Go's text/template/parse builds it (the parts a translation needs). */

export type Node = TextNode | ActionNode | IfNode | RangeNode | WithNode | OtherControlNode;

export interface TextNode {
  readonly kind: 'text';
  /** After the trim markers on either side have taken their whitespace, as Go does it. */
  readonly text: string;
  readonly pos: Position;
}

/** `{{pipeline}}`: prints the pipeline's value, or declares/assigns a variable (and prints nothing). */
export interface ActionNode {
  readonly kind: 'action';
  readonly pipe: Pipeline;
  readonly pos: Position;
}

/** `if`/`with` branch; `else if` / `else with` are an else list holding one chained node, as in Go. */
export interface IfNode {
  readonly kind: 'if';
  readonly pipe: Pipeline;
  readonly list: Node[];
  readonly elseList: Node[] | undefined;
  /** This node is the `else if` of the enclosing one. */
  readonly chained: boolean;
  readonly pos: Position;
}

export interface WithNode {
  readonly kind: 'with';
  readonly pipe: Pipeline;
  readonly list: Node[];
  readonly elseList: Node[] | undefined;
  readonly chained: boolean;
  readonly pos: Position;
}

export interface RangeNode {
  readonly kind: 'range';
  readonly pipe: Pipeline;
  readonly list: Node[];
  readonly elseList: Node[] | undefined;
  readonly pos: Position;
}

/** `template`, `define`, `block`, `break`, `continue`: parsed so that they can be reported where they are. */
export interface OtherControlNode {
  readonly kind: 'other';
  readonly keyword: string;
  readonly pos: Position;
}

export interface Pipeline {
  /** `$x :=` / `$k, $v :=` / `$x =`. */
  readonly decl: VariableArg[];
  readonly isAssign: boolean;
  readonly cmds: Command[];
  readonly pos: Position;
}

export interface Command {
  readonly args: Arg[];
  readonly pos: Position;
}

export type Arg =
  | { readonly kind: 'identifier'; readonly name: string; readonly pos: Position }
  | { readonly kind: 'dot'; readonly pos: Position }
  | VariableArg
  /** `.a.b` (receiver: dot), `$x.a.b`, `(pipeline).a.b`. */
  | { readonly kind: 'field'; readonly receiver: Arg | undefined; readonly names: string[]; readonly pos: Position }
  | { readonly kind: 'string'; readonly value: string; readonly pos: Position }
  | { readonly kind: 'number'; readonly text: string; readonly value: number; readonly pos: Position }
  | { readonly kind: 'bool'; readonly value: boolean; readonly pos: Position }
  | { readonly kind: 'nil'; readonly pos: Position }
  | { readonly kind: 'pipeline'; readonly pipe: Pipeline; readonly pos: Position };

export interface VariableArg {
  readonly kind: 'variable';
  /** With its `$`: `$x`, or `$` for the root. */
  readonly name: string;
  readonly pos: Position;
}
