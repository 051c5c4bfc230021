/**
 * writeTaskFile writes task rows as bytes; the files must stay what they were when
 * each row was a list of formatted strings joined by csvLine(). The reference below
 * is that string-built version, kept as it was (reading the text columns with get()),
 * and the properties run both over random tiers: random rule hits, texts with commas,
 * quotes, line breaks, formula-like starts and Chinese, masked and unmasked profiles,
 * values that are negative, NaN or huge, contacts present or absent. A second pack
 * has templates, actions, channels and assignees built to need quoting and
 * neutralising, equal weights, a disabled rule in the middle and a zone with DST; a
 * third has more rules than one 32-bit word of hit flags holds. Long tiers (their
 * reads prefetched a few rows ahead), and the number formats the writer computes itself (toFixed's digits, near
 * ties too; formatNumber), are checked apart. The same reference holds for the rows
 * rendered from what the task-files worker is handed (output/task-files.ts).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseRulePack, type RuleDef, type RulePack } from '../../src/config/rulepack.js';
import type { FeatureTable } from '../../src/features/features.js';
import type { SubscriberTable } from '../../src/ingest/subscribers.js';
import { copyBytes, CsvBytesWriter, putFixed, viewOf } from '../../src/util/bytes.js';
import { csvLine } from '../../src/output/csv.js';
import { maskName, maskPhone, PHONE } from '../../src/util/mask.js';
import { isPhoneBytes } from '../../src/util/phone.js';
import { CONTACT_OUTCOMES, TIERS } from '../../src/contract/contract.js';
import { TASK_ID_WIDTH, TASK_STATES } from '../../src/tasks/ledger.js';
import type { FeatureColumn } from '../../src/rules/compile.js';
import { ChurnwatchError } from '../../src/errors.js';
import {
  putFormattedNumber,
  dueAt,
  formatNumber,
  reasonRenderer,
  renderInput,
  renderTaskFiles,
  TASK_FREE_TEXT,
  taskColumns,
  writeTaskFile,
  type TaskInput,
  type TaskProfile,
} from '../../src/tasks/tasks.js';
import { formatDay, parseDay } from '../../src/util/dates.js';
import { CodedText, TextColumn } from '../../src/util/text-column.js';
import { planTasks } from '../../src/tasks/plan.js';
import { flaggedFeatureTable, planOf, postPlan, renderInputOf, toWorkerStart } from '../../src/output/task-files.js';

/** The task rows as they were built before the byte writer: one string per cell. */
function referenceTaskRows(
  input: TaskInput,
  tierName: string,
  order: number[],
  profile: TaskProfile,
  emit: (cells: string[]) => void,
): void {
  const { pack, D, subscribers: s, features, evaluation: ev, scores } = input;
  const enabled: RuleDef[] = pack.rules.filter((r) => r.enabled);
  const reasons = enabled.map((r) => reasonRenderer(r.reason, features, D));
  const assignee = pack.assignees[tierName as 'high' | 'mid' | 'mass'];
  const stamp = formatDay(D).replaceAll('-', '');
  const width = Math.max(6, String(order.length).length);
  order.forEach((i, k) => {
    const hitIdx: number[] = [];
    for (let j = 0; j < enabled.length; j++) if (ev.flags[j]![i]) hitIdx.push(j);
    const hit = hitIdx.map((j) => enabled[j]!);
    const primary = hit.reduce((a, b) => (b.weight > a.weight ? b : a));
    const due = Math.min(...hit.map((r) => r.dueHours));
    const rank = k + 1;
    const lastDay = input.contacts?.lastContact[i];
    const hasContact = lastDay !== undefined && !Number.isNaN(lastDay);
    const phone = s.msisdn.get(i);
    if (!PHONE.test(phone))
      throw new ChurnwatchError('CW_INTERNAL', `a phone number that is not digits reached the ${tierName} task file (rank ${rank})`);
    const personal = profile.mask
      ? [profile.dialerFullNumber ? phone : '', maskPhone(phone), maskName(s.name.get(i))]
      : [phone, s.name.get(i)];
    emit([
      `CW-${stamp}-${tierName.toUpperCase()}-${String(rank).padStart(width, '0')}`,
      tierName,
      String(rank),
      s.ids.get(i),
      ...personal,
      s.region.get(i),
      s.managerId.get(i),
      assignee,
      fixedOrEmpty(ev.value[i]!, 2),
      fixedOrEmpty(scores.risk[i]!, 4),
      fixedOrEmpty(scores.expectedLoss[i]!, 2),
      hit.map((r) => r.id).join(';'),
      hitIdx.map((j) => reasons[j]!(i)).join('; '),
      primary.action,
      primary.channel,
      dueAt(D, pack.tasks.issueTime, due, pack.timeZone, pack.policy.callable),
      hasContact ? formatDay(lastDay!) : '',
      hasContact ? (CONTACT_OUTCOMES[input.contacts!.lastOutcome[i]!] ?? '') : '',
      'retention',
      'new',
    ]);
  });
}

