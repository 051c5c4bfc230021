/**
 * Rule expressions, stage 1 of 4: text → syntax tree.
 *
 * The language is deliberately tiny: numbers, 'strings', names, calls of named
 * functions, arithmetic, comparisons (chainable: a > b > c), and/or/not. There is
 * no property access, indexing, assignment or lambda, so nothing in a rule file can
 * reach JavaScript. What a name or a function means is decided by check.ts.
 */

export type Node =
  | { type: 'num'; value: number; text: string; pos: number }
  | { type: 'str'; value: string; pos: number }
  | { type: 'name'; name: string; pos: number }
  | { type: 'call'; name: string; args: Node[]; pos: number }
  | { type: 'unary'; op: '-' | 'not'; arg: Node; pos: number }
  | { type: 'binary'; op: '+' | '-' | '*' | '/'; left: Node; right: Node; pos: number }
  | { type: 'compare'; ops: CompareOp[]; operands: Node[]; pos: number }
  | { type: 'logical'; op: 'and' | 'or'; left: Node; right: Node; pos: number };

export type CompareOp = '<' | '<=' | '>' | '>=' | '==' | '!=';

interface Token {
  kind: 'num' | 'str' | 'name' | 'op' | 'end';
  text: string;
  pos: number;
  value?: number | string;
}

/**
 * Size limits, far above any real rule (the default pack nests 3 deep and has at
 * most 9 operands) and far below what would exhaust the stack of the parser, the
 * checker or the engine that compiles the generated loop. Depth counts
 * parentheses, function calls, `not` and unary `-`.
 */
export const MAX_EXPRESSION_LENGTH = 20_000;
export const MAX_EXPRESSION_DEPTH = 64;
export const MAX_EXPRESSION_OPERANDS = 1000;

/** Thrown by parse and check; the rule pack loader adds the rule id. */
export class ExpressionError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

const OPERATORS = ['<=', '>=', '==', '!=', '&&', '||', '<', '>', '+', '-', '*', '/', '(', ')', ',', '!'];

const NUMBER = /\d+(\.\d+)?|\.\d+/y;
const WORD = /[A-Za-z_][A-Za-z_0-9]*/y;

/** The match of a sticky regex at i (sticky: no copy of the rest of the text per token). */
function matchAt(re: RegExp, src: string, i: number): string | null {
  re.lastIndex = i;
  return re.exec(src)?.[0] ?? null;
}

function tokenize(src: string): Token[] {
  if (src.length > MAX_EXPRESSION_LENGTH) {
    throw new ExpressionError(
      `the expression is ${src.length} characters long, more than the limit of ${MAX_EXPRESSION_LENGTH}: split it into several rules`,
      0,
    );
  }
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (c === '.' && !/[0-9]/.test(src[i + 1] ?? ''))
      throw new ExpressionError('"." is not allowed in a rule expression (there is no property access)', i);
    if (/[0-9.]/.test(c)) {
      const m = matchAt(NUMBER, src, i);
      if (m === null) throw new ExpressionError(`a number is malformed`, i);
      i += m.length;
      if (i < src.length && /[A-Za-z_0-9.]/.test(src[i]!)) throw new ExpressionError(`a number runs into "${src[i]}"`, i);
      out.push({ kind: 'num', text: m, pos: start, value: Number(m) });
      continue;
    }
    if (c === "'" || c === '"') {
      const end = src.indexOf(c, i + 1);
      if (end < 0) throw new ExpressionError('a string is not closed', i);
      const value = src.slice(i + 1, end);
      out.push({ kind: 'str', text: src.slice(i, end + 1), pos: start, value });
      i = end + 1;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = matchAt(WORD, src, i)!;
      i += m.length;
      out.push({ kind: 'name', text: m, pos: start });
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (!op) throw new ExpressionError(`"${c}" is not allowed in a rule expression`, i);
    i += op.length;
    out.push({ kind: 'op', text: op, pos: start });
  }
  out.push({ kind: 'end', text: '', pos: src.length });
  return out;
}

const COMPARE_OPS = new Set(['<', '<=', '>', '>=', '==', '!=']);

