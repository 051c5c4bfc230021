/**
 * Three nights in a row, as a new user runs them (the README's walk-through):
 * `generate --worked OUTDIR` writes each night's extracts (the same base, its facts
 * moved on by a day) and a contact history to which a simulated call centre has
 * written back what happened on the earlier nights' tasks (a row per task worked,
 * with its task_id), and the night reads it. The write-back itself:
 * - the history only grows: each night's file starts with the last night's;
 * - a night's rows name only that night's tasks, each once, with its subscriber, its
 *   file's channel, a time inside the callable window and not after its deadline,
 *   and every outcome occurs, as do tasks nobody worked.
 * Every night, in every output profile:
 * - every flagged subscriber is accounted for once (task, suppressed, held out or
 *   over capacity), and summary.json's identity holds;
 * - nobody gets a second task for the same episode: ids stay while the episode lasts,
 *   states are new/open/escalated as the ledger says, an episode a contact closed is
 *   never called again under its id;
 * - nobody is called against a policy (do-not-call in any written form, closed
 *   lines, the holdout, cooldown by outcome, win-back only after churn, one task per
 *   number);
 * - the files parse in their profile's layout (the xlsx read back with exceljs, the
 *   JSON parsed, every part within the row limit), and every profile carries the same
 *   task ids as the plain files, its delta the same new and escalated tasks.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMonths } from '../../src/tasks/policy.js';
import { parseDay } from '../../src/util/dates.js';
import { toE164 } from '../../src/util/phone.js';
import { cli } from '../helpers/cli.js';
import { cleanup, runCli, tierTasks, type Row, type RunOutcome } from '../helpers/world.js';

const NIGHTS = ['2026-11-21', '2026-11-22', '2026-11-23'];
const TIERS = ['high', 'mid', 'mass'];
const ROWS_PER_FILE = 40;
const PROFILES = ['plain', 'excel-csv', 'jsonl', 'genesys', 'huawei-cec', 'alibaba-ccc'] as const;
type Profile = (typeof PROFILES)[number];

const work = mkdtempSync(join(tmpdir(), 'cw-three-nights-'));
afterAll(() => cleanup(work));

const csv = (text: string | Buffer) => parse(text, { columns: true, bom: true }) as Row[];
const readCsv = (dir: string, f: string) => csv(readFileSync(join(dir, f)));

interface Night {
  run: RunOutcome;
  /** The contact history the night read, as text and as rows. */
  historyText: string;
  history: Row[];
  /** Plain tasks, each once, by subscriber. */
  tasks: Map<string, Row>;
  suppressed: Row[];
  holdout: Row[];
  overflow: Row[];
  ledger: Row[];
}

const nights: Night[] = [];
/** Per profile, per night: the published folder. */
const published: Record<Profile, string[]> = Object.fromEntries(PROFILES.map((p) => [p, []])) as unknown as Record<Profile, string[]>;

beforeAll(async () => {
  const worked = join(work, 'plain', 'out');
  for (const night of NIGHTS) {
    const input = join(work, 'in', night);
    const g = await cli(['generate', '--subscribers', '3000', '--seed', '11', '--out', input, '--as-of', night, '--worked', worked]);
    expect([g.code, g.err]).toEqual([0, '']);
    const historyText = readFileSync(join(input, 'contact_history.csv'), 'utf8');
    for (const profile of PROFILES) {
      const dir = join(work, profile);
      mkdirSync(dir, { recursive: true });
      const config = join(dir, 'run.yaml');
      writeFileSync(config, `output:\n  profile: ${profile}\n  locale: zh-CN\n  max_rows_per_file: ${ROWS_PER_FILE}\n`);
      const r = await runCli(input, night, ['--config', config], join(dir, 'out'));
      expect([profile, night, r.code, r.stderr]).toEqual([profile, night, 0, '']);
      published[profile].push(r.published);
      if (profile !== 'plain') continue;
      const tasks = new Map(TIERS.flatMap((t) => tierTasks(r.published, t)).map((t) => [t.subscriber_id!, t]));
      nights.push({
        run: r,
        historyText,
        history: csv(historyText),
        tasks,
        suppressed: readCsv(r.published, 'suppressed.csv'),
        holdout: readCsv(r.published, 'holdout.csv'),
        overflow: readCsv(r.published, 'overflow.csv'),
        ledger: readCsv(r.published, 'ledger.csv'),
      });
    }
  }
}, 600_000);