/** The string-built file; with `channel`, that in every row's channel cell (a file of one channel's rows). */
function referenceFile(input: TaskInput, tierName: string, order: number[], profile: TaskProfile, channel?: string): string {
  const columns = taskColumns(profile);
  const freeText = new Set(columns.map((c, j) => (TASK_FREE_TEXT.has(c) ? j : -1)).filter((j) => j >= 0));
  const channelAt = columns.indexOf('channel');
  let text = csvLine(columns);
  referenceTaskRows(input, tierName, order, profile, (cells) => {
    if (channel !== undefined) cells[channelAt] = channel;
    text += csvLine(cells, freeText);
  });
  return text;
}

function written(input: TaskInput, tierName: string, order: number[], profile: TaskProfile, chunk?: number): Buffer {
  const parts: Buffer[] = [];
  const w = new CsvBytesWriter((b) => parts.push(Buffer.from(b)), chunk);
  writeTaskFile(w, input, tierName, order, profile);
  w.end();
  return Buffer.concat(parts);
}

const ODD_PACK = `
pack: odd
version: 1
time_zone: America/New_York
value: amount(M0) - amount(M1)
exclude: status == 'closed'
tiers:
  method: threshold
  high: 60
  mid: 30
  assignees:
    high: "=boss"
    mid: "desk, \\"B\\""
    mass: 话务中心
tasks:
  issue_time: "23:30"
rules:
  - id: lead_pct
    when: amount(M0) < 1
    weight: 0.35
    reason: "{pct_change(amount(M0), amount(M1))} vs last month, \\"quoted\\""
    action: "Say \\"hi\\", then offer"
    channel: "＝call"
    due_hours: 0.5
  - id: formula_text
    when: amount(M0) < 2
    weight: 0.35
    reason: "=SUM(A1) {amount(M0)}"
    action: "@once"
    channel: call
    due_hours: 1000
  - id: off
    enabled: false
    when: amount(M0) < 3
    weight: 0.9
    reason: "never {amount(M0)}"
    action: never
    due_hours: 1
  - id: money_first
    when: amount(M0) < 4
    weight: 0.5
    reason: "{amount(M0)}"
    action: "-minus"
    channel: "a,b"
    due_hours: 0
  - id: chinese
    when: mou(M0) < 4
    weight: 0.5
    reason: "账单下降\\n{mou(M0)}分钟，{hotline_calls(M0)}次; {mou(M0) / 7}"
    action: 致电客户
    channel: 短信
    due_hours: 24
  - id: ratio
    when: mou(M0) < 5
    weight: 0.05
    reason: "{mou(M0) / mou(M1)}{amount(M0) * 100000000000000 * 10000000}{tickets('complaint', -90, -1)}"
    action: "\\tTab"
    due_hours: 48
`;

/** More rules than one 32-bit word of hit flags holds, some disabled, weights and due times repeating. */
const MANY_RULES_PACK = `
pack: many
version: 1
value: amount(M0)
tiers: { method: threshold, high: 60, mid: 30 }
rules:
${Array.from(
  { length: 40 },
  (_, k) => `  - id: r${k}
    when: amount(M0) < ${k}
    weight: ${[0.1, 0.2, 0.3, 0.2][k % 4]}
    due_hours: ${[48, 24, 72][k % 3]}
    enabled: ${k % 7 !== 3}
    reason: "${k % 5 === 0 ? '{amount(M0)}' : `r${k} at {mou(M${k % 3})}`}"
    action: "act ${k}${k % 6 === 0 ? ', \\"now\\"' : ''}"
