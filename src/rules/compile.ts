/**
 * Rule expressions, stages 3 and 4: typed form → JavaScript source → function.
 *
 * Only the checked tree reaches code generation, and the generator emits nothing
 * but numeric literals, column reads `c<j>[i]`, temporaries `t<k>`, operators, `if`
 * and Math.min/max/abs, so
 * no text from a rule file ever becomes code. Each condition compiles once into one
 * loop over plain typed arrays indexed by subscriber.
 *
 * Comparisons allow a tolerance of COMPARE_TOLERANCE: money is summed exactly in
 * integer fen and then seen in yuan, and binary floating point would otherwise put
 * 7.07 just above 0.70 × 10.10. The tolerance is a hundred-thousandth of a fen, far
 * below any real difference between two amounts in fen scaled by a constant of at
 * most 4 decimals.
 */
import { unitOf, type Typed } from './check.js';
import type { CompareOp } from './parse.js';
import { ATTRIBUTES } from '../contract/contract.js';
import { MAX_FEATURE } from './catalogue.js';

export const COMPARE_TOLERANCE = 1e-7;
/** Code of an enum attribute that was not given. */
export const ENUM_MISSING = 255;

export type Column = Float64Array | Float32Array | Uint8Array | Int32Array;

/**
 * A measure's sums as whole units of 10^-scale (fen, hundredths of a minute), narrowed
 * to Int32 where every sum fits (half the memory of doubles at 10M subscribers); the
 * value is `values[i] / unit`, the same double the sum divided once at ingest was. The
 * compiled rules divide where they read (check.ts marks those reads `scaled`).
 */
export interface ScaledColumn {
  values: Int32Array | Float64Array;
  unit: number;
}

/** What a compiled rule reads: a plain column, or a measure's scaled sums. */
export type FeatureColumn = Column | ScaledColumn;

/** Subscriber i's value of a column, in the feature's units (not for hot loops). */
export function valueAt(c: FeatureColumn, i: number): number {
  return 'unit' in c ? c.values[i]! / c.unit : c[i]!;
}

/** The column as plain numbers in its units: a scaled column divided into a copy. */
export function plainColumn(c: FeatureColumn): Column {
  if (!('unit' in c)) return c;
  const out = new Float64Array(c.values.length);
  for (let i = 0; i < out.length; i++) out[i] = c.values[i]! / c.unit;
  return out;
}

export interface CompiledCondition {
  /** Feature keys, in the order the columns must be passed. */
  columns: string[];
  source: string;
  /** Writes 1 into out[i] where the condition holds, else 0. */
  run(cols: FeatureColumn[], n: number, D: number, out: Uint8Array): void;
}

export interface CompiledNumber {
  columns: string[];
  source: string;
  run(cols: FeatureColumn[], n: number, D: number, out: Float64Array): void;
  /** The value for one subscriber (reason texts; not for hot loops). */
  at(cols: FeatureColumn[], i: number, D: number): number;
}

export type Compiler = (params: string[], body: string) => (...args: unknown[]) => unknown;

/** The default compiler; tests inject their own to look at the generated source. */
export const defaultCompiler: Compiler = (params, body) =>
  // The body is generated from a checked tree only (see the header comment).
  new Function(...params, body) as (...args: unknown[]) => unknown;

function numberLiteral(v: number): string {
  if (!Number.isFinite(v)) throw new Error('internal: non-finite constant');
  return v < 0 ? `(${String(v)})` : String(v);
}

/** The generated code of an expression: statements for one subscriber `i`, then the expression of its result. */
export interface Generated {
  statements: string[];
  result: string;
  /** Indexes of the columns read as ScaledColumn (values c<j>, divisor u<j>, each subscriber's value s<j>). */
  scaled: Set<number>;
}

type Task = { node: Typed; holds: boolean } | { resume: () => void };

/**
 * A generated operand: its code, a bound on its magnitude (Infinity when it might
 * not be finite), and its value when it is a constant.
 */
interface Operand {
  code: string;
  bound: number;
  constant?: number;
}

