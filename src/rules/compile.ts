/**
 * Rule expressions, stages 3 and 4: typed form → JavaScript source → function.
 *
 * Only the checked tree reaches code generation, and the generator emits nothing
 * but numeric literals, column reads `c<j>[i]`, operators and Math.min/max/abs, so
 * no text from a rule file ever becomes code. Each condition compiles once into one
 * loop over plain typed arrays indexed by subscriber.
 *
 * Comparisons allow a tolerance of COMPARE_TOLERANCE: money is summed exactly in
 * integer fen and then seen in yuan, and binary floating point would otherwise put
 * 7.07 just above 0.70 × 10.10. The tolerance is a hundred-thousandth of a fen, far
 * below any real difference between two amounts in fen scaled by a constant of at
 * most 4 decimals.
 */
import type { Typed } from './check.js';
import { SCALARS } from './catalogue.js';

export const COMPARE_TOLERANCE = 1e-7;
/** Code of an enum attribute that was not given. */
export const ENUM_MISSING = 255;

export type Column = Float64Array | Uint8Array | Int32Array;

export interface CompiledCondition {
  /** Feature keys, in the order the columns must be passed. */
  columns: string[];
  source: string;
  /** Writes 1 into out[i] where the condition holds, else 0. */
  run(cols: Column[], n: number, D: number, out: Uint8Array): void;
}

export interface CompiledNumber {
  columns: string[];
  source: string;
  run(cols: Column[], n: number, D: number, out: Float64Array): void;
  /** The value for one subscriber (reason texts; not for hot loops). */
  at(cols: Column[], i: number, D: number): number;
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

export function generateExpression(tree: Typed, columnIndex: (key: string) => number): string {
  const E = String(COMPARE_TOLERANCE);
  const gen = (t: Typed): string => {
    switch (t.k) {
      case 'const': return numberLiteral(t.value);
      case 'day': return t.offset === 0 ? 'D' : `(D - ${t.offset})`;
      case 'feature': return `c${columnIndex(t.key)}[i]`;
      case 'enumEq': return `(c${columnIndex(t.key)}[i] ${t.negate ? '!==' : '==='} ${t.code})`;
      case 'given': {
        const c = `c${columnIndex(t.key)}[i]`;
        return SCALARS[t.key]?.unit === 'enum' ? `(${c} !== ${ENUM_MISSING})` : `(${c} === ${c})`;
      }
      case 'neg': return `(-${gen(t.arg)})`;
      case 'arith': return `(${gen(t.left)} ${t.op} ${gen(t.right)})`;
      case 'not': return `(!${gen(t.arg)})`;
      case 'logic': return `(${gen(t.left)} ${t.op === 'and' ? '&&' : '||'} ${gen(t.right)})`;
      case 'cmp': {
        const diff = `(${gen(t.left)} - ${gen(t.right)})`;
        switch (t.op) {
          case '<=': return `(${diff} <= ${E})`;
          case '<': return `(${diff} < -${E})`;
          case '>=': return `(${diff} >= -${E})`;
          case '>': return `(${diff} > ${E})`;
          case '==': return `(Math.abs${diff} <= ${E})`;
          case '!=': return `(Math.abs${diff} > ${E})`;
        }
        break;
      }
      case 'call': {
        const args = t.args.map(gen);
        switch (t.fn) {
          case 'min': return `Math.min(${args.join(', ')})`;
          case 'max': return `Math.max(${args.join(', ')})`;
          case 'abs': return `Math.abs(${args[0]})`;
          case 'pct_change': return `((${args[0]} - ${args[1]}) / ${args[1]} * 100)`;
        }
      }
    }
    throw new Error('internal: unknown node');
  };
  return gen(tree);
}

function prepare(tree: Typed, features: Iterable<string>) {
  const columns = [...features];
  const index = new Map(columns.map((k, j) => [k, j]));
  const expr = generateExpression(tree, (key) => index.get(key)!);
  const unpack = columns.map((_, j) => `const c${j} = cols[${j}];`).join(' ');
  return { columns, expr, unpack };
}

export function compileCondition(tree: Typed, features: Iterable<string>, compiler: Compiler = defaultCompiler): CompiledCondition {
  const { columns, expr, unpack } = prepare(tree, features);
  // One loop, written out so the engine sees monomorphic typed-array reads.
  const source = `"use strict"; ${unpack}\nfor (let i = 0; i < n; i++) { out[i] = ${expr} ? 1 : 0; }`;
  const fn = compiler(['cols', 'n', 'D', 'out'], source) as CompiledCondition['run'];
  return { columns, source, run: fn };
}

export function compileNumber(tree: Typed, features: Iterable<string>, compiler: Compiler = defaultCompiler): CompiledNumber {
  const { columns, expr, unpack } = prepare(tree, features);
  const source = `"use strict"; ${unpack}\nfor (let i = 0; i < n; i++) { out[i] = ${expr}; }`;
  const run = compiler(['cols', 'n', 'D', 'out'], source) as CompiledNumber['run'];
  const at = compiler(['cols', 'i', 'D'], `"use strict"; ${unpack}\nreturn ${expr};`) as CompiledNumber['at'];
  return { columns, source, run, at };
}