`,
).join('')}`;

const PACKS: RulePack[] = [
  parseRulePack(readFileSync('rules/default.yaml', 'utf8'), 'default.yaml'),
  parseRulePack(ODD_PACK, 'odd.yaml'),
  parseRulePack(MANY_RULES_PACK, 'many.yaml'),
];

/** The feature columns the reason texts of a pack read. */
function reasonFeatures(pack: RulePack): string[] {
  const keys = new Set<string>();
  for (const r of pack.rules) for (const p of r.reason) if (typeof p !== 'string') for (const k of p.compiled.columns) keys.add(k);
  return [...keys];
}

const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({
    unit: fc.constantFrom('a', ',', '"', '\n', '\r', '=', '+', '-', '@', '\t', '\0', '＝', '＋', '－', '＠', '张', '𪚥', ' ', '1'),
    maxLength: 8,
  }),
);
/** A coded column's values: some drawn anew, some repeating, so that rows share dictionary entries. */
const codedText = fc.oneof(text, fc.constantFrom('', '广州市越秀区', '=SUM(A1)', 'a,"b"', ' CM10486', '-1'));
const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
const phone = fc.tuple(fc.boolean(), digits(5, 20)).map(([plus, d]) => `${plus ? '+' : ''}${d}`);
const number = fc.oneof(
  fc.integer({ min: -100_000, max: 10_000_000 }).map((f) => f / 100),
  fc.integer({ min: -1000, max: 1000 }).map((f) => f / 1000),
  fc.double(),
  fc.constantFrom(NaN, 0, -0, Infinity, -Infinity, 1e21, -1e21, 0.05, -0.05, 0.15, -0.15, 2.5, 0.005, 1.005, 2 ** 53 + 2),
);
const contact = fc.option(
  fc.record({
    day: fc.oneof(fc.constant(NaN), fc.integer({ min: 19_000, max: 21_000 })),
    outcome: fc.oneof(fc.integer({ min: 0, max: CONTACT_OUTCOMES.length - 1 }), fc.constant(255), fc.integer({ min: 0, max: 255 })),
  }),
  { nil: undefined },
);

/** A number as the task files write it: toFixed's digits, and an empty cell for a number that is not finite (never published). */
function fixedOrEmpty(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '';
}

function subscriberArb(ruleCount: number, featureCount: number) {
  return fc.record({
    id: text,
    msisdn: phone,
    name: text,
    region: codedText,
    managerId: codedText,
    features: fc.array(number, { minLength: featureCount, maxLength: featureCount }),
    flags: fc.array(fc.boolean(), { minLength: ruleCount, maxLength: ruleCount }),
    anyRule: fc.nat(ruleCount - 1),
    value: number,
    risk: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0.00005, 0.99995)),
    loss: number,
    contact,
  });
}
type Subscriber = ReturnType<typeof subscriberArb> extends fc.Arbitrary<infer T> ? T : never;

