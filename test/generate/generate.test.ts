import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { generateExtracts } from '../../src/generate/generate.js';
import { EXTRACT_NAMES, defaultHeader } from '../../src/contract/contract.js';
import { Prng, exp, ln } from '../../src/generate/prng.js';

// The run date used throughout: 2026-11-23 as a day number, computed without the project's date helpers.
const D = Date.UTC(2026, 10, 23) / 86400000;

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cw-generate-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function digest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort())
    out[name] = createHash('sha256')
      .update(readFileSync(join(dir, name)))
      .digest('hex');
  return out;
}

function readCsv(dir: string, file: string, delimiter = ','): Record<string, string>[] {
  return parse(readFileSync(join(dir, file)), { columns: true, delimiter, skip_empty_lines: false }) as Record<string, string>[];
}

// ---------------------------------------------------------------------------
// A small independent reference evaluator of the contract's 12 default rules.

/** Day number of YYYY-MM-DD or YYYYMMDD (an optional time part ignored); NaN when invalid. */
function dayOf(s: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T]\d{2}:\d{2}:\d{2})?$/.exec(s) ?? /^(\d{4})(\d{2})(\d{2})(?:[ T]\d{2}:\d{2}:\d{2})?$/.exec(s);
  if (!m) return NaN;
  const y = +m[1]!,
    mo = +m[2]!,
    d = +m[3]!;
  const t = Date.UTC(y, mo - 1, d);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return NaN;
  return t / 86400000;
}
function monthOf(s: string): number {
  const m = /^(\d{4})-?(\d{2})$/.exec(s);
  if (!m || +m[2]! < 1 || +m[2]! > 12) return NaN;
  return +m[1]! * 12 + (+m[2]! - 1);
}
/** "12.34" / "-5" / "0.5" to integer hundredths, exactly; NaN when not a decimal. */
function hundredths(s: string): number {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(s);
  if (!m) return NaN;
  const v = +m[2]! * 100 + +(m[3] ?? '0').padEnd(2, '0');
  return m[1] ? -v : v;
}
const isCount = (s: string): boolean => /^\d+$/.test(s);

const RULES = [
  'arpu_drop_mom',
  'arpu_decline_3m',
  'silence_3d',
  'complaints_repeat',
  'contract_expiring',
  'contract_lapsed',
  'arrears_suspended',
  'number_hold',
  'forwarding_3d',
  'hotline_calls',
  'mou_drop',
  'low_balance',
] as const;
type Rule = (typeof RULES)[number];

interface Evaluation {
  subscribers: number;
  hits: Record<Rule, number>;
  rejects: Record<string, number>;
  billMonths: number[];
  usageDays: Map<number, number>;
}

