/**
 * The fuzzer's cases: byte mutations of small extracts and random rule expressions,
 * and what it holds every run to. Used by fuzz.test.ts (bounded, in CI) and by
 * `npm run fuzz` (the same cases for longer, with other seeds).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { main } from '../../src/cli/main.js';

export const AS_OF = '2026-11-23';
export const BASE_INPUT = 'fixtures/golden/input';
export const DEFAULT_PACK = 'rules/default.yaml';

/**
 * Bounds of generated expressions: beyond the rule language's limits (64 levels,
 * 1,000 operands, 20,000 characters), so that the refusals (78) are exercised too.
 * FUZZ_MAX_DEPTH and FUZZ_MAX_TERMS override them for a long run.
 */
export const MAX_DEPTH = Number(process.env.FUZZ_MAX_DEPTH ?? 200);
export const MAX_TERMS = Number(process.env.FUZZ_MAX_TERMS ?? 2000);
/** Divide by generated expressions, which can be zero (not given, as SQL's NULL); FUZZ_DIVIDE=0 divides by non-zero literals only. */
export const DIVIDE_BY_EXPRESSIONS = process.env.FUZZ_DIVIDE !== '0';

/** Exit codes a run may end with; 70 means a bug. */
const EXPECTED_CODES = new Set([0, 64, 65, 66, 73, 75, 78]);
/** A JavaScript stack frame, as an uncaught error prints it. */
const STACK_FRAME = /^\s+at .+(?:\(|\s)\S+:\d+:\d+\)?$/m;

// ---------------------------------------------------------------- extract mutations

const INSERTS = [
  '"',
  '""',
  '\0',
  '\xff',
  '\xc3',
  '\xed\xa0\x80',
  '\xef\xbb\xbf',
  '\r',
  '\r\n',
  '\n',
  '\n\n',
  ',',
  ';',
  '|',
  '\t',
  '\u3000',
  '9'.repeat(400),
  '1e309',
  '-1',
  '-',
  "'",
  '=1+1',
  '\\',
  '2026-02-30',
  '9999-12-31',
  '1,234.5',
  '１３８',
  ',,,,,,,,,,',
  'NaN',
  'Infinity',
  '0x1F',
  '   ',
  '\u00a0',
  '\ufeff',
];

export type Mutation =
  | { kind: 'insert'; at: number; what: number }
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'cut'; at: number }
  | { kind: 'duplicate-line'; at: number }
  | { kind: 'crlf' }
  | { kind: 'lone-cr' }
  | { kind: 'bom' }
  | { kind: 'delimiter'; to: number; headerOnly: boolean }
  | { kind: 'huge-field'; at: number; field: number; what: number }
  | { kind: 'empty'; keepHeader: boolean };

const HUGE = ['9'.repeat(30), '9'.repeat(400), '1e309', '-9'.repeat(20), '0.' + '1'.repeat(50), '18446744073709551617', '-0', '4294967296'];
const DELIMITERS = [';', '|', '\t', ' '];

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      what: fc.nat(INSERTS.length - 1),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('byte' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), value: fc.nat(255) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('delete' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      length: fc.integer({ min: 1, max: 64 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cut' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate-line' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'crlf' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'lone-cr' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'bom' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('delimiter' as const), to: fc.nat(DELIMITERS.length - 1), headerOnly: fc.boolean() }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('huge-field' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      field: fc.nat(10),
      what: fc.nat(HUGE.length - 1),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('empty' as const), keepHeader: fc.boolean() }) },
);

/** Inserts of characters up to U+00FF are raw bytes (invalid UTF-8 on purpose); others are UTF-8. */
const bytesOf = (s: string): Buffer => Buffer.from(s, Array.from(s).every((c) => c.charCodeAt(0) <= 0xff) ? 'latin1' : 'utf8');

/** Line starts of a buffer (the first line, the header, excluded when `body`). */
function lineStarts(b: Buffer, body: boolean): number[] {
  const starts = body ? [] : [0];
  for (let i = 0; i < b.length - 1; i++) if (b[i] === 0x0a) starts.push(i + 1);
  return starts.length > 0 ? starts : [0];
}