function taskInput(pack: RulePack, D: number, subs: Subscriber[], withContacts: boolean): TaskInput {
  const n = subs.length;
  const keys = reasonFeatures(pack);
  // A billing or usage measure is the reader's ScaledColumn (unit 1: the drawn number as it is).
  const measures = new Set<string>();
  for (const r of pack.rules)
    for (const p of r.reason)
      if (typeof p !== 'string') for (const [k, f] of p.features) if (f.source === 'billing' || f.source === 'usage') measures.add(k);
  const columns = new Map<string, FeatureColumn>(
    keys.map((k, f) => {
      const values = Float64Array.from(subs, (s) => s.features[f]!);
      return [k, measures.has(k) ? { values, unit: 1 } : values];
    }),
  );
  const features: FeatureTable = { n, columns };
  const ruleCount = pack.rules.filter((r) => r.enabled).length;
  // Every subscriber with a task hits at least one rule (the policy stage only takes those).
  const flags = Array.from({ length: ruleCount }, (_, j) => Uint8Array.from(subs, (s) => (s.flags[j] || s.anyRule === j ? 1 : 0)));
  const col = (f: (s: Subscriber) => string) => TextColumn.from(subs.map(f));
  // As the table has them: dictionary coded, each row's cell a copy of its code's entry.
  const coded = (f: (s: Subscriber) => string) => CodedText.from(subs.map(f));
  const subscribers = {
    n,
    ids: col((s) => s.id),
    msisdn: col((s) => s.msisdn),
    name: col((s) => s.name),
    region: coded((s) => s.region),
    managerId: coded((s) => s.managerId),
    status: new Uint8Array(n),
    memberLevel: new Uint8Array(n),
    prepaidBalance: new Float64Array(n),
    activationDate: new Float32Array(n),
    statusSince: new Float32Array(n),
  } as SubscriberTable;
  return {
    pack,
    D,
    subscribers,
    features,
    evaluation: {
      rules: pack.rules.filter((r) => r.enabled),
      ruleIds: pack.rules.filter((r) => r.enabled).map((r) => r.id),
      flags,
      excluded: new Uint8Array(n),
      value: Float64Array.from(subs, (s) => s.value),
    },
    scores: {
      risk: Float64Array.from(subs, (s) => s.risk),
      expectedLoss: Float64Array.from(subs, (s) => s.loss),
      rank: Float64Array.from(subs, (s) => s.loss),
      tier: new Uint8Array(n),
      hits: Uint8Array.from({ length: n }, (_, i) => flags.reduce((a, f) => a + f[i]!, 0)),
    },
    contacts: withContacts
      ? {
          lastContact: Float32Array.from(subs, (s) => s.contact?.day ?? NaN),
          lastOutcome: Uint8Array.from(subs, (s) => s.contact?.outcome ?? 255),
          attempts: new Uint8Array(n),
          taskContacts: { taskId: [], outcome: [], day: [] },
        }
      : null,
  };
}

const tierCase = fc.integer({ min: 0, max: PACKS.length - 1 }).chain((p) => {
  const pack = PACKS[p]!;
  const ruleCount = pack.rules.filter((r) => r.enabled).length;
  return fc.record({
    pack: fc.constant(pack),
    D: fc.integer({ min: parseDay('2026-01-01'), max: parseDay('2026-12-31') }),
    subs: fc.array(subscriberArb(ruleCount, reasonFeatures(pack).length), { minLength: 1, maxLength: 25 }),
    withContacts: fc.boolean(),
    tier: fc.constantFrom('high', 'mid', 'mass'),
    profile: fc.record({ mask: fc.boolean(), dialerFullNumber: fc.boolean() }),
    chunk: fc.option(fc.integer({ min: 1, max: 200 }), { nil: undefined }),
    orderSeed: fc.array(fc.nat(), { maxLength: 40 }),
  });
});

type TierCase = typeof tierCase extends fc.Arbitrary<infer T> ? T : never;

/** A case's input, its order (any order, with repeats), and the tier's plan. */
function planned(c: TierCase) {
  const input = taskInput(c.pack, c.D, c.subs, c.withContacts);
  const order = c.orderSeed.length > 0 ? c.orderSeed.map((x) => x % c.subs.length) : c.subs.map((_, i) => i);
  const plan = planTasks(
    { pack: c.pack, D: c.D, evaluation: input.evaluation, msisdn: input.subscribers.msisdn },
    TIERS,
    TIERS.indexOf(c.tier as (typeof TIERS)[number]),
    order,
    c.profile,
  );
  return { input, order, plan };
}

/** referenceFile's arguments for a case. */
function referenceOf(c: TierCase): Parameters<typeof referenceFile> {
  const { input, order } = planned(c);
  return [input, c.tier, order, c.profile];
}

/** The scores with only the tier's subscribers counted as hitting a rule: the flagged rows hold the features of those alone. */
function tierOnly(input: TaskInput, order: readonly number[]): TaskInput['scores'] {
  const inTier = new Set(order);
  return { ...input.scores, hits: input.scores.hits.map((h, i) => (inTier.has(i) ? h : 0)) };
}

/**
 * A case's file as the task-files worker writes it from what it is handed (its columns
 * and plan as posted data). With `cellsAhead` every subscriber is in the file's tier,
 * and the file's masking is the worker's, so it renders their cells ahead and uses them.
 */
