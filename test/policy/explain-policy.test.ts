/**
 * explain shows the policy outcome the published files show: the task's id, state
 * and type, the suppression code, the holdout, or the full queue and rank, for a
 * second night that continues the first night's ledger.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { packWithPolicy } from './pack-text.js';
import { main } from '../../src/cli/main.js';
import { cleanup, runCli, tierTasks, type Row } from '../helpers/world.js';

const work = mkdtempSync(join(tmpdir(), 'cw-explain-policy-'));
afterAll(() => cleanup(work));
const out = join(work, 'out');
const rules = join(work, 'pack.yaml');
writeFileSync(rules, packWithPolicy('policy:\n  holdout: { share: 0.1, key: "t" }\n  capacity: { mass: 12 }\n'));
const INPUT = 'fixtures/golden/input';
const D = '2026-11-23';

async function explainJson(id: string): Promise<Record<string, unknown>> {
  let text = '';
  const code = await main(['explain', '--input', INPUT, '--as-of', D, '--rules', rules, '--out', out, '--subscriber', id, '--json'], {
    out: (s) => {
      text += s;
    },
    err: () => {},
  });
  expect(code).toBe(0);
  return JSON.parse(text).policy;
}

describe('explain and the published policy files', () => {
  it('agree for every flagged subscriber', async () => {
    expect((await runCli(INPUT, '2026-11-22', ['--rules', rules], out)).code).toBe(0);
    const r = await runCli(INPUT, D, ['--rules', rules], out);
    expect(r.code).toBe(0);
    const read = (f: string) => parse(readFileSync(join(r.published, f)), { columns: true }) as Row[];
    const want = new Map<string, Record<string, unknown>>();
    for (const t of ['high', 'mid', 'mass'].flatMap((tier) => tierTasks(r.published, tier))) {
      want.set(t.subscriber_id!, { outcome: 'task', task_id: t.task_id, state: t.state, task_type: t.step });
    }
    for (const s of read('suppressed.csv')) want.set(s.subscriber_id!, { outcome: 'suppressed', code: s.code });
    for (const s of read('holdout.csv')) want.set(s.subscriber_id!, { outcome: 'held_out' });
    for (const s of read('overflow.csv')) want.set(s.subscriber_id!, { outcome: 'over_capacity', queue: s.queue, rank: Number(s.rank) });
    expect(want.size).toBe(r.summary.flagged);
    const outcomes = new Set([...want.values()].map((w) => w.outcome));
    expect([...outcomes].sort()).toEqual(['held_out', 'over_capacity', 'suppressed', 'task']);
    expect([...want.values()].some((w) => w.state === 'open')).toBe(true);
    for (const [id, w] of want) expect([id, await explainJson(id)]).toEqual([id, w]);
    const unflagged = [...r.scores.values()].find((s) => !want.has(s.subscriber_id!))!;
    expect(await explainJson(unflagged.subscriber_id!)).toEqual({ outcome: 'not_flagged' });
  }, 120_000);
});