function evaluate(dir: string, asOf: number, delimiter = ','): Evaluation {
  const subs = readCsv(dir, 'subscribers.csv', delimiter);
  const known = new Map<string, Record<string, string>>();
  for (const s of subs) if (!known.has(s.subscriber_id!)) known.set(s.subscriber_id!, s);
  const rejects: Record<string, number> = { billing: 0, usage: 0, tickets: 0, contracts: 0 };
  const Dm = Math.floor(monthOf(new Date(asOf * 86400000).toISOString().slice(0, 7)));

  // Billing sums per subscriber and month.
  const bill = new Map<string, Map<number, { amt: number; mou: number; hot: number }>>();
  const months = new Set<number>();
  for (const r of readCsv(dir, 'billing_monthly.csv', delimiter)) {
    const m = monthOf(r.bill_month!),
      a = hundredths(r.amount!);
    if (!known.has(r.subscriber_id!) || Number.isNaN(m) || Number.isNaN(a) || !isCount(r.mou!) || !isCount(r.hotline_calls!)) {
      rejects.billing!++;
      continue;
    }
    months.add(m);
    let per = bill.get(r.subscriber_id!);
    if (!per) bill.set(r.subscriber_id!, (per = new Map()));
    const cur = per.get(m) ?? { amt: 0, mou: 0, hot: 0 };
    cur.amt += a;
    cur.mou += +r.mou!;
    cur.hot += +r.hotline_calls!;
    per.set(m, cur);
  }
  const M0 = Math.max(...[...months].filter((m) => m < Dm));

  // Usage: activity and forwarding on d1..d3.
  const act = new Map<string, number[]>(); // [activity d1, d2, d3] in hundredths
  const fwd = new Map<string, number[]>();
  const usageDays = new Map<number, number>();
  for (const r of readCsv(dir, 'usage_daily.csv', delimiter)) {
    const day = dayOf(r.usage_date!),
      data = hundredths(r.data_mb!);
    if (
      !known.has(r.subscriber_id!) ||
      Number.isNaN(day) ||
      !isCount(r.calls!) ||
      !isCount(r.sms!) ||
      Number.isNaN(data) ||
      !isCount(r.forwarded_calls!)
    ) {
      rejects.usage!++;
      continue;
    }
    usageDays.set(day, (usageDays.get(day) ?? 0) + 1);
    const j = asOf - day;
    if (j < 1 || j > 3) continue;
    const a = act.get(r.subscriber_id!) ?? [0, 0, 0];
    a[j - 1]! += +r.calls! * 100 + +r.sms! * 100 + data;
    act.set(r.subscriber_id!, a);
    const f = fwd.get(r.subscriber_id!) ?? [0, 0, 0];
    f[j - 1]! += +r.forwarded_calls!;
    fwd.set(r.subscriber_id!, f);
  }

  // Tickets in [D-90, D-1].
  const complaints = new Map<string, number>(),
    faults = new Map<string, number>();
  for (const r of readCsv(dir, 'tickets.csv', delimiter)) {
    const day = dayOf(r.created_at!);
    if (
      !r.ticket_id ||
      !known.has(r.subscriber_id!) ||
      Number.isNaN(day) ||
      !['complaint', 'fault', 'inquiry', 'other'].includes(r.kind!)
    ) {
      rejects.tickets!++;
      continue;
    }
    if (day < asOf - 90 || day > asOf - 1) continue;
    if (r.kind === 'complaint') complaints.set(r.subscriber_id!, (complaints.get(r.subscriber_id!) ?? 0) + 1);
    if (r.kind === 'fault') faults.set(r.subscriber_id!, (faults.get(r.subscriber_id!) ?? 0) + 1);
  }

  // Contracts.
  const contracts = new Map<string, { kind: string; end: number; renewed: boolean }[]>();
  for (const r of readCsv(dir, 'contracts.csv', delimiter)) {
    const start = dayOf(r.start_date!),
      end = dayOf(r.end_date!);
    const renewed = r.renewed === '1' || r.renewed === 'true' ? true : r.renewed === '0' || r.renewed === 'false' ? false : null;
    if (!r.contract_id || !known.has(r.subscriber_id!) || Number.isNaN(start) || Number.isNaN(end) || renewed === null) {
      rejects.contracts!++;
      continue;
    }
    const list = contracts.get(r.subscriber_id!) ?? [];
    list.push({ kind: r.kind!, end, renewed });
    contracts.set(r.subscriber_id!, list);
  }

  const hits = Object.fromEntries(RULES.map((r) => [r, 0])) as Record<Rule, number>;
  const d3 = asOf - 3;
  for (const [id, s] of known) {
    if (s.status === 'closed') continue;
    const per = bill.get(id);
    const amt = (m: number): number => per?.get(m)?.amt ?? 0;
    const mou = (m: number): number => per?.get(m)?.mou ?? 0;
    const [a0, a1, a2, a3] = [amt(M0), amt(M0 - 1), amt(M0 - 2), amt(M0 - 3)];
    if (a1 >= 1000 && a0 * 100 <= 70 * a1) hits.arpu_drop_mom++;
    if (a3 >= 1000 && a3 > a2 && a2 > a1 && a1 > a0 && a0 * 100 <= 80 * a3) hits.arpu_decline_3m++;
    const activation = s.activation_date ? dayOf(s.activation_date) : NaN;
    const a = act.get(id) ?? [0, 0, 0];
    if (s.status === 'active' && a[0] === 0 && a[1] === 0 && a[2] === 0 && (Number.isNaN(activation) || activation <= d3))
      hits.silence_3d++;
    if ((complaints.get(id) ?? 0) >= 2 || (faults.get(id) ?? 0) >= 3) hits.complaints_repeat++;
    const cs = contracts.get(id) ?? [];
    if (cs.some((c) => !c.renewed && c.end >= asOf && c.end <= asOf + 30)) hits.contract_expiring++;
    if (cs.some((c) => !c.renewed && c.end >= asOf - 30 && c.end <= asOf - 1 && !cs.some((o) => o.kind === c.kind && o.end >= asOf)))
      hits.contract_lapsed++;
    if (s.status === 'suspended_arrears') hits.arrears_suspended++;
    if (s.status === 'suspended_hold') hits.number_hold++;
    const f = fwd.get(id) ?? [0, 0, 0];
    if (f[0]! > 0 && f[1]! > 0 && f[2]! > 0) hits.forwarding_3d++;
    if ((per?.get(M0)?.hot ?? 0) >= 5) hits.hotline_calls++;
    if (mou(M0 - 1) >= 60 && mou(M0) * 100 <= 50 * mou(M0 - 1)) hits.mou_drop++;
    if (s.status === 'active' && s.prepaid_balance !== '' && hundredths(s.prepaid_balance!) < 1000) hits.low_balance++;
  }
  return { subscribers: known.size, hits, rejects, billMonths: [...months].sort((x, y) => x - y), usageDays };
}