function writtenOnWorker(c: TierCase, cellsAhead: boolean): string {
  const { input, order, plan } = planned(c);
  const { hits } = tierOnly(input, order);
  const tier = cellsAhead ? new Uint8Array(hits.length).fill(TIERS.indexOf(c.tier as (typeof TIERS)[number])) : input.scores.tier;
  // As a postMessage would carry them: cloned, the shared buffers shared, the reason texts compiled again.
  const scores = { ...input.scores, hits, tier };
  const start = structuredClone(
    toWorkerStart({ dir: '', fileMode: 0o600, directWrites: false }, { ...input, scores }, cellsAhead ? c.profile : undefined),
  );
  const render = renderInputOf(start);
  if (cellsAhead) expect(render.cells?.tier).toBe(order.length > 0 ? c.tier : undefined);
  const posted = planOf(structuredClone(postPlan(plan)), start.measures);
  const parts: Buffer[] = [];
  const w = new CsvBytesWriter((b) => parts.push(Buffer.from(b)), c.chunk);
  renderTaskFiles(render, posted, [{ w, rows: null, channel: null }]);
  w.end();
  return Buffer.concat(parts).toString('utf8');
}

describe('writeTaskFile', () => {
  it('writes the same bytes as the string-built rows through csvLine', () => {
    fc.assert(
      fc.property(tierCase, (c) => {
        const input = taskInput(c.pack, c.D, c.subs, c.withContacts);
        // Any order, with repeats: the writer must not care how the policy stage chose it.
        const order = c.orderSeed.length > 0 ? c.orderSeed.map((x) => x % c.subs.length) : c.subs.map((_, i) => i);
        const want = referenceFile(input, c.tier, order, c.profile);
        expect(written(input, c.tier, order, c.profile, c.chunk).toString('utf8')).toBe(want);
        expect(written(input, c.tier, order, c.profile, c.chunk).equals(Buffer.from(want, 'utf8'))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('writes the same bytes from what the task-files worker is handed (its columns and plan as posted data)', () => {
    fc.assert(
      fc.property(tierCase, (c) => {
        expect(writtenOnWorker(c, false)).toBe(referenceFile(...referenceOf(c)));
      }),
      { numRuns: 150 },
    );
  });

  it("writes the same bytes from the tier's subscriber cells the task-files worker renders ahead", () => {
    fc.assert(
      fc.property(tierCase, (c) => {
        expect(writtenOnWorker(c, true)).toBe(referenceFile(...referenceOf(c)));
      }),
      { numRuns: 150 },
    );
  });

  it("writes the same bytes from the flagged subscribers' feature rows, which the worker is handed as they are", () => {
    fc.assert(
      fc.property(tierCase, (c) => {
        const { input, order } = planned(c);
        const scores = tierOnly(input, order);
        const features = flaggedFeatureTable({ ...input, scores });
        expect(features.rows).toBeDefined();
        const flagged = { ...input, scores, features };
        expect(written(flagged, c.tier, order, c.profile, c.chunk).toString('utf8')).toBe(referenceFile(...referenceOf(c)));
        // Not gathered again for the worker: its start holds the same arrays.
        const start = toWorkerStart({ dir: '', fileMode: 0o600, directWrites: false }, flagged);
        expect(start.featureRows).toBe(features.rows);
        for (const f of start.features) {
          const column = features.columns.get(f.key)!;
          expect(f.values).toBe('unit' in column ? column.values : column);
        }
      }),
      { numRuns: 100 },
    );
  });

  it("writes a file's own channel in each row's channel cell, the row's own or another", () => {
    fc.assert(
      fc.property(tierCase, fc.constantFrom('call', 'sms', 'visit', '＝call', 'a,b', '短信'), (c, channel) => {
        const { input, order, plan } = planned(c);
        const parts: Buffer[] = [];
        const w = new CsvBytesWriter((b) => parts.push(Buffer.from(b)), c.chunk);
        renderTaskFiles(renderInput(input), plan, [{ w, rows: null, channel }]);
        w.end();
        expect(Buffer.concat(parts).toString('utf8')).toBe(referenceFile(input, c.tier, order, c.profile, channel));
      }),
      { numRuns: 100 },
    );
  });

  // One test per pack: each runs long without a turn of the event loop, and Vitest's worker needs one within a minute.
  for (const [p, pack] of PACKS.entries()) {
    it(`writes the same bytes over many rows and their prefetched parts (pack ${p + 1} of ${PACKS.length})`, () => {
      const ruleCount = pack.rules.filter((r) => r.enabled).length;
      const subs = fc.sample(subscriberArb(ruleCount, reasonFeatures(pack).length), { numRuns: 500, seed: 42 + p });
      const input = taskInput(pack, parseDay('2026-11-23'), subs, true);
      // Many rows, in an order that jumps about.
      const order = Array.from({ length: 70_000 }, (_, k) => (k * 7919 + (k >> 3)) % subs.length);
      const profile = { mask: p === 1, dialerFullNumber: p !== 1 };
      expect(written(input, 'high', order, profile).equals(Buffer.from(referenceFile(input, 'high', order, profile), 'utf8'))).toBe(true);
    });
  }

  it('writes only the header for a tier without tasks', () => {
    const input = taskInput(PACKS[1]!, parseDay('2026-11-23'), [], true);
    for (const mask of [false, true]) {
      expect(written(input, 'mass', [], { mask, dialerFullNumber: true }).toString('utf8')).toBe(
        referenceFile(input, 'mass', [], { mask, dialerFullNumber: true }),
      );
    }
  });

  it('pads the rank in the task id to the width the tier needs, past a million tasks', () => {
    const sub: Subscriber = {
      id: 'S1',
      msisdn: '13800000000',
      name: '张',
      region: 'R',
      managerId: 'M',
      features: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20],
      flags: [true],
      anyRule: 0,
      value: 1,
      risk: 0.5,
      loss: 0.5,
      contact: undefined,
    };
    const input = taskInput(PACKS[0]!, parseDay('2026-11-23'), [sub], false);
    const order = new Array<number>(1_000_001).fill(0);
    const bytes = written(input, 'mid', order, { mask: false, dialerFullNumber: true });
    const text = bytes.toString('latin1'); // the ids and ranks are ASCII: one character a byte, no decoding
    let start = text.indexOf('\n') + 1;
    for (let k = 1; k <= order.length; k++) {
      const want = `CW-20261123-MID-${String(k).padStart(7, '0')},mid,${k},`;
      if (!text.startsWith(want, start)) expect(text.slice(start, start + want.length)).toBe(want);
      start = text.indexOf('\n', start) + 1;
    }
    expect(start).toBe(text.length); // no row after the last rank
  });

  it('stops on a phone number that is not digits, as the string check did', () => {
    const bad = [
      '',
      '1234',
      '+',
      '+1234',
      '++12345',
      '+-12345',
      '123456789012345678901',
      '+123456789012345678901',
      '12345 ',
      ' 12345',
      '12345\n',
      '１２３４５',
      '12a45',
      '12345+',
    ];
    const base: Subscriber = {
      id: 'S1',
      msisdn: '',
      name: 'n',
      region: 'r',
      managerId: 'm',
      features: new Array(20).fill(1),
      flags: [true],
      anyRule: 0,
      value: 1,
      risk: 0.5,
      loss: 0.5,
      contact: undefined,
    };
    for (const msisdn of bad) {
      const input = taskInput(
        PACKS[0]!,
        parseDay('2026-11-23'),
        [
          { ...base, id: 'ok', msisdn: '13800000000' },
          { ...base, msisdn },
        ],
        true,
      );
      let want: unknown, got: unknown;
      try {
        referenceFile(input, 'high', [0, 1], { mask: true, dialerFullNumber: false });
      } catch (e) {
        want = e;
      }
      try {
        written(input, 'high', [0, 1], { mask: true, dialerFullNumber: false });
      } catch (e) {
        got = e;
      }
      expect(want).toBeInstanceOf(ChurnwatchError);
      expect(got).toBeInstanceOf(ChurnwatchError);
      expect((got as ChurnwatchError).code).toBe((want as ChurnwatchError).code);
      expect((got as ChurnwatchError).message).toBe((want as ChurnwatchError).message);
    }
  });
});

/** A ledger for tier `tier` of `rows` rows: made-up ids of TASK_ID_WIDTH characters, the states given (index into TASK_STATES). */
function withLedger(input: TaskInput, tier: string, states: number[]): TaskInput {
  const k = TIERS.indexOf(tier as (typeof TIERS)[number]);
  const ids = new TextEncoder().encode(states.map((_, r) => `CW20261123-${String(r).padStart(16, '0')}`).join(''));
  expect(ids.length).toBe(states.length * TASK_ID_WIDTH);
  const none = new Uint8Array(0);
  return {
    ...input,
    ledger: {
      taskIds: TIERS.map((_, t) => (t === k ? ids : none)),
      states: TIERS.map((_, t) => (t === k ? Uint8Array.from(states) : none)),
    },
  };
}

/** The full file and the delta file of one pass. */
function writtenWithDelta(input: TaskInput, tier: string, order: number[], profile: TaskProfile, chunk?: number): [Buffer, Buffer] {
  const full: Buffer[] = [],
    delta: Buffer[] = [];
  const w = new CsvBytesWriter((b) => full.push(Buffer.from(b)), chunk),
    d = new CsvBytesWriter((b) => delta.push(Buffer.from(b)), chunk);
  writeTaskFile(w, input, tier, order, profile, d);
  w.end();
  d.end();
  return [Buffer.concat(full), Buffer.concat(delta)];
}

/** A CSV file's records (a quoted cell may hold line ends), each with its line end. */
function records(file: Buffer): string[] {
  const text = file.toString('utf8');
  const out: string[] = [];
  let start = 0,
    quoted = false;
  for (let k = 0; k < text.length; k++) {
    if (text[k] === '"') quoted = !quoted;
    else if (text[k] === '\n' && !quoted) {
      out.push(text.slice(start, k + 1));
      start = k + 1;
    }
  }
  expect(start).toBe(text.length);
  return out;
}

/** The delta file a full file implies: its header, and its rows of new and escalated tasks as they are there (rank and id included). */
function deltaOf(full: Buffer, states: number[]): string {
  const [header, ...rows] = records(full);
  return header + rows.filter((_, r) => TASK_STATES[states[r]!] === 'new' || TASK_STATES[states[r]!] === 'escalated').join('');
}

describe('the delta file, written in the pass that writes the full file', () => {
  it("holds the full file's new and escalated rows as they are there (the tier rank kept), and leaves the full file as it was", () => {
    fc.assert(
      fc.property(tierCase, fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 40, maxLength: 40 }), (c, stateSeed) => {
        const order = c.orderSeed.length > 0 ? c.orderSeed.map((x) => x % c.subs.length) : c.subs.map((_, i) => i);
        const states = order.map((_, r) => stateSeed[r % stateSeed.length]!);
        const input = withLedger(taskInput(c.pack, c.D, c.subs, c.withContacts), c.tier, states);
        const [full, delta] = writtenWithDelta(input, c.tier, order, c.profile, c.chunk);
        expect(full.equals(written(input, c.tier, order, c.profile))).toBe(true);
        expect(delta.toString('utf8')).toBe(deltaOf(full, states));
      }),
      { numRuns: 150 },
    );
  });

  it('keeps the rows and ranks over many rows', () => {
    const pack = PACKS[0]!;
    const subs = fc.sample(subscriberArb(pack.rules.filter((r) => r.enabled).length, reasonFeatures(pack).length), {
      numRuns: 300,
      seed: 7,
    });
    const order = Array.from({ length: 140_000 }, (_, k) => (k * 7919 + (k >> 3)) % subs.length);
    const states = order.map((_, r) => (r % 3 === 0 || r % 7 === 0 ? 1 : r % 5 === 0 ? 2 : 0));
    const input = withLedger(taskInput(pack, parseDay('2026-11-23'), subs, true), 'mass', states);
    const profile = { mask: false, dialerFullNumber: true };
    const [full, delta] = writtenWithDelta(input, 'mass', order, profile);
    expect(delta.toString('utf8')).toBe(deltaOf(full, states));
  });
});

const bits = new DataView(new ArrayBuffer(8));
/** The next double above / below v (finite, not ±0 crossing): one step in the last place. */
function nextUp(v: number): number {
  if (v === 0) return Number.MIN_VALUE;
  bits.setFloat64(0, v);
  bits.setBigInt64(0, bits.getBigInt64(0) + (v > 0 ? 1n : -1n));
  return bits.getFloat64(0);
}
function nextDown(v: number): number {
  return -nextUp(-v);
}

describe('the byte forms the writer uses', () => {
  it('copies bytes through views as a loop over them does, at any offsets, into views of larger buffers too', () => {
    const copy = fc.record({
      src: fc.uint8Array({ minLength: 1, maxLength: 80 }),
      from: fc.nat(),
      length: fc.nat({ max: 80 }),
      srcOffset: fc.nat({ max: 7 }),
      dstOffset: fc.nat({ max: 7 }),
      at: fc.nat({ max: 40 }),
    });
    fc.assert(
      fc.property(copy, ({ src: bytes, from, length, srcOffset, dstOffset, at }) => {
        // Views that do not start their buffers, as a subarray's.
        const src = new Uint8Array(srcOffset + bytes.length).subarray(srcOffset);
        src.set(bytes);
        const s = from % src.length,
          e = Math.min(src.length, s + length);
        const dst = new Uint8Array(dstOffset + 128).subarray(dstOffset).fill(0xaa);
        const expected = dst.slice();
        for (let k = s; k < e; k++) expected[at + k - s] = src[k]!;
        expect(copyBytes(dst, viewOf(dst), at, src, viewOf(src), s, e)).toBe(at + e - s);
        expect(dst).toEqual(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('tells phone numbers as PHONE does', () => {
    const candidate = fc.oneof(
      phone,
      fc.string({ unit: fc.constantFrom('+', '1', '0', '9', ' ', 'a', '\n', '１', '٣'), maxLength: 24 }),
      fc
        .tuple(
          fc.constantFrom('', '+', '++', '-'),
          fc.integer({ min: 0, max: 23 }).chain((n) => digits(n, n)),
        )
        .map(([a, b]) => a + b),
    );
    fc.assert(
      fc.property(candidate, (s) => {
        const b = Buffer.from(s, 'utf8');
        expect(isPhoneBytes(b, 0, b.length)).toBe(PHONE.test(s));
      }),
      { numRuns: 2000 },
    );
  });

  it('gives the digits toFixed gives, near ties too', () => {
    // Halfway cases and their neighbours, where a product in doubles could round the wrong way.
    const nearTie = fc
      .tuple(fc.integer({ min: -3_000_000_000, max: 3_000_000_000 }), fc.constantFrom(2, 4), fc.integer({ min: -3, max: 3 }))
      .map(([k, digits, ulps]) => {
        let v = (k + 0.5) / 10 ** digits;
        for (let u = 0; u < Math.abs(ulps); u++) v = ulps > 0 ? nextUp(v) : nextDown(v);
        return v;
      });
    fc.assert(
      fc.property(fc.oneof(number, nearTie, fc.double({ min: -1e7, max: 1e7 })), fc.constantFrom(2, 4), (v, digits) => {
        const out = new Uint8Array(32);
        const end = putFixed(out, 0, v, digits as 2 | 4);
        expect(Buffer.from(out.subarray(0, end)).toString('latin1')).toBe(v.toFixed(digits));
      }),
      { numRuns: 20_000 },
    );
  });

  it('formats numbers as formatNumber does', () => {
    // Decimals of every size (round to a hundredth or a tenth, or near a half of one), up to and past where doubles get sparse.
    const decimal = fc
      .tuple(
        fc.integer({ min: -9, max: 9 }),
        fc.integer({ min: 0, max: 17 }),
        fc.integer({ min: 0, max: 999 }),
        fc.constantFrom(0, 0.5, 0.05),
      )
      .map(([m, e, k, half]) => (m + k / 1000) * 10 ** e + half);
    const sparse = fc.integer({ min: -3, max: 3 }).map((k) => 2 ** 46 + k * 2 ** -6);
    fc.assert(
      fc.property(
        fc.oneof(number, decimal, sparse),
        fc.constantFrom('money', 'count', 'day', 'number', 'bool'),
        fc.boolean(),
        (v, unit, isPercent) => {
          const out = new Uint8Array(100);
          out[0] = 0x78;
          const end = putFormattedNumber(out, 1, v, unit, isPercent);
          expect(Buffer.from(out.subarray(0, end)).toString('utf8')).toBe(`x${formatNumber(v, unit, isPercent)}`);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