/** The rows the call centre wrote back for night k's tasks (k before the last night), as the next night's history holds them. */
const writtenBack = (k: number): Row[] => nights[k + 1]!.history.filter((c) => c.contacted_at!.startsWith(NIGHTS[k]!));

/** The outcomes written back for night k's tasks, by task id (a task nobody worked is not there). */
const outcomesOf = (k: number) => new Map(writtenBack(k).map((c) => [c.task_id!, c.outcome!]));

const flaggedIn = (run: RunOutcome) =>
  new Set(
    [...run.scores.values()]
      .filter((s) =>
        Object.entries(s).some(([k, v]) => !['subscriber_id', 'value', 'tier', 'risk_score', 'expected_loss'].includes(k) && v === '1'),
      )
      .map((s) => s.subscriber_id!),
  );

describe('three nights on generated extracts, the call centre writing outcomes back', () => {
  it('has tasks, suppressions, a holdout and earlier outcomes to work with on every night', () => {
    expect(nights).toHaveLength(3);
    for (const n of nights) {
      expect(n.tasks.size).toBeGreaterThan(50);
      expect(n.holdout.length).toBeGreaterThan(0);
      expect(n.suppressed.length).toBeGreaterThan(0);
    }
    // By the last night the write-backs have taken effect.
    const codes = new Set(nights[2]!.suppressed.map((s) => s.code));
    for (const c of ['do_not_call', 'retained_follow_up_later', 'cooldown']) expect(codes, c).toContain(c);
  });

  it('writes back one row per worked task of the night before, on its day, inside its window and by its deadline, the history only growing', () => {
    for (let k = 0; k + 1 < nights.length; k++) {
      const [n, next] = [nights[k]!, nights[k + 1]!];
      expect(next.historyText.startsWith(n.historyText)).toBe(true);
      const rows = writtenBack(k);
      // Everything the next night's history adds is this night's write-back.
      expect(csv(n.historyText.split('\n')[0] + '\n' + next.historyText.slice(n.historyText.length))).toEqual(rows);
      const byId = new Map([...n.tasks.values()].map((t) => [t.task_id!, t]));
      expect(new Set(rows.map((c) => c.task_id)).size).toBe(rows.length);
      for (const c of rows) {
        const t = byId.get(c.task_id!);
        const why = `${NIGHTS[k]} ${c.task_id}`;
        expect(t, why).toBeDefined();
        expect([c.subscriber_id, c.channel], why).toEqual([t!.subscriber_id, t!.channel === 'visit' ? 'visit' : 'phone']);
        const time = c.contacted_at!.slice(11);
        expect(time >= '09:00:00' && time < '21:00:00', why).toBe(true);
        if (t!.due_at!.startsWith(NIGHTS[k]!)) expect(time <= `${t!.due_at!.slice(11, 16)}:00`, why).toBe(true);
      }
      expect(new Set(rows.map((c) => c.outcome))).toEqual(new Set(['retained', 'declined', 'unreachable', 'callback', 'churned']));
      expect(rows.length).toBeLessThan(n.tasks.size); // some tasks nobody worked
    }
  });

  it("writes back the same from the nights of every other profile (split in parts; Alibaba's cases by the ledger) as from the plain ones", async () => {
    const last = NIGHTS[NIGHTS.length - 1]!;
    for (const profile of PROFILES.filter((p) => p !== 'plain')) {
      const input = join(work, 'in-from', profile);
      const g = await cli([
        'generate',
        '--subscribers',
        '3000',
        '--seed',
        '11',
        '--out',
        input,
        '--as-of',
        last,
        '--worked',
        join(work, profile, 'out'),
      ]);
      expect([g.code, g.err]).toEqual([0, '']);
      expect([profile, readFileSync(join(input, 'contact_history.csv'), 'utf8')]).toEqual([
        profile,
        nights[nights.length - 1]!.historyText,
      ]);
    }
  });

  it('accounts for every flagged subscriber exactly once, and summary.json says so', () => {
    for (const n of nights) {
      const lists = [
        [...n.tasks.keys()],
        n.suppressed.map((s) => s.subscriber_id!),
        n.holdout.map((s) => s.subscriber_id!),
        n.overflow.map((s) => s.subscriber_id!),
      ];
      const all = lists.flat();
      expect(new Set(all).size).toBe(all.length); // in one place only
      const flagged = flaggedIn(n.run);
      expect(new Set(all)).toEqual(flagged);
      const p = n.run.summary.policy;
      expect([p.tasks, p.suppressed, p.held_out, p.over_capacity]).toEqual(lists.map((l) => l.length));
      expect(p.tasks + p.suppressed + p.held_out + p.over_capacity).toBe(n.run.summary.flagged);
      expect(n.run.summary.flagged).toBe(flagged.size);
    }
  });

  it('gives one task per subscriber and per phone number, never to a number on do_not_call.csv (in any written form) or a closed line', () => {
    for (const [k, n] of nights.entries()) {
      const input = join(work, 'in', NIGHTS[k]!);
      const dnc = new Set(readCsv(input, 'do_not_call.csv').map((r) => toE164(r.msisdn!.replace(/[\s-]/g, ''), '86')));
      const closed = new Set(
        readCsv(input, 'subscribers.csv')
          .filter((s) => s.status === 'closed')
          .map((s) => s.subscriber_id!),
      );
      const ids = [...n.tasks.values()].map((t) => t.task_id);
      expect(new Set(ids).size).toBe(ids.length);
      const phones = [...n.tasks.values()].map((t) => toE164(t.msisdn!, '86'));
      expect(new Set(phones).size).toBe(phones.length);
      for (const t of n.tasks.values()) {
        expect(dnc.has(toE164(t.msisdn!, '86')), t.subscriber_id).toBe(false);
        expect(closed.has(t.subscriber_id!), t.subscriber_id).toBe(false);
      }
      expect(dnc.size).toBeGreaterThan(0);
    }
  });

  it('keeps the holdout: held-out subscribers get no task, and stay held out the next night while flagged', () => {
    for (let k = 1; k < nights.length; k++) {
      const before = new Set(nights[k - 1]!.holdout.map((s) => s.subscriber_id!));
      const now = new Set(nights[k]!.holdout.map((s) => s.subscriber_id!));
      const flagged = flaggedIn(nights[k]!.run);
      for (const id of before) if (flagged.has(id)) expect(now.has(id), id).toBe(true);
      for (const id of now) expect(nights[k]!.tasks.has(id)).toBe(false);
    }
  });

  it('calls nobody against the contact policy: cooldown by outcome, win-back only after churn, retry and callback as their outcomes say', () => {
    let checked = 0;
    for (const [k, n] of nights.entries()) {
      const D = parseDay(NIGHTS[k]!);
      const last = new Map<string, { day: number; outcome: string }>();
      for (const c of n.history) {
        const day = parseDay(c.contacted_at!.slice(0, 10));
        if (day >= D) continue;
        const prev = last.get(c.subscriber_id!);
        if (prev === undefined || day >= prev.day) last.set(c.subscriber_id!, { day, outcome: c.outcome! });
      }
      for (const t of n.tasks.values()) {
        const c = last.get(t.subscriber_id!);
        if (c === undefined) {
          expect(t.step).toBe('retention');
          continue;
        }
        checked++;
        const since = D - c.day;
        const why = `${NIGHTS[k]} ${t.subscriber_id} after ${c.outcome} ${since} days ago`;
        switch (c.outcome) {
          case 'declined':
            expect(since, why).toBeGreaterThanOrEqual(30);
            break;
          case 'churned':
            expect([since >= 14, t.step], why).toEqual([true, 'win_back']);
            break;
          case 'retained':
            expect(D >= addMonths(c.day, 2), why).toBe(true);
            expect(t.step, why).toBe(D <= addMonths(c.day, 4) ? 'follow_up' : 'retention');
            break;
          case 'unreachable':
            expect(t.step, why).toBe('retry');
            break;
          case 'callback':
            expect(t.step, why).toBe('callback');
            break;
          default:
            expect(since, why).toBeGreaterThanOrEqual(14);
        }
        expect(t.last_outcome, why).toBe(c.outcome);
      }
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('keeps one id per episode night after night and closes an episode when its contact outcome comes back', () => {
    const seen = new Map<string, string>(); // task id → subscriber
    for (const [k, n] of nights.entries()) {
      const ledger = new Map(n.ledger.map((r) => [r.task_id!, r]));
      for (const t of n.tasks.values()) {
        const owner = seen.get(t.task_id!);
        if (owner !== undefined) expect(owner).toBe(t.subscriber_id); // an id is never another subscriber's
        seen.set(t.task_id!, t.subscriber_id!);
        expect(ledger.get(t.task_id!)?.state).toBe(t.state);
        expect(t.task_id).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
      }
      if (k === 0) {
        for (const t of n.tasks.values()) expect(t.state).toBe('new');
        continue;
      }
      const before = nights[k - 1]!;
      const openBefore = new Map(before.ledger.filter((r) => r.state !== 'closed').map((r) => [r.subscriber_id!, r]));
      for (const t of n.tasks.values()) {
        const episode = openBefore.get(t.subscriber_id!);
        if (t.state === 'open' || t.state === 'escalated') expect(episode?.task_id, t.subscriber_id).toBe(t.task_id);
        // A new task while an episode was open only when tonight closed that episode.
        if (t.state === 'new' && episode !== undefined) expect(ledger.get(episode.task_id!)?.state).toBe('closed');
      }
      // Yesterday's tasks whose outcome ended the episode: closed by it, and nobody is called again under that id tonight.
      let closedByContact = 0;
      const written = outcomesOf(k - 1);
      for (const t of before.tasks.values()) {
        const o = written.get(t.task_id!);
        const row = ledger.get(t.task_id!)!;
        if (o === 'retained' || o === 'declined' || o === 'churned') {
          expect([row.state, row.closed_by]).toEqual(['closed', `contact:${o}`]);
          expect(n.tasks.get(t.subscriber_id!)?.task_id).not.toBe(t.task_id);
          closedByContact++;
        }
        const now = n.tasks.get(t.subscriber_id!);
        if ((o === 'unreachable' || o === 'callback') && now !== undefined) {
          expect([now.task_id, now.step]).toEqual([t.task_id, o === 'unreachable' ? 'retry' : 'callback']);
        }
      }
      expect(closedByContact).toBeGreaterThan(0);
      const outcomes = n.run.summary.earlier_task_outcomes as Record<string, Record<string, { contacted: number }>>;
      const contacted = Object.values(outcomes).flatMap((perTier) => Object.values(perTier).map((x) => x.contacted));
      expect(contacted.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    }
  });

  it('carries the same tasks in every profile, the deltas only the new and escalated ones, every file parsing in its layout within the row limit', async () => {
    for (const [k, n] of nights.entries()) {
      const want = new Set<string>();
      const wantDelta = new Set<string>();
      for (const t of TIERS) {
        for (const row of plainRows(published.plain[k]!, t, '')) want.add(`${t}/${row.channel}/${row.task_id}`);
        for (const row of plainRows(published.plain[k]!, t, '-delta')) wantDelta.add(`${t}/${row.channel}/${row.task_id}`);
      }
      const fresh = [...n.tasks.values()].filter((t) => t.state === 'new' || t.state === 'escalated');
      expect(new Set([...wantDelta].map((x) => x.split('/')[2]))).toEqual(new Set(fresh.map((t) => t.task_id)));
      // The row limit really split files: the mass tier has more tasks than one part holds.
      expect(readdirSync(published.genesys[k]!)).toContain('tasks-mass-call-002.csv');
      for (const profile of PROFILES) {
        const got = await profileRows(profile, published[profile][k]!);
        expect([profile, NIGHTS[k], sorted(got.full)]).toEqual([profile, NIGHTS[k], sorted(want)]);
        expect([profile, NIGHTS[k], sorted(got.delta)]).toEqual([profile, NIGHTS[k], sorted(wantDelta)]);
      }
    }
  });

  it('gives a delta row the same cells as its row in the full file, the tier rank included, in plain and excel-csv alike', () => {
    for (const k of NIGHTS.keys()) {
      for (const profile of ['plain', 'excel-csv'] as const) {
        const dir = published[profile][k]!;
        for (const t of TIERS) {
          for (const c of ['call', 'sms', 'visit']) {
            // excel-csv splits at the row limit: every part, in order.
            const parts = (stem: string) =>
              readdirSync(dir)
                .filter((f) => f === `${stem}.csv` || new RegExp(`^${stem}-\\d{3}\\.csv$`).test(f))
                .sort()
                .flatMap((f) => readCsv(dir, f));
            const full = new Map(parts(`tasks-${t}-${c}`).map((r) => [r.task_id!, r]));
            const delta = parts(`tasks-${t}-${c}-delta`);
            for (const row of delta) expect([profile, NIGHTS[k], row]).toEqual([profile, NIGHTS[k], full.get(row.task_id!)]);
            // Sorted by rank, as a team would read it, the delta keeps the full file's order.
            const ranks = delta.map((r) => Number(r.rank));
            expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
          }
        }
      }
    }
  });
});

const sorted = (s: Iterable<string>) => [...s].sort();

/** A plain tier's rows across its channel files, each with its file's channel. */
function plainRows(dir: string, tier: string, suffix: string): Row[] {
  return ['call', 'sms', 'visit'].flatMap((c) => readCsv(dir, `tasks-${tier}-${c}${suffix}.csv`).map((r) => ({ ...r, channel: c })));
}

const FILE = /^tasks-(high|mid|mass)-(call|sms|visit)(-delta)?(?:-(\d{3}))?\.(csv|jsonl|json|xlsx)$/;

/**
 * A profile's task files read in their layout: "tier/channel/task id" of every row,
 * full and delta apart. Checks each file parses, each part's rows stay within the
 * row limit, and the tool's own forms (E.164 for Genesys, the called array for
 * Huawei CEC, custom variables as text for Alibaba CCC).
 */
async function profileRows(profile: Profile, dir: string): Promise<{ full: Set<string>; delta: Set<string> }> {
  const full = new Set<string>(),
    delta = new Set<string>();
  const files = readdirSync(dir).filter((f) => f.startsWith('tasks-'));
  expect(files.length).toBeGreaterThanOrEqual(18);
  for (const f of files) {
    const m = FILE.exec(f);
    expect(m, f).not.toBeNull();
    const [, tier, channel, isDelta, part] = m!;
    // Numbered parts wherever there is a row limit: every profile but plain (jsonl's comes from max_rows_per_file).
    if (profile === 'plain') expect(part, f).toBeUndefined();
    else expect(part, f).toMatch(/^\d{3}$/);
    const ids = await idsIn(profile, join(dir, f));
    if (profile !== 'plain') expect(ids.length, f).toBeLessThanOrEqual(ROWS_PER_FILE);
    for (const id of ids) (isDelta ? delta : full).add(`${tier}/${channel}/${id}`);
  }
  return { full, delta };
}

async function idsIn(profile: Profile, file: string): Promise<string[]> {
  const text = () => readFileSync(file, 'utf8');
  switch (profile) {
    case 'plain':
      return csv(text()).map((r) => r.task_id!);
    case 'excel-csv':
      expect(
        readFileSync(file)
          .subarray(0, 3)
          .equals(Buffer.from([0xef, 0xbb, 0xbf])),
      ).toBe(true);
      return csv(text()).map((r) => r.task_id!);
    case 'jsonl':
      return text()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => (JSON.parse(l) as { task_id: string }).task_id);
    case 'genesys':
      return csv(text()).map((r) => {
        expect(r.phone === '' || /^\+861\d{10}$/.test(r.phone!), r.phone).toBe(true);
        expect(r.time_zone).toBe('Asia/Shanghai');
        return r.contact_id!;
      });
    case 'huawei-cec': {
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.load(readFileSync(file) as unknown as ArrayBuffer);
      const ws = wb.worksheets[0]!;
      const rows: string[] = [];
      ws.eachRow((row, r) => {
        const cells = [1, 2, 3, 4, 5].map((c) => String(row.getCell(c).value ?? ''));
        if (r === 1) {
          expect(cells).toEqual(['sessionId', 'called', 'callData', 'customField', 'recycleTime']);
          return;
        }
        expect(JSON.parse(cells[1]!)).toEqual([{ calledNo: expect.stringMatching(/^1\d{10}$/) }]);
        expect(cells[2]!.length).toBeLessThanOrEqual(1024);
        JSON.parse(cells[2]!);
        rows.push(cells[0]!);
      });
      return rows;
    }
    case 'alibaba-ccc':
      return (JSON.parse(text()) as { ReferenceId: string; CustomVariables: string }[]).map((c) => {
        expect(Object.keys(JSON.parse(c.CustomVariables)).length).toBeLessThanOrEqual(10);
        return c.ReferenceId;
      });
  }
}