// ---------------------------------------------------------------------------

describe('prng', () => {
  it('is reproducible and seeds differ', () => {
    const a = new Prng(42),
      b = new Prng('42'),
      c = new Prng(43);
    const xs = Array.from({ length: 5 }, () => a.nextU32());
    expect(Array.from({ length: 5 }, () => b.nextU32())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.nextU32())).not.toEqual(xs);
  });

  it('has sane helpers', () => {
    const r = new Prng('helpers');
    let sum = 0,
      sq = 0;
    for (let i = 0; i < 20000; i++) {
      const x = r.next();
      expect(x >= 0 && x < 1).toBe(true);
      const k = r.int(3, 5);
      expect(k >= 3 && k <= 5 && Number.isInteger(k)).toBe(true);
      const z = r.normal();
      sum += z;
      sq += z * z;
    }
    expect(Math.abs(sum / 20000)).toBeLessThan(0.05);
    expect(Math.abs(sq / 20000 - 1)).toBeLessThan(0.05);
    expect(['a', 'b']).toContain(r.pick(['a', 'b']));
    expect(r.lognormal(0, 0.5)).toBeGreaterThan(0);
  });

  it('computes ln and exp from arithmetic, close to Math', () => {
    for (const x of [1e-300, 1e-12, 0.001, 0.5, 1, Math.E, 2, 10, 12345.678, 1e300]) {
      expect(Math.abs(ln(x) - Math.log(x))).toBeLessThan(1e-12 * Math.max(1, Math.abs(Math.log(x))));
    }
    for (const x of [-700, -20, -1, -0.3, 0, 0.3, 1, 5, 20, 700]) {
      expect(Math.abs(exp(x) / Math.exp(x) - 1)).toBeLessThan(1e-13);
    }
  });
});

