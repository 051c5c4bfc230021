/**
 * Rule expressions, stage 2 of 4: syntax tree → typed, allow-listed form.
 *
 * Every name must be in the catalogue, every function call must be one of the
 * listed features or helpers with literal arguments where the feature needs them,
 * and types must fit (no arithmetic on booleans, enums compared only with their
 * own values). The result names the feature columns the expression reads.
 */
import { ExpressionError, type CompareOp, type Node } from './parse.js';
import { ATTRIBUTES, TICKET_KINDS, builtinMeasure, type ColumnMeasure } from '../contract/contract.js';
import { MAX_DAY_OFFSET, MAX_LITERAL, MAX_MONTH_OFFSET, featureKey, featureUnit, type FeatureRequest, type Unit } from './catalogue.js';

export type Typed =
  | { k: 'const'; value: number; unit: Unit }
  | { k: 'day'; offset: number } // D - offset, a day number
  | { k: 'feature'; key: string; unit: Unit; scaled?: true } // scaled: a measure's sums, read as ScaledColumn (compile.ts)
  | { k: 'enumEq'; key: string; code: number; negate: boolean }
  | { k: 'given'; key: string }
  | { k: 'neg'; arg: Typed; unit: Unit }
  | { k: 'arith'; op: '+' | '-' | '*' | '/'; left: Typed; right: Typed; unit: Unit }
  | { k: 'cmp'; op: CompareOp; left: Typed; right: Typed }
  | { k: 'logic'; op: 'and' | 'or'; left: Typed; right: Typed }
  | { k: 'not'; arg: Typed }
  | { k: 'call'; fn: 'min' | 'max' | 'abs' | 'pct_change'; args: Typed[]; unit: Unit };

export interface Checked {
  tree: Typed;
  unit: Unit;
  features: Map<string, FeatureRequest>;
}

export interface CheckOptions {
  /** Functions only meaningful in reason texts (pct_change) are refused in conditions. */
  allowTemplateFunctions?: boolean;
  /** Measures the rule pack declares over extra columns, callable like the built-in ones. */
  measures?: readonly ColumnMeasure[];
}

export function unitOf(t: Typed): Unit {
  switch (t.k) {
    case 'const':
    case 'feature':
    case 'neg':
    case 'arith':
    case 'call':
      return t.unit;
    case 'day':
      return 'day';
    default:
      return 'bool';
  }
}