export function parseExpression(src: string): Node {
  const tokens = tokenize(src);
  // Numbers, strings and names; a function's name is not counted, its arguments are.
  const operands = tokens.filter(
    (t, j) =>
      t.kind === 'num' ||
      t.kind === 'str' ||
      (t.kind === 'name' && !['and', 'or', 'not'].includes(t.text) && !(tokens[j + 1]!.kind === 'op' && tokens[j + 1]!.text === '(')),
  ).length;
  if (operands > MAX_EXPRESSION_OPERANDS) {
    throw new ExpressionError(
      `the expression has ${operands} operands, more than the limit of ${MAX_EXPRESSION_OPERANDS}: split it into several rules`,
      0,
    );
  }
  let k = 0;
  // Each level of nesting recurses a few functions deep: refused before the stack runs out.
  let depth = 0;
  const deeper = (pos: number) => {
    if (++depth > MAX_EXPRESSION_DEPTH) {
      throw new ExpressionError(
        `the expression nests more than ${MAX_EXPRESSION_DEPTH} levels deep (parentheses, calls, not, -): simplify it or split it into several rules`,
        pos,
      );
    }
  };
  const peek = () => tokens[k]!;
  const next = () => tokens[k++]!;
  const isWord = (w: string) => peek().kind === 'name' && peek().text === w;
  const isOp = (o: string) => peek().kind === 'op' && peek().text === o;
  const expect = (o: string) => {
    if (!isOp(o)) throw new ExpressionError(`expected "${o}" but found ${describe(peek())}`, peek().pos);
    return next();
  };

  function orExpr(): Node {
    let left = andExpr();
    while (isWord('or') || isOp('||')) {
      const t = next();
      left = { type: 'logical', op: 'or', left, right: andExpr(), pos: t.pos };
    }
    return left;
  }
  function andExpr(): Node {
    let left = notExpr();
    while (isWord('and') || isOp('&&')) {
      const t = next();
      left = { type: 'logical', op: 'and', left, right: notExpr(), pos: t.pos };
    }
    return left;
  }
  function notExpr(): Node {
    if (isWord('not') || isOp('!')) {
      const t = next();
      deeper(t.pos);
      const arg = notExpr();
      depth--;
      return { type: 'unary', op: 'not', arg, pos: t.pos };
    }
    return compare();
  }
  function compare(): Node {
    const first = sum();
    if (!(peek().kind === 'op' && COMPARE_OPS.has(peek().text))) return first;
    const ops: CompareOp[] = [];
    const operands = [first];
    const pos = peek().pos;
    while (peek().kind === 'op' && COMPARE_OPS.has(peek().text)) {
      ops.push(next().text as CompareOp);
      operands.push(sum());
    }
    return { type: 'compare', ops, operands, pos };
  }
  function sum(): Node {
    let left = product();
    while (isOp('+') || isOp('-')) {
      const t = next();
      left = { type: 'binary', op: t.text as '+' | '-', left, right: product(), pos: t.pos };
    }
    return left;
  }
  function product(): Node {
    let left = unary();
    while (isOp('*') || isOp('/')) {
      const t = next();
      left = { type: 'binary', op: t.text as '*' | '/', left, right: unary(), pos: t.pos };
    }
    return left;
  }
  function unary(): Node {
    if (isOp('-')) {
      const t = next();
      deeper(t.pos);
      const arg = unary();
      depth--;
      return { type: 'unary', op: '-', arg, pos: t.pos };
    }
    return primary();
  }
  function primary(): Node {
    const t = peek();
    if (t.kind === 'num') {
      next();
      return { type: 'num', value: t.value as number, text: t.text, pos: t.pos };
    }
    if (t.kind === 'str') {
      next();
      return { type: 'str', value: t.value as string, pos: t.pos };
    }
    if (t.kind === 'name') {
      if (['and', 'or', 'not'].includes(t.text)) throw new ExpressionError(`"${t.text}" needs an operand before it`, t.pos);
      next();
      if (isOp('(')) {
        deeper(next().pos);
        const args: Node[] = [];
        if (!isOp(')')) {
          args.push(orExpr());
          while (isOp(',')) {
            next();
            args.push(orExpr());
          }
        }
        expect(')');
        depth--;
        return { type: 'call', name: t.text, args, pos: t.pos };
      }
      return { type: 'name', name: t.text, pos: t.pos };
    }
    if (isOp('(')) {
      deeper(next().pos);
      const inner = orExpr();
      expect(')');
      depth--;
      return inner;
    }
    throw new ExpressionError(`expected a value but found ${describe(t)}`, t.pos);
  }

  const tree = orExpr();
  if (peek().kind !== 'end') throw new ExpressionError(`unexpected ${describe(peek())} after the end of the expression`, peek().pos);
  return tree;
}

function describe(t: Token): string {
  return t.kind === 'end' ? 'the end of the expression' : `"${t.text}"`;
}

/** The expression with a caret under the offending position, for error messages. */
export function pointAt(src: string, pos: number): string {
  const oneLine = src.replace(/\s/g, ' ');
  const at = Math.max(0, Math.min(pos, oneLine.length));
  if (oneLine.length <= POINT_WIDTH) return `  ${oneLine}\n  ${' '.repeat(at)}^`;
  // A long expression is quoted around the position only, so the message stays readable.
  const from = Math.max(0, Math.min(at - POINT_WIDTH / 2, oneLine.length - POINT_WIDTH));
  const head = from > 0 ? '…' : '';
  const tail = from + POINT_WIDTH < oneLine.length ? '…' : '';
  return `  ${head}${oneLine.slice(from, from + POINT_WIDTH)}${tail}\n  ${' '.repeat(head.length + at - from)}^`;
}

const POINT_WIDTH = 120;