describe('generateExtracts', () => {
  it('gives the same bytes for the same seed, whatever the chunk size, and other bytes for another seed', async () => {
    const [a, b, c] = [tempDir(), tempDir(), tempDir()];
    await generateExtracts({ subscribers: 500, seed: 'same', asOf: D, outDir: a });
    await generateExtracts({ subscribers: 500, seed: 'same', asOf: D, outDir: b, chunkSize: 777 });
    await generateExtracts({ subscribers: 500, seed: 'other', asOf: D, outDir: c });
    const da = digest(a),
      db = digest(b),
      dc = digest(c);
    expect(Object.keys(da)).toHaveLength(7);
    expect(db).toEqual(da);
    for (const name of Object.keys(da)) expect(dc[name]).not.toBe(da[name]);
  });

  it('writes the contract headers, text ids, unique 11-digit numbers and plausible counts', async () => {
    const dir = tempDir();
    const progress: string[] = [];
    const { files } = await generateExtracts({ subscribers: 1000, seed: 1, asOf: D, outDir: dir, onProgress: (f) => progress.push(f) });
    const expected: Record<string, readonly string[]> = Object.fromEntries(EXTRACT_NAMES.map((n) => [`${n}.csv`, defaultHeader(n)]));
    expect(files.map((f) => f.name).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, cols] of Object.entries(expected)) {
      const text = readFileSync(join(dir, name), 'utf8');
      expect(text.charCodeAt(0)).not.toBe(0xfeff);
      expect(text.slice(0, text.indexOf('\n'))).toBe(cols.join(','));
      expect(text.includes('\r')).toBe(false);
      expect(text.endsWith('\n')).toBe(true);
      const f = files.find((x) => x.name === name)!;
      expect(f.rows).toBe(text.split('\n').length - 2);
      expect(f.bytes).toBe(Buffer.byteLength(text));
      expect(progress).toContain(name);
    }
    expect(defaultHeader('subscribers')).toHaveLength(11);

    const subs = readCsv(dir, 'subscribers.csv');
    expect(subs).toHaveLength(1000);
    const ids = subs.map((s) => s.subscriber_id!);
    expect(new Set(ids).size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^0\d{9}$/);
    const msisdns = subs.map((s) => s.msisdn!);
    expect(new Set(msisdns).size).toBe(1000);
    for (const m of msisdns) expect(m).toMatch(/^1(3\d|5[0-35-9]|8\d)\d{8}$/);
    const statuses = new Map<string, number>();
    for (const s of subs) statuses.set(s.status!, (statuses.get(s.status!) ?? 0) + 1);
    expect(statuses.get('active')! / 1000).toBeGreaterThan(0.85);
    for (const st of ['suspended_arrears', 'suspended_hold', 'closed']) expect(statuses.get(st)).toBeGreaterThan(0);
    const prepaid = subs.filter((s) => s.prepaid_balance !== '').length;
    expect(prepaid / 1000).toBeGreaterThan(0.4);
    expect(prepaid / 1000).toBeLessThan(0.6);
    for (const s of subs) expect(s.name).toMatch(/^[\u4e00-\u9fff]{2,4}$/);

    const rows = Object.fromEntries(files.map((f) => [f.name, f.rows]));
    expect(rows['billing_monthly.csv']).toBeGreaterThan(1000 * 5.4);
    expect(rows['billing_monthly.csv']).toBeLessThan(1000 * 6.6);
    expect(rows['usage_daily.csv']).toBeGreaterThan(1000 * 14 * 0.8);
    expect(rows['usage_daily.csv']).toBeLessThan(1000 * 14 * 1.05);
    expect(rows['do_not_call.csv']).toBeGreaterThan(3);
    expect(rows['do_not_call.csv']).toBeLessThan(30);
    expect(rows['contact_history.csv']).toBeGreaterThan(10);

    // Tickets mix date and date-time forms; renewed mixes 0/1/true/false.
    const created = readCsv(dir, 'tickets.csv').map((t) => t.created_at!);
    expect(created.some((c) => /^\d{4}-\d{2}-\d{2}$/.test(c))).toBe(true);
    expect(created.some((c) => /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}$/.test(c))).toBe(true);
    expect(new Set(readCsv(dir, 'contracts.csv').map((c) => c.renewed))).toEqual(new Set(['0', '1', 'true', 'false']));
  });

  it('hits each of the 12 default rules for a few percent of 2,000 subscribers and passes the gates', async () => {
    const dir = tempDir();
    await generateExtracts({ subscribers: 2000, seed: 2026, asOf: D, outDir: dir });
    const ev = evaluate(dir, D);
    expect(ev.subscribers).toBe(2000);
    // No rejects at all.
    expect(ev.rejects).toEqual({ billing: 0, usage: 0, tickets: 0, contracts: 0 });
    // The six full months before D's month, every one present; M0 is the month before D's month.
    const Dm = 2026 * 12 + 10;
    expect(ev.billMonths).toEqual([Dm - 6, Dm - 5, Dm - 4, Dm - 3, Dm - 2, Dm - 1]);
    // Usage days D-14 .. D-1 each with plenty of rows (well over half the median).
    expect([...ev.usageDays.keys()].sort((x, y) => x - y)).toEqual(Array.from({ length: 14 }, (_, k) => D - 14 + k));
    const counts = [...ev.usageDays.values()].sort((x, y) => x - y);
    const median = counts[7]!;
    for (const c of counts) expect(c).toBeGreaterThan(median * 0.8);
    for (const rule of RULES) {
      expect(ev.hits[rule], rule).toBeGreaterThanOrEqual(1);
      expect(ev.hits[rule] / 2000, rule).toBeLessThan(0.2);
    }
  });

  it('inserts the requested share of invalid fact rows and leaves the valid rows unchanged', async () => {
    const clean = tempDir(),
      dirty = tempDir();
    await generateExtracts({ subscribers: 800, seed: 'dirt', asOf: D, outDir: clean });
    await generateExtracts({ subscribers: 800, seed: 'dirt', asOf: D, outDir: dirty, dirtyShare: 0.03 });
    const ev = evaluate(dirty, D);
    for (const file of ['billing_monthly.csv', 'usage_daily.csv', 'tickets.csv', 'contracts.csv']) {
      const all = readCsv(dirty, file).length;
      const key = file.split(/[._]/)[0]!;
      const share = ev.rejects[key]! / all;
      expect(share, file).toBeGreaterThan(file === 'usage_daily.csv' || file === 'billing_monthly.csv' ? 0.02 : 0.005);
      expect(share, file).toBeLessThan(file === 'usage_daily.csv' || file === 'billing_monthly.csv' ? 0.04 : 0.07);
    }
    // Dropping the invalid rows gives back the clean extracts exactly.
    const cleanEv = evaluate(clean, D);
    expect(ev.hits).toEqual(cleanEv.hits);
    for (const file of ['subscribers.csv', 'contact_history.csv', 'do_not_call.csv']) {
      expect(readFileSync(join(dirty, file))).toEqual(readFileSync(join(clean, file)));
    }
    const cleanLines = new Set(readFileSync(join(clean, 'usage_daily.csv'), 'utf8').split('\n'));
    const extra = readFileSync(join(dirty, 'usage_daily.csv'), 'utf8')
      .split('\n')
      .filter((l) => !cleanLines.has(l));
    expect(extra.length).toBe(ev.rejects.usage);
  });

  it('honours the delimiter and gzip without changing the content', async () => {
    const plain = tempDir(),
      piped = tempDir();
    await generateExtracts({ subscribers: 300, seed: 9, asOf: D, outDir: plain });
    const { files } = await generateExtracts({ subscribers: 300, seed: 9, asOf: D, outDir: piped, delimiter: '|', gzip: true });
    expect(files.map((f) => f.name)).toContain('usage_daily.csv.gz');
    for (const f of files) {
      const text = gunzipSync(readFileSync(join(piped, f.name))).toString('utf8');
      const ref = readFileSync(join(plain, f.name.replace(/\.gz$/, '')), 'utf8');
      expect(text).toBe(ref.replaceAll(',', '|'));
    }
    const ev = evaluate(plain, D);
    expect(ev.subscribers).toBe(300);
  });

  it('quotes fields that contain the delimiter', async () => {
    const dir = tempDir();
    // '市' occurs in every region name, so every region field must be quoted.
    await generateExtracts({ subscribers: 50, seed: 3, asOf: D, outDir: dir, delimiter: '市' });
    const subs = readCsv(dir, 'subscribers.csv', '市');
    expect(subs).toHaveLength(50);
    for (const s of subs) expect(s.region).toMatch(/市/);
  });

  it('rejects bad options', async () => {
    const dir = tempDir();
    await expect(generateExtracts({ subscribers: 0, seed: 1, asOf: D, outDir: dir })).rejects.toMatchObject({ code: 'CW_USAGE' });
    await expect(generateExtracts({ subscribers: 10, seed: 1, asOf: D, outDir: dir, delimiter: '-' })).rejects.toMatchObject({
      code: 'CW_USAGE',
    });
    await expect(generateExtracts({ subscribers: 10, seed: 1, asOf: D, outDir: dir, dirtyShare: 2 })).rejects.toMatchObject({
      code: 'CW_USAGE',
    });
  });

  it('reports an unwritable output as a churnwatch error', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a-file'), 'x');
    await expect(generateExtracts({ subscribers: 10, seed: 1, asOf: D, outDir: join(dir, 'a-file') })).rejects.toMatchObject({
      code: 'CW_OUTPUT_UNWRITABLE',
    });
    mkdirSync(join(dir, 'out', 'billing_monthly.csv'), { recursive: true });
    await expect(generateExtracts({ subscribers: 10, seed: 1, asOf: D, outDir: join(dir, 'out') })).rejects.toMatchObject({
      code: 'CW_OUTPUT_UNWRITABLE',
    });
  });
});