export function applyMutation(b: Buffer, m: Mutation): Buffer {
  const pos = (f: number) => Math.min(b.length, Math.floor(f * b.length));
  switch (m.kind) {
    case 'insert': {
      const p = pos(m.at);
      return Buffer.concat([b.subarray(0, p), bytesOf(INSERTS[m.what]!), b.subarray(p)]);
    }
    case 'byte': {
      const c = Buffer.from(b);
      if (c.length > 0) c[Math.min(c.length - 1, pos(m.at))] = m.value;
      return c;
    }
    case 'delete': {
      const p = pos(m.at);
      return Buffer.concat([b.subarray(0, p), b.subarray(Math.min(b.length, p + m.length))]);
    }
    case 'cut':
      return b.subarray(0, pos(m.at));
    case 'duplicate-line': {
      const starts = lineStarts(b, true);
      const s = starts[Math.floor(m.at * starts.length) % starts.length]!;
      const e = b.indexOf(0x0a, s);
      const line = b.subarray(s, e < 0 ? b.length : e + 1);
      return Buffer.concat([b.subarray(0, s), line, line, b.subarray(s + line.length)]);
    }
    case 'crlf':
      return Buffer.from(b.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
    case 'lone-cr':
      return Buffer.from(b.toString('latin1').replace(/\r?\n/g, '\r'), 'latin1');
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b]);
    case 'delimiter': {
      const t = b.toString('latin1');
      const nl = t.indexOf('\n');
      const to = DELIMITERS[m.to]!;
      return Buffer.from(m.headerOnly && nl >= 0 ? t.slice(0, nl).replaceAll(',', to) + t.slice(nl) : t.replaceAll(',', to), 'latin1');
    }
    case 'huge-field': {
      const starts = lineStarts(b, true);
      const s = starts[Math.floor(m.at * starts.length) % starts.length]!;
      let e = b.indexOf(0x0a, s);
      if (e < 0) e = b.length;
      const fields = b.subarray(s, e).toString('latin1').split(',');
      fields[m.field % fields.length] = HUGE[m.what]!;
      return Buffer.concat([b.subarray(0, s), Buffer.from(fields.join(','), 'latin1'), b.subarray(e)]);
    }
    case 'empty': {
      const nl = b.indexOf(0x0a);
      return m.keepHeader && nl >= 0 ? b.subarray(0, nl + 1) : Buffer.alloc(0);
    }
  }
}

// ---------------------------------------------------------------- rule expressions

/** A small seeded generator (mulberry32): an expression is rebuilt from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MONTH_FNS = ['amount', 'mou', 'hotline_calls'];
const DAY_FNS = ['activity', 'calls', 'sms', 'data_mb', 'forwarded_calls'];
const TICKET_KINDS = ['complaint', 'fault', 'inquiry', 'other', 'any'];
const STATUSES = ['active', 'suspended_arrears', 'suspended_hold', 'closed'];
const LEVELS = ['diamond', 'gold', 'silver', 'none'];
const LITERALS = ['0', '1', '2.5', '10', '0.7', '100', '1e6', '0.001', '999999999999', '-3'];

/**
 * A well-formed expression of the rule language, numeric or boolean, within depth
 * and term bounds.
 */
export function expression(seed: number, boolean: boolean, maxDepth = MAX_DEPTH, maxTerms = MAX_TERMS): string {
  const r = prng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  let terms = 0;
  const span = () => {
    const a = -Math.floor(r() * 120);
    return `${a}, ${a + Math.floor(r() * 60)}`;
  };
  const leaf = (): string => {
    terms++;
    switch (Math.floor(r() * 7)) {
      case 0:
        return pick(LITERALS);
      case 1:
        return `${pick(MONTH_FNS)}(M${Math.floor(r() * 6)})`;
      case 2:
        return `${pick(DAY_FNS)}(d${1 + Math.floor(r() * 10)})`;
      case 3:
        return `tickets('${pick(TICKET_KINDS)}', ${span()})`;
      case 4:
        return `${r() < 0.5 ? 'contracts_expiring' : 'contracts_lapsed'}(${span()})`;
      case 5:
        return 'prepaid_balance';
      default:
        return `${pick(MONTH_FNS)}(M0)`;
    }
  };
  const num = (depth: number): string => {
    if (depth >= maxDepth || terms >= maxTerms || r() < 0.3) return leaf();
    switch (Math.floor(r() * 6)) {
      case 0:
        return `(${num(depth + 1)})`;
      case 1:
        return `${pick(['min', 'max'])}(${num(depth + 1)}, ${num(depth + 1)})`;
      case 2:
        return `abs(${num(depth + 1)})`;
      case 3:
        return DIVIDE_BY_EXPRESSIONS ? `${num(depth + 1)} / ${num(depth + 1)}` : `${num(depth + 1)} / ${pick(['2', '3', '0.5', '100'])}`;
      default:
        return `${num(depth + 1)} ${pick(['+', '-', '*'])} ${num(depth + 1)}`;
    }
  };
  const bool = (depth: number): string => {
    if (depth >= maxDepth || terms >= maxTerms || r() < 0.25) {
      terms++;
      switch (Math.floor(r() * 4)) {
        case 0:
          return `status ${pick(['==', '!='])} '${pick(STATUSES)}'`;
        case 1:
          return `member_level ${pick(['==', '!='])} '${pick(LEVELS)}'`;
        case 2:
          return 'given(prepaid_balance)';
        default:
          return `${leaf()} ${pick(['<', '<=', '>', '>=', '==', '!='])} ${leaf()}`;
      }
    }
    switch (Math.floor(r() * 5)) {
      case 0:
        return `(${bool(depth + 1)})`;
      case 1:
        return `not ${bool(depth + 1)}`;
      case 2:
        return `${num(depth + 1)} ${pick(['<', '<=', '>', '>=', '==', '!='])} ${num(depth + 1)}`;
      default:
        return `${bool(depth + 1)} ${pick(['and', 'or'])} ${bool(depth + 1)}`;
    }
  };
  // Random trees are shallow; these two shapes reach the bounds themselves.
  const shape = r();
  if (shape < 0.1) {
    const k = 1 + Math.floor(r() * maxDepth);
    const nested = `${'('.repeat(k)}${leaf()}${')'.repeat(k)}`;
    return boolean ? `${nested} >= 0` : nested;
  }
  if (shape < 0.2) {
    const k = 1 + Math.floor(r() * maxTerms);
    const sum = Array.from({ length: k }, leaf).join(` ${pick(['+', '-', '*'])} `);
    return boolean ? `${sum} >= 0` : sum;
  }
  return boolean ? bool(0) : num(0);
}

