/**
 * `generate --worked OUTDIR`: the simulated call centre's write-back, on published
 * nights made by hand (a few tasks each, in the plain and jsonl layouts), so every
 * case is in view: channels, deadlines, windows, nights that do not count, and the
 * errors. test/policy/three-nights.test.ts runs it on real nights.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKED_OUTCOMES, WRITE_BACK_COLUMNS, workedContact } from '../../src/generate/worked.js';
import { PROFILE_LAYOUTS } from '../../src/output/profiles.js';
import { parseDay } from '../../src/util/dates.js';
import { cli } from '../helpers/cli.js';

type Row = Record<string, string>;

const work = mkdtempSync(join(tmpdir(), 'cw-worked-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const D = '2026-11-23';
const generate = (out: string, asOf: string, extra: string[] = []) =>
  cli(['generate', '--subscribers', '200', '--seed', '5', '--out', join(work, out), '--as-of', asOf, ...extra]);
const read = (dir: string, f: string) => readFileSync(join(work, dir, f));
const rows = (text: string | Buffer) => parse(text, { columns: true }) as Row[];

/** A published night folder: a manifest and the given files. */
function night(out: string, day: string, files: Record<string, string>, manifest = true): void {
  const dir = join(work, out, day);
  mkdirSync(dir, { recursive: true });
  if (manifest) writeFileSync(join(dir, 'manifest.json'), '{}\n');
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
}

const PLAIN = 'task_id,tier,rank,subscriber_id,reason_text,channel,due_at\n';
let ids: string[] = [];
/** The history a default set has as of the first worked night: the write-back follows it. */
let historyAsOfFirstNight = '';

beforeAll(async () => {
  expect((await generate('plain', D)).code).toBe(0);
  expect((await generate('first', '2026-11-21')).code).toBe(0);
  ids = rows(read('plain', 'subscribers.csv')).map((r) => r.subscriber_id!);
  historyAsOfFirstNight = read('first', 'contact_history.csv').toString();
  const s = (k: number) => ids[k]!;
  night('out', '2026-11-21', {
    'tasks-high-call.csv': `${PLAIN}A1,high,1,${s(0)},"bill 1, then 2; ""drop""\nand more",call,2026-11-23T09:00+08:00\nA2,high,2,${s(1)},x,call,2026-11-21T14:00+08:00\n`,
    'tasks-high-visit.csv': `${PLAIN}A5,high,3,${s(4)},x,visit,2026-11-22T09:00+08:00\n`,
    // A mass task is an SMS and a call; a low-balance one can be an SMS alone.
    'tasks-mass-sms.csv': `${PLAIN}A3,mass,1,${s(2)},x,sms,2026-11-21T14:00+08:00\nA4,mass,2,${s(3)},x,sms,2026-11-21T14:00+08:00\n`,
    'tasks-mass-call.csv': `${PLAIN}A3,mass,1,${s(2)},x,call,2026-11-21T14:00+08:00\n`,
    // Deltas repeat rows of the full files.
    'tasks-high-call-delta.csv': `${PLAIN}A1,high,1,${s(0)},x,call,2026-11-23T09:00+08:00\n`,
  });
  // The next night in jsonl, split in parts, with its own callable hours: A1 carried, and many more tasks.
  const jsonl = ids.slice(5, 185).map((id, k) =>
    JSON.stringify({
      task_id: `B${k}`,
      subscriber_id: id,
      channel: 'call',
      due_at: '2026-11-24T09:00:00+08:00',
      callable_hours: '10:00-20:00',
    }),
  );
  night('out', '2026-11-22', {
    'tasks-mid-call-001.jsonl': `${JSON.stringify({ task_id: 'A1', subscriber_id: s(0), due_at: '2026-11-22T18:30:00+08:00', callable_hours: '10:00-20:00' })}\n${jsonl.slice(0, 90).join('\n')}\n`,
    'tasks-mid-call-002.jsonl': `${jsonl.slice(90).join('\n')}\n`,
  });
  // Not worked nights: one never published (no manifest), one on D itself, a folder of another kind.
  night('out', '2026-11-20', { 'tasks-high-call.csv': `${PLAIN}Z1,high,1,${s(9)},x,call,2026-11-20T14:00+08:00\n` }, false);
  night('out', D, { 'tasks-high-call.csv': `${PLAIN}Z2,high,1,${s(9)},x,call,${D}T14:00+08:00\n` });
  night('out', 'failed', {});
}, 60_000);