/**
 * The code of a checked tree, as a flat sequence of temporaries in post-order
 * (`const t1 = ...; const t2 = t1 * 0.7; ...`): a 1000-term sum is a tree 1000
 * deep, and one nested JavaScript expression that deep would overflow the stack of
 * the engine compiling it, as would a recursive walk here. The walk keeps its own
 * stack.
 *
 * "Not given" is NaN. A result that is not finite (x / 0, 0 / 0, an overflow) is
 * NaN, and NaN goes through arithmetic, min, max and abs. Only an operation that
 * can leave the finite numbers is checked: division by anything but a non-zero
 * constant, pct_change, and arithmetic whose operands' bounds (from the constants
 * and MAX_FEATURE) could overflow; the default pack needs no check at all, so its
 * loops stay as fast as plain arithmetic.
 *
 * Conditions have three values, as in SQL: a comparison with a number that is not
 * given is unknown, `not` of unknown is unknown, `false and unknown` is false and
 * `true or unknown` is true. A condition holds only when it is true. Each condition
 * node is generated either as "it holds" or, under an odd number of `not`, as "it
 * fails"; both are false when it is unknown, so `not` costs nothing: it flips which
 * of the two is asked for (`not (a > b)` is `a - b <= E`, false on NaN).
 */
export function generateExpression(tree: Typed, columnIndex: (key: string) => number): Generated {
  const E = String(COMPARE_TOLERANCE);
  const statements: string[] = [];
  const operands: Operand[] = [];
  const conditions: string[] = [];
  const scaled = new Set<number>();
  /** Temporaries holding the result of an and/or, declared in the block being generated. */
  const chained = new Set<string>();
  let temps = 0;
  const emit = (line: string) => statements.push(line);
  const temp = (expr: string, keyword: 'const' | 'let' = 'const'): string => {
    const name = `t${++temps}`;
    emit(`${keyword} ${name} = ${expr};`);
    return name;
  };
  /**
   * An operand computed into a temporary; checked unless its bound is finite.
   * Rounding is monotonic, so a finite bound computed from the operands' bounds
   * does bound the computed result (a NaN bound, from 0 / 0, is checked too).
   */
  const computed = (expr: string, bound: number): Operand => {
    if (bound < Infinity) return { code: temp(expr), bound };
    const name = temp(expr, 'let');
    emit(`if (${name} - ${name} !== 0) ${name} = NaN;`);
    return { code: name, bound: Number.MAX_VALUE };
  };
  const pop = (): Operand => operands.pop()!;
  const stack: Task[] = [{ node: tree, holds: true }];
  const after = (then: () => void, ...args: Typed[]) => {
    stack.push({ resume: then });
    // Pushed last first, so the operands are generated, and their results stacked, left to right.
    for (let k = args.length - 1; k >= 0; k--) stack.push({ node: args[k]!, holds: true });
  };
  while (stack.length > 0) {
    const task = stack.pop()!;
    if ('resume' in task) {
      task.resume();
      continue;
    }
    const { node: t, holds } = task;
    switch (t.k) {
      case 'const':
        operands.push({ code: numberLiteral(t.value), bound: Math.abs(t.value), constant: t.value });
        break;
      case 'day':
        operands.push({ code: t.offset === 0 ? 'D' : `(D - ${t.offset})`, bound: MAX_FEATURE });
        break;
      case 'feature': {
        const j = columnIndex(t.key);
        if (t.scaled === true) scaled.add(j);
        // A scaled sum is at most MAX_FEATURE units of 10^-scale, so its value is too. Its value is divided once per
        // subscriber, before the statements (s<j>): an expression that reads it again would divide again.
        operands.push({ code: t.scaled === true ? `s${j}` : `c${j}[i]`, bound: MAX_FEATURE });
        break;
      }
      case 'enumEq': {
        const c = `c${columnIndex(t.key)}[i]`;
        // A missing attribute makes == and != unknown alike.
        conditions.push(holds !== t.negate ? `(${c} === ${t.code})` : `(${c} !== ${t.code} && ${c} !== ${ENUM_MISSING})`);
        break;
      }
      case 'given': {
        const c = `c${columnIndex(t.key)}[i]`;
        const present = ATTRIBUTES[t.key]?.unit === 'enum' ? [`!== ${ENUM_MISSING}`, `=== ${ENUM_MISSING}`] : [`=== ${c}`, `!== ${c}`];
        conditions.push(`(${c} ${present[holds ? 0 : 1]})`);
        break;
      }
      case 'neg':
        after(() => {
          const a = pop();
          operands.push({ code: temp(`-${a.code}`), bound: a.bound });
        }, t.arg);
        break;
      case 'arith':
        after(
          () => {
            const r = pop(),
              l = pop();
            operands.push(arithmetic(t.op, l, r));
          },
          t.left,
          t.right,
        );
        break;
      case 'call':
        after(
          () => {
            const args = t.args.map(() => pop()).reverse();
            const bound = Math.max(...args.map((a) => a.bound));
            const list = args.map((a) => a.code).join(', ');
            switch (t.fn) {
              case 'min':
                operands.push({ code: temp(`Math.min(${list})`), bound });
                break;
              case 'max':
                operands.push({ code: temp(`Math.max(${list})`), bound });
                break;
              case 'abs':
                operands.push({ code: temp(`Math.abs(${list})`), bound });
                break;
              case 'pct_change': {
                const [a, b] = args as [Operand, Operand];
                operands.push(arithmetic('*', arithmetic('/', arithmetic('-', a, b), b), { code: '100', bound: 100, constant: 100 }));
                break;
              }
            }
          },
          ...t.args,
        );
        break;
      case 'cmp':
        after(
          () => {
            const r = pop(),
              l = pop();
            conditions.push(comparison(holds ? t.op : NEGATED[t.op], arithmetic('-', l, r).code, E));
          },
          t.left,
          t.right,
        );
        break;
      case 'not':
        stack.push({ node: t.arg, holds: !holds });
        break;
      case 'logic': {
        // Both sides true (or, asked whether it fails, both false) needs the right side only when the left one is.
        const both = (t.op === 'and') === holds;
        let name = '',
          from = 0;
        stack.push({
          resume: () => {
            const right = conditions.pop()!;
            if (statements.length - from <= BRANCH_FREE_STATEMENTS) {
              // A short right side is computed for every subscriber and joined as 0/1 numbers: the branch it saves
              // mispredicts wherever the left side holds at random, and costs more than the few operations.
              emit(`${name} = ${name} ${both ? '&' : '|'} ${right};`);
            } else {
              // A longer one only where it decides: its statements go into a block under the left side.
              statements.splice(from, 0, `if (${both ? '' : '!'}${name}) {`);
              for (let k = from + 1; k < statements.length; k++) statements[k] = `  ${statements[k]}`;
              emit(`  ${name} = +${right};`);
              emit('}');
            }
            conditions.push(name);
            chained.add(name);
          },
        });
        stack.push({ node: t.right, holds });
        stack.push({
          resume: () => {
            // A chain a and b and c goes on in the temporary of a and b (a number, 0 or 1).
            const left = conditions.pop()!;
            name = chained.has(left) ? left : temp(`+${left}`, 'let');
            from = statements.length;
          },
        });
        stack.push({ node: t.left, holds });
        break;
      }
    }
  }
  const divided = [...scaled].map((j) => `const s${j} = c${j}[i] / u${j};`);
  return { statements: [...divided, ...statements], result: unitOf(tree) === 'bool' ? conditions.pop()! : pop().code, scaled };

  function arithmetic(op: '+' | '-' | '*' | '/', l: Operand, r: Operand): Operand {
    const expr = `${l.code} ${op} ${r.code}`;
    switch (op) {
      case '+':
      case '-':
        return computed(expr, l.bound + r.bound);
      case '*':
        return computed(expr, l.bound * r.bound);
      // Only a constant divisor is known not to be 0 (x / 0 gives an infinite bound, as it should).
      case '/':
        return computed(expr, r.constant === undefined ? Infinity : l.bound / Math.abs(r.constant));
    }
  }
}