const BAD_TOKENS = [
  '(',
  ')',
  ')))',
  '((',
  ' and ',
  ' or ',
  'not ',
  '==',
  '=',
  "'",
  '"',
  ',',
  'foo(',
  'amount(M99)',
  'amount(M-1)',
  'amount()',
  'M0',
  'd0',
  '1e999',
  '99999999999999999999999',
  ':',
  '#',
  '\n',
  '{',
  '}',
  '\\',
  '\u3000',
  '１',
  'tickets(1, 2)',
  'status',
  '..',
  '--',
];

/** An expression made ill-formed (or not) by a few random edits. */
export function garble(expr: string, seed: number, edits: number): string {
  const r = prng(seed);
  let s = expr;
  for (let k = 0; k < edits; k++) {
    const p = Math.floor(r() * (s.length + 1));
    switch (Math.floor(r() * 4)) {
      case 0:
        s = s.slice(0, p) + s.slice(p + 1 + Math.floor(r() * 4));
        break;
      case 1:
        s = s.slice(0, p) + BAD_TOKENS[Math.floor(r() * BAD_TOKENS.length)]! + s.slice(p);
        break;
      case 2:
        s = s.slice(0, p);
        break;
      default:
        s = s.slice(p) + s.slice(0, p);
        break;
    }
  }
  return s;
}

export interface PackCase {
  rule: number;
  where: 'when' | 'value' | 'exclude';
  seed: number;
  edits: number;
}

export const packCase: fc.Arbitrary<PackCase> = fc.record({
  rule: fc.nat(20),
  where: fc.constantFrom('when' as const, 'when' as const, 'value' as const, 'exclude' as const),
  seed: fc.integer(),
  edits: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 4 })),
});

/** The default pack with one expression replaced. */
export function packText(base: string, c: PackCase): { text: string; expr: string } {
  const doc = parseYaml(base) as { value: string; exclude: string; rules: { when: string }[] };
  const expr = garble(expression(c.seed, c.where !== 'value'), c.seed ^ 0x5bd1e995, c.edits);
  if (c.where === 'value') doc.value = expr;
  else if (c.where === 'exclude') doc.exclude = expr;
  else doc.rules[c.rule % doc.rules.length]!.when = expr;
  return { text: stringifyYaml(doc), expr };
}

// ---------------------------------------------------------------- cases and runs

export interface FuzzCase {
  /** Extract files mutated, with their mutations. */
  files: { file: number; mutations: Mutation[]; gzip: 'no' | 'yes' | 'cut' }[];
  pack: PackCase | null;
  /** Run as a child process (catches hangs, which an in-process run cannot). */
  child: boolean;
}

export function fuzzCase(childShare: number): fc.Arbitrary<FuzzCase> {
  return fc.record({
    files: fc.array(
      fc.record({
        file: fc.nat(100),
        mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
        gzip: fc.constantFrom('no' as const, 'no' as const, 'no' as const, 'no' as const, 'yes' as const, 'cut' as const),
      }),
      { minLength: 0, maxLength: 2 },
    ),
    pack: fc.option(packCase, { freq: 2 }),
    child: fc.noBias(fc.integer({ min: 0, max: 9999 })).map((x) => x < childShare * 10_000),
  });
}