describe('generate --worked', () => {
  it('when earlier nights were published then the history as of the first of them gains a row per worked task, and nothing else changes', async () => {
    const g = await generate('worked', D, ['--worked', join(work, 'out')]);
    expect([g.code, g.err]).toEqual([0, '']);
    expect(g.out).toContain('worked nights\t2\t2026-11-21 2026-11-22\n');
    for (const f of readdirSync(join(work, 'plain')))
      if (f !== 'contact_history.csv') expect(read('worked', f).equals(read('plain', f)), f).toBe(true);
    const text = read('worked', 'contact_history.csv').toString();
    expect(text.startsWith(historyAsOfFirstNight)).toBe(true);
    const added = rows(historyAsOfFirstNight.split('\n')[0] + '\n' + text.slice(historyAsOfFirstNight.length));
    const first = added.filter((c) => c.contacted_at!.startsWith('2026-11-21'));
    const second = added.filter((c) => c.contacted_at!.startsWith('2026-11-22'));
    expect(first.length + second.length).toBe(added.length);
    // Night 1: each task once, with its subscriber and the channel an agent used (the call, not the SMS, for A3).
    const want: Record<string, [string, string]> = {
      A1: [ids[0]!, 'phone'],
      A2: [ids[1]!, 'phone'],
      A3: [ids[2]!, 'phone'],
      A4: [ids[3]!, 'sms'],
      A5: [ids[4]!, 'visit'],
    };
    expect(new Set(first.map((c) => c.task_id)).size).toBe(first.length);
    for (const c of first) {
      expect([c.subscriber_id, c.channel]).toEqual(want[c.task_id!]);
      const time = c.contacted_at!.slice(11);
      expect(time >= '09:00:00' && time < '21:00:00', c.task_id).toBe(true);
      // A2, A3 and A4 are due at 14:00 that day: worked by then.
      if (['A2', 'A3', 'A4'].includes(c.task_id!)) expect(time <= '14:00:00', c.task_id).toBe(true);
    }
    // Night 2: within its 10:00-20:00 hours; A1 again with a draw of its own; some tasks nobody worked.
    for (const c of second) {
      const time = c.contacted_at!.slice(11);
      expect(time >= '10:00:00' && time < (c.task_id === 'A1' ? '18:30:01' : '20:00:00'), c.task_id).toBe(true);
    }
    expect(second.length).toBeGreaterThan(90);
    expect(second.length).toBeLessThan(181);
    expect(new Set(second.map((c) => c.outcome))).toEqual(new Set(['retained', 'declined', 'unreachable', 'callback', 'churned']));
    expect(added.some((c) => c.task_id?.startsWith('Z'))).toBe(false);
    // Same command, same bytes.
    expect((await generate('again', D, ['--worked', join(work, 'out')])).code).toBe(0);
    expect(read('again', 'contact_history.csv').equals(read('worked', 'contact_history.csv'))).toBe(true);
  });

  it('when nothing was published yet (no folder) then every file is what generate writes without --worked', async () => {
    const g = await generate('none', D, ['--worked', join(work, 'not-yet')]);
    expect([g.code, g.err]).toEqual([0, '']);
    expect(g.out).toContain('worked nights\t0\n');
    for (const f of readdirSync(join(work, 'plain'))) expect(read('none', f).equals(read('plain', f)), f).toBe(true);
  });

  it('draws each outcome in its configured share, from the seed, the night and the task id only', () => {
    const counts = new Map<string | null, number>();
    const n = 20_000;
    const night = parseDay('2026-11-21');
    const task = (id: string) => ({
      taskId: id,
      subscriberId: '1',
      channel: 'phone',
      from: 9 * 3600,
      until: 21 * 3600,
      file: 'f',
      line: 2,
    });
    for (let k = 0; k < n; k++) {
      const { outcome, second } = workedContact('5', night, task(`CW20261121-${k}`));
      counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
      expect(second >= 9 * 3600 && second < 21 * 3600).toBe(true);
    }
    for (const [outcome, percent] of WORKED_OUTCOMES)
      expect(Math.abs((100 * counts.get(outcome)!) / n - percent), String(outcome)).toBeLessThan(1.5);
    expect(workedContact('5', night, task('X'))).toEqual(workedContact('5', night, task('X')));
    const other = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => workedContact(String(k), night, task('X')).second);
    expect(new Set(other).size).toBeGreaterThan(1);
  });

  it('when a night is not of this set or not readable then it exits with the file and line, no id, and writes nothing', async () => {
    const stranger = '0000000001';
    const cases: [string, Record<string, string>, number, string][] = [
      [
        'stranger',
        // Windows line ends, and a reason over two lines before the row: the line is still the row's.
        { 'tasks-high-call.csv': `${PLAIN}A1,high,1,${ids[0]},"a\r\nb",call,\r\nA2,high,2,${stranger},x,call,\r\n` },
        64,
        "2026-11-21/tasks-high-call.csv: line 4: the task's subscriber is not in this generated set",
      ],
      [
        'open-quote',
        { 'tasks-high-call.csv': `${PLAIN}A1,high,1,${ids[0]},"x,call,\n` },
        65,
        '2026-11-21/tasks-high-call.csv: line 2: a quoted cell is not closed',
      ],
      [
        'genesys',
        { 'tasks-high-call-001.csv': `contact_id,phone\nA1,+8613800000000\n` },
        65,
        "2026-11-21/tasks-high-call-001.csv: line 2: no subscriber_id, and the night's ledger.csv does not list the task",
      ],
      [
        'no-id',
        { 'tasks-high-call-001.csv': `phone,subscriber_id\n+8613800000000,${ids[0]}\n` },
        65,
        '2026-11-21/tasks-high-call-001.csv: line 2: no task id',
      ],
      [
        'alibaba',
        // Alibaba's cases carry no subscriber: A1's is in the ledger, so the broken second case is the error.
        {
          'ledger.csv': `task_id,subscriber_id\nA1,${ids[0]}\n`,
          'tasks-high-call-001.json': `[\n{"ReferenceId":"A1","PhoneNumber":"13800000000"},\n{"ReferenceId":"A2",\n]\n`,
        },
        65,
        '2026-11-21/tasks-high-call-001.json: line 3: not a JSON object',
      ],
      ['xlsx', { 'tasks-high-call-001.xlsx': 'PK' }, 65, '2026-11-21/tasks-high-call-001.xlsx: not a readable Excel workbook'],
      ['none', { 'tasks-high-call.txt': 'x' }, 65, '2026-11-21: no task files'],
    ];
    for (const [name, files, code, message] of cases) {
      night(name, '2026-11-21', files);
      const g = await generate(`${name}-in`, D, ['--worked', join(work, name)]);
      expect([name, g.code]).toEqual([name, code]);
      expect(g.err).toContain(message);
      expect(g.err).not.toContain(stranger);
      expect(() => readdirSync(join(work, `${name}-in`))).toThrow();
    }
  });

  it("finds the task id, the subscriber (or the ledger), the deadline and the window in every profile's layout", () => {
    const has = (names: readonly string[], found: string[]) => names.some((n) => found.includes(n));
    for (const [profile, layout] of Object.entries(PROFILE_LAYOUTS)) {
      // A layout without its own columns writes every record field under its own name.
      const cells = layout.columns?.flatMap((c) => [c.header, ...(c.form.startsWith('json') ? (c.fields ?? []) : [])]) ?? [
        'task_id',
        'subscriber_id',
        'due_at',
        'callable_hours',
      ];
      expect([profile, has(WRITE_BACK_COLUMNS.taskId, cells)]).toEqual([profile, true]);
      // Alibaba's cases carry no subscriber: the ledger gives it.
      expect([profile, has(WRITE_BACK_COLUMNS.subscriberId, cells) || profile === 'alibaba-ccc']).toEqual([profile, true]);
      expect([profile, has([...WRITE_BACK_COLUMNS.dueAt, ...WRITE_BACK_COLUMNS.windowEnd], cells)]).toEqual([profile, true]);
      const nested = layout.columns?.filter((c) => c.form.startsWith('json')).map((c) => c.header) ?? [];
      for (const holder of nested) expect(WRITE_BACK_COLUMNS.nested).toContain(holder);
      // The id column a tool upserts by is the task id.
      const idColumn = layout.columns?.find((c) => c.field === 'task_id' && c.form === 'as-is')?.header ?? 'task_id';
      expect(WRITE_BACK_COLUMNS.taskId).toContain(idColumn);
    }
  });
});