/** The most statements a right side of `and`/`or` has to be computed without a branch (more: only where it decides). */
const BRANCH_FREE_STATEMENTS = 8;

/** The comparison that holds exactly when `op` fails on numbers (both are false on NaN). */
const NEGATED: Record<CompareOp, CompareOp> = { '<': '>=', '<=': '>', '>': '<=', '>=': '<', '==': '!=', '!=': '==' };

/**
 * `diff op 0` within the tolerance E, as code: the one definition of a comparison's
 * tolerance for both compilers (JavaScript here, SQL in sql.ts, each with its own abs).
 */
export function comparison(op: CompareOp, diff: string, E: string, abs = 'Math.abs'): string {
  switch (op) {
    case '<=':
      return `(${diff} <= ${E})`;
    case '<':
      return `(${diff} < -${E})`;
    case '>=':
      return `(${diff} >= -${E})`;
    case '>':
      return `(${diff} > ${E})`;
    case '==':
      return `(${abs}(${diff}) <= ${E})`;
    case '!=':
      return `(${abs}(${diff}) > ${E})`;
  }
}

function prepare(tree: Typed, columns: readonly string[]) {
  const index = new Map(columns.map((k, j) => [k, j]));
  const { statements, result, scaled } = generateExpression(tree, (key) => index.get(key)!);
  // A measure given as a plain array would read as NaN everywhere: refused once, before the loop.
  const unpack = columns
    .map((_, j) =>
      scaled.has(j)
        ? `const c${j} = cols[${j}].values, u${j} = cols[${j}].unit; if (typeof u${j} !== 'number') throw new Error('internal: column ${j} is not a scaled measure column');`
        : `const c${j} = cols[${j}];`,
    )
    .join(' ');
  return { body: statements.map((s) => `  ${s}\n`).join(''), result, unpack };
}