export interface Outcome {
  code: number;
  stderr: string;
  timedOut: boolean;
}

/** Writes the case's input folder (and pack): the base extracts with the mutations applied. */
export function writeCase(dir: string, c: FuzzCase): { input: string; pack: string; mutated: Set<string>; expr: string | null } {
  const input = join(dir, 'in');
  mkdirSync(input, { recursive: true });
  const names = readdirSync(BASE_INPUT).sort();
  const mutated = new Set<string>();
  const content = new Map<string, Buffer>(names.map((n) => [n, readFileSync(join(BASE_INPUT, n))]));
  const gz = new Map<string, FuzzCase['files'][number]['gzip']>();
  for (const f of c.files) {
    const name = names[f.file % names.length]!;
    let b = content.get(name)!;
    for (const m of f.mutations) b = applyMutation(b, m);
    content.set(name, b);
    mutated.add(name);
    if (f.gzip !== 'no') gz.set(name, f.gzip);
  }
  for (const [name, b] of content) {
    const how = gz.get(name);
    if (how === undefined) {
      writeFileSync(join(input, name), b);
      continue;
    }
    const z = gzipSync(b);
    writeFileSync(join(input, `${name}.gz`), how === 'cut' ? z.subarray(0, Math.floor(z.length / 2)) : z);
  }
  let pack = DEFAULT_PACK;
  let expr: string | null = null;
  if (c.pack) {
    const p = packText(readFileSync(DEFAULT_PACK, 'utf8'), c.pack);
    pack = join(dir, 'pack.yaml');
    writeFileSync(pack, p.text);
    expr = p.expr;
  }
  return { input, pack, mutated, expr };
}

export async function runCase(dir: string, input: string, pack: string, child: boolean, timeoutMs: number): Promise<Outcome> {
  const args = ['run', '--input', input, '--out', join(dir, 'out'), '--as-of', AS_OF, '--rules', pack, '--log-level', 'warn'];
  if (!child) {
    let stderr = '';
    const code = await main(args, {
      out: () => {},
      err: (s) => {
        stderr += s;
      },
      log: (s) => {
        stderr += s;
      },
    });
    return { code, stderr, timedOut: false };
  }
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/churnwatch.js', ...args],
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20 },
      (err, _out, stderr) => {
        const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: number | string }) | null;
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, stderr: String(stderr), timedOut: Boolean(e?.killed) });
      },
    );
  });
}

/**
 * What must hold after any run: no hang, an expected exit code (never 70), no stack
 * trace; a publication only after a successful run; in it, rows accepted plus rejected
 * equal to rows read for every file, an unmutated file read as the base run read it,
 * and no NaN or Infinity in a published CSV or the summary.
 */
export function violations(dir: string, o: Outcome, mutated: Set<string>, baseRowsRead: Map<string, number>): string[] {
  const bad: string[] = [];
  if (o.timedOut) bad.push('hang: the run did not end within its time');
  if (!EXPECTED_CODES.has(o.code)) bad.push(`exit ${o.code}`);
  if (STACK_FRAME.test(o.stderr) || o.stderr.includes('internal error')) bad.push('stack trace or internal error on stderr');
  const published = join(dir, 'out', AS_OF);
  if (o.code !== 0) {
    if (existsSync(published)) bad.push(`exit ${o.code} but ${AS_OF} was published`);
    return bad;
  }
  const summary = JSON.parse(readFileSync(join(published, 'summary.json'), 'utf8')) as {
    files: Record<string, { file: string; rows_read: number; rows_accepted: number; rows_rejected: number }>;
  };
  for (const [extract, f] of Object.entries(summary.files)) {
    if (f.rows_accepted + f.rows_rejected !== f.rows_read)
      bad.push(`${extract}: accepted ${f.rows_accepted} + rejected ${f.rows_rejected} != read ${f.rows_read}`);
    const base = baseRowsRead.get(extract);
    if (!mutated.has(f.file.replace(/\.gz$/, '')) && base !== undefined && base !== f.rows_read)
      bad.push(`${extract}: unmutated, read ${f.rows_read} rows, the base run read ${base}`);
  }
  for (const file of readdirSync(published).filter((f) => f.endsWith('.csv') || f === 'summary.json')) {
    if (/(?<![\w.])(?:NaN|-?Infinity)(?![\w.])/.test(readFileSync(join(published, file), 'utf8')))
      bad.push(`${file} holds a non-finite number`);
  }
  return bad;
}