export function checkExpression(node: Node, opts: CheckOptions = {}): Checked {
  const features = new Map<string, FeatureRequest>();
  const use = (f: FeatureRequest): string => {
    const key = featureKey(f);
    features.set(key, f);
    return key;
  };
  const fail = (msg: string, n: Node): never => {
    throw new ExpressionError(msg, n.pos);
  };

  function intLiteral(n: Node, what: string): number {
    if (n.type === 'num' && Number.isInteger(n.value)) return n.value;
    if (n.type === 'unary' && n.op === '-' && n.arg.type === 'num' && Number.isInteger(n.arg.value)) return -n.arg.value;
    return fail(`${what} must be a whole number written out (for example -90)`, n);
  }

  function offsetName(n: Node, prefix: 'M' | 'd', max: number, fn: string): number {
    const re = prefix === 'M' ? /^M(\d+)$/ : /^d(\d+)$/;
    const m = n.type === 'name' ? re.exec(n.name) : null;
    if (!m) return fail(`${fn}() takes a ${prefix === 'M' ? 'month M0, M1, ...' : 'day d1, d2, ...'} as its argument`, n);
    const k = Number(m[1]);
    if (k > max || (prefix === 'd' && k < 1))
      return fail(`${n.type === 'name' ? n.name : ''} is out of range (${prefix === 'M' ? 'M0' : 'd1'}..${prefix}${max})`, n);
    return k;
  }

  function visit(n: Node): Typed {
    switch (n.type) {
      case 'num':
        if (/\.\d{5,}/.test(n.text)) fail('a number may have at most 4 decimal places', n);
        if (!(n.value < MAX_LITERAL)) fail('a number must be below 10^15', n);
        return { k: 'const', value: n.value, unit: 'number' };
      case 'str':
        return fail(`a string can only be compared with an attribute such as status`, n);
      case 'name': {
        if (n.name === 'D') return { k: 'day', offset: 0 };
        const dm = /^d(\d+)$/.exec(n.name);
        if (dm) {
          const k = Number(dm[1]);
          if (k < 1 || k > MAX_DAY_OFFSET) fail(`${n.name} is out of range (d1..d${MAX_DAY_OFFSET})`, n);
          return { k: 'day', offset: k };
        }
        if (/^M\d+$/.test(n.name)) fail(`${n.name} is a month: use it inside a monthly measure such as amount()`, n);
        const s = ATTRIBUTES[n.name];
        if (!s) fail(`unknown name "${n.name}"`, n);
        if (s!.unit === 'enum')
          fail(`${n.name} can only be compared with == or != to one of ${s!.values!.map((v) => `'${v}'`).join(', ')}`, n);
        return { k: 'feature', key: use({ source: 'subscribers', column: n.name }), unit: s!.unit as Unit };
      }
      case 'call':
        return visitCall(n);
      case 'unary': {
        const arg = visit(n.arg);
        if (n.op === 'not') {
          if (unitOf(arg) !== 'bool') fail('"not" needs a condition', n);
          return { k: 'not', arg };
        }
        if (!isNumeric(unitOf(arg))) fail('"-" needs a number', n);
        if (arg.k === 'const') return { ...arg, value: -arg.value };
        return { k: 'neg', arg, unit: unitOf(arg) };
      }
      case 'binary':
        return visitChain(n, arithmetic);
      case 'compare': {
        let result: Typed | undefined;
        for (let i = 0; i < n.ops.length; i++) {
          const cmp = visitComparison(n.ops[i]!, n.operands[i]!, n.operands[i + 1]!, n);
          result = result ? { k: 'logic', op: 'and', left: result, right: cmp } : cmp;
        }
        return result!;
      }
      case 'logical':
        return visitChain(n, logical);
    }
  }

  /**
   * A left-associative chain (a + b - c + ..., a and b and ...) is a tree as deep
   * as it is long: its left spine is walked in a loop, so recursion goes only as
   * deep as the parentheses, which the parser limits.
   */
  function visitChain<C extends Chain>(n: C, combine: (link: C, left: Typed, right: Typed) => Typed): Typed {
    const spine: C[] = [];
    let cur: Node = n;
    while (cur.type === n.type) {
      const link = cur as C;
      spine.push(link);
      cur = link.left;
    }
    let acc = visit(cur);
    for (let k = spine.length - 1; k >= 0; k--) acc = combine(spine[k]!, acc, visit(spine[k]!.right));
    return acc;
  }

  function arithmetic(n: Extract<Node, { type: 'binary' }>, left: Typed, right: Typed): Typed {
    const lu = unitOf(left),
      ru = unitOf(right);
    if (lu === 'day' || ru === 'day') {
      if (n.op === '-' && lu === 'day' && ru === 'day') return { k: 'arith', op: '-', left, right, unit: 'count' };
      if ((n.op === '+' || n.op === '-') && lu === 'day' && isNumeric(ru) && ru !== 'money')
        return { k: 'arith', op: n.op, left, right, unit: 'day' };
      fail('dates can only be subtracted from each other or moved by a number of days', n);
    }
    if (!isNumeric(lu) || !isNumeric(ru)) fail(`"${n.op}" needs numbers on both sides`, n);
    const unit: Unit =
      n.op === '/'
        ? lu === 'money' && ru !== 'money'
          ? 'money'
          : 'number'
        : n.op === '*'
          ? lu === 'money' || ru === 'money'
            ? 'money'
            : lu === 'count' && ru === 'count'
              ? 'count'
              : 'number'
          : lu === 'money' || ru === 'money'
            ? 'money'
            : lu === ru
              ? lu
              : 'number';
    return { k: 'arith', op: n.op, left, right, unit };
  }

  function logical(n: Extract<Node, { type: 'logical' }>, left: Typed, right: Typed): Typed {
    if (unitOf(left) !== 'bool' || unitOf(right) !== 'bool') fail(`"${n.op}" needs conditions on both sides`, n);
    return { k: 'logic', op: n.op, left, right };
  }

  function visitComparison(op: CompareOp, a: Node, b: Node, at: Node): Typed {
    const enumSide = (x: Node) => x.type === 'name' && ATTRIBUTES[x.name]?.unit === 'enum';
    if (enumSide(a) || enumSide(b) || a.type === 'str' || b.type === 'str') {
      const [nameNode, strNode] = enumSide(a) ? [a, b] : [b, a];
      if (nameNode.type !== 'name' || strNode.type !== 'str' || !enumSide(nameNode)) {
        return fail('a string can only be compared with an attribute such as status', at);
      }
      if (op !== '==' && op !== '!=') fail(`${nameNode.name} can only be compared with == or !=`, at);
      const values = ATTRIBUTES[nameNode.name]!.values!;
      const code = values.indexOf(strNode.value);
      if (code < 0) fail(`'${strNode.value}' is not a value of ${nameNode.name} (${values.join(', ')})`, strNode);
      return { k: 'enumEq', key: use({ source: 'subscribers', column: nameNode.name }), code, negate: op === '!=' };
    }
    const left = visit(a),
      right = visit(b);
    const lu = unitOf(left),
      ru = unitOf(right);
    if (lu === 'bool' || ru === 'bool') fail('conditions cannot be compared; use and / or / not', at);
    if ((lu === 'day') !== (ru === 'day')) fail('a date can only be compared with another date (D, d1, activation_date, ...)', at);
    return { k: 'cmp', op, left, right };
  }

  function visitCall(n: Extract<Node, { type: 'call' }>): Typed {
    const { name, args } = n;
    const arity = (count: number) => {
      if (args.length !== count) fail(`${name}() takes ${count} argument${count === 1 ? '' : 's'}`, n);
    };
    const declared = opts.measures?.find((m) => m.name === name);
    const measure = builtinMeasure(name) ?? declared;
    if (measure !== undefined) {
      arity(1);
      const extra = declared === undefined ? {} : { declared };
      const f: FeatureRequest =
        measure.extract === 'billing_monthly'
          ? { source: 'billing', measure: name, month: offsetName(args[0]!, 'M', MAX_MONTH_OFFSET, name), ...extra }
          : { source: 'usage', measure: name, day: offsetName(args[0]!, 'd', MAX_DAY_OFFSET, name), ...extra };
      return { k: 'feature', key: use(f), unit: featureUnit(f) as Unit, scaled: true };
    }
    switch (name) {
      case 'tickets': {
        arity(3);
        const kindNode = args[0]!;
        if (kindNode.type !== 'str' || !([...TICKET_KINDS, 'any'] as string[]).includes(kindNode.value)) {
          fail(`tickets() takes a kind first: one of ${[...TICKET_KINDS, 'any'].map((v) => `'${v}'`).join(', ')}`, kindNode);
        }
        const [from, to] = window(args[1]!, args[2]!, name);
        return { k: 'feature', key: use({ source: 'tickets', kind: (kindNode as { value: string }).value, from, to }), unit: 'count' };
      }
      case 'contracts_expiring':
      case 'contracts_lapsed': {
        arity(2);
        const [from, to] = window(args[0]!, args[1]!, name);
        const which = name === 'contracts_expiring' ? 'expiring' : 'lapsed';
        return { k: 'feature', key: use({ source: 'contracts', which, from, to }), unit: 'count' };
      }
      case 'given': {
        arity(1);
        const a = args[0]!;
        if (a.type !== 'name' || !ATTRIBUTES[a.name]) return fail('given() takes a subscriber attribute such as prepaid_balance', a);
        return { k: 'given', key: use({ source: 'subscribers', column: a.name }) };
      }
      case 'min':
      case 'max':
      case 'abs':
      case 'pct_change': {
        if (name === 'pct_change' && !opts.allowTemplateFunctions) fail('pct_change() is only for reason texts', n);
        arity(name === 'abs' ? 1 : 2);
        const typed = args.map(visit);
        for (const t of typed) if (!isNumeric(unitOf(t))) fail(`${name}() takes numbers`, n);
        const unit: Unit = name === 'pct_change' ? 'number' : unitOf(typed[0]!);
        return { k: 'call', fn: name, args: typed, unit };
      }
      default:
        return fail(`unknown function "${name}"`, n);
    }
  }

  function window(a: Node, b: Node, fn: string): [number, number] {
    const from = intLiteral(a, `${fn}() window start`);
    const to = intLiteral(b, `${fn}() window end`);
    if (from > to) fail(`${fn}() window is empty: ${from} is after ${to}`, a);
    if (Math.abs(from) > 3660 || Math.abs(to) > 3660) fail(`${fn}() window is more than ten years from D`, a);
    return [from, to];
  }

  const tree = visit(node);
  return { tree, unit: unitOf(tree), features };
}

type Chain = Extract<Node, { type: 'binary' | 'logical' }>;

function isNumeric(u: Unit): boolean {
  return u === 'money' || u === 'count' || u === 'number';
}