/**
 * Each function, and the code it is made from, is made at its first use: a pack's
 * text compiles to hundreds (a calibrated pack's ~540, two per reason text and
 * locale), a night calls a few dozen (a scorecard's steps are read off the measure's
 * bins, the other locale's reasons are not rendered), and making them all was ~15 ms
 * of the single-threaded start of a night.
 */
function lazily<T>(make: () => T): () => T {
  let made: T | undefined;
  return () => (made ??= make());
}

export function compileCondition(tree: Typed, features: Iterable<string>, compiler: Compiler = defaultCompiler): CompiledCondition {
  const columns = [...features];
  const source = lazily(() => {
    const { body, result, unpack } = prepare(tree, columns);
    // One loop, written out so the engine sees monomorphic typed-array reads.
    return `"use strict"; ${unpack}\nfor (let i = 0; i < n; i++) {\n${body}  out[i] = ${result} ? 1 : 0;\n}`;
  });
  const fn = lazily(() => compiler(['cols', 'n', 'D', 'out'], source()) as CompiledCondition['run']);
  return {
    columns,
    get source() {
      return source();
    },
    run: (cols, n, D, out) => fn()(cols, n, D, out),
  };
}

export function compileNumber(tree: Typed, features: Iterable<string>, compiler: Compiler = defaultCompiler): CompiledNumber {
  const columns = [...features];
  const code = lazily(() => prepare(tree, columns));
  const source = lazily(() => {
    const { body, result, unpack } = code();
    return `"use strict"; ${unpack}\nfor (let i = 0; i < n; i++) {\n${body}  out[i] = ${result};\n}`;
  });
  const runFn = lazily(() => compiler(['cols', 'n', 'D', 'out'], source()) as CompiledNumber['run']);
  const atFn = lazily(() => {
    const { body, result, unpack } = code();
    return compiler(['cols', 'i', 'D'], `"use strict"; ${unpack}\n${body}  return ${result};`) as CompiledNumber['at'];
  });
  return {
    columns,
    get source() {
      return source();
    },
    run: (cols, n, D, out) => runFn()(cols, n, D, out),
    at: (cols, i, D) => atFn()(cols, i, D),
  };
}
