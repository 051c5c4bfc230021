/**
 * The task ledger over several nights, through the CLI: ids stay the same for the
 * same episode on the same and on slightly changed extracts, contact outcomes come
 * back and close or continue episodes, the delta file holds new and escalated tasks,
 * and summary.json reports the outcomes of earlier tasks per rule and tier.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Publication } from '../../src/output/publish.js';
import { packWithPolicy } from './pack-text.js';
import { cleanup, runCli, tierTasks, World, type Row } from '../helpers/world.js';

const work = mkdtempSync(join(tmpdir(), 'cw-ledger-'));
afterAll(() => cleanup(work));
const out = join(work, 'out');
const rules = join(work, 'pack.yaml');
writeFileSync(rules, packWithPolicy('policy:\n  holdout: { share: 0 }\n'));

/** Night `asOf`: subscribers whose bill dropped (arpu_drop_mom), plus contacts as given. */
function night(asOf: string, dropped: string[], contacts: string[] = []): string {
  const w = new World(asOf);
  for (const id of dropped) w.sub(id, {}).bills(id, ['10.00', '50.00', '50.00', '50.00']);
  for (const k of [1, 2, 3]) for (const id of dropped) w.usage(id, w.day(k), { calls: '2' });
  const dir = w.write(mkdtempSync(join(work, `in-${asOf}-`)));
  writeFileSync(join(dir, 'contact_history.csv'), ['subscriber_id,contacted_at,channel,outcome,task_id', ...contacts].join('\n') + '\n');
  return dir;
}

const read = (asOf: string, file: string) => parse(readFileSync(join(out, asOf, file)), { columns: true }) as Row[];
const tasksOf = (asOf: string) => ['high', 'mid', 'mass'].flatMap((t) => tierTasks(join(out, asOf), t));
const byId = (rows: Row[]) => new Map(rows.map((r) => [r.subscriber_id!, r]));

describe('task ledger over three nights', () => {
  it('keeps ids for the same episode, closes and continues episodes as outcomes come back', async () => {
    const r1 = await runCli(night('2026-11-21', ['A', 'B', 'C']), '2026-11-21', ['--rules', rules], out);
    expect(r1.stderr).toBe('');
    const n1 = byId(tasksOf('2026-11-21'));
    expect([...n1.keys()].sort()).toEqual(['A', 'B', 'C']);
    for (const t of n1.values()) {
      expect(t.task_id).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
      expect(t.state).toBe('new');
    }
    expect(tierTasks(join(out, '2026-11-21'), 'mid', '-delta').length).toBe(3);

    // Night 2, slightly changed: C no longer flagged, D new. A rerun of night 2 reads the same ledger.
    const dir2 = night('2026-11-22', ['A', 'B', 'D']);
    await runCli(dir2, '2026-11-22', ['--rules', rules], out);
    const ledger2 = readFileSync(join(out, '2026-11-22', 'ledger.csv'), 'utf8');
    await runCli(dir2, '2026-11-22', ['--rules', rules, '--force'], out);
    expect(readFileSync(join(out, '2026-11-22', 'ledger.csv'), 'utf8')).toBe(ledger2);
    const n2 = byId(tasksOf('2026-11-22'));
    expect(n2.get('A')!.task_id).toBe(n1.get('A')!.task_id);
    expect(n2.get('B')!.task_id).toBe(n1.get('B')!.task_id);
    expect([n2.get('A')!.state, n2.get('D')!.state]).toEqual(['open', 'new']);
    expect(tierTasks(join(out, '2026-11-22'), 'mid', '-delta').map((r) => r.subscriber_id)).toEqual(['D']);
    const closed2 = read('2026-11-22', 'ledger.csv').filter((r) => r.state === 'closed');
    expect(closed2.map((r) => [r.subscriber_id, r.task_id, r.closed_by])).toEqual([['C', n1.get('C')!.task_id, 'not_flagged']]);

    // Night 3: A was retained and B unreachable on night 2's tasks.
    const contacts = [
      `A,2026-11-22 10:00,call,retained,${n2.get('A')!.task_id}`,
      `B,2026-11-22 11:00,call,unreachable,${n2.get('B')!.task_id}`,
    ];
    const r3 = await runCli(night('2026-11-23', ['A', 'B', 'D'], contacts), '2026-11-23', ['--rules', rules], out);
    const n3 = byId(tasksOf('2026-11-23'));
    expect(n3.has('A')).toBe(false);
    expect(read('2026-11-23', 'suppressed.csv').map((r) => [r.subscriber_id, r.code])).toEqual([['A', 'retained_follow_up_later']]);
    expect([n3.get('B')!.task_id, n3.get('B')!.step, n3.get('B')!.state]).toEqual([n1.get('B')!.task_id, 'retry', 'open']);
    expect(n3.get('B')!.due_at).toBe('2026-11-23T18:30+08:00');
    const ledger3 = byId(read('2026-11-23', 'ledger.csv'));
    expect([ledger3.get('A')!.state, ledger3.get('A')!.closed_by]).toEqual(['closed', 'contact:retained']);
    expect(ledger3.get('B')!.attempts).toBe('1');
    expect(r3.summary.earlier_task_outcomes.arpu_drop_mom.mid).toMatchObject({
      contacted: 2,
      retained: 1,
      unreachable: 1,
      declined: 0,
      churned: 0,
    });
    const p = r3.summary.policy;
    expect(p.tasks + p.suppressed + p.held_out + p.over_capacity).toBe(r3.summary.flagged);
  });

  it("writes a delta that holds every row of its full file as a copy of its pieces, and lists it with the full file's hash", async () => {
    const out2 = join(work, 'out-copy');
    const copy = vi.spyOn(Publication.prototype, 'open');
    try {
      const copied = async (asOf: string, dropped: string[]) => {
        copy.mockClear();
        await runCli(night(asOf, dropped), asOf, ['--rules', rules], out2);
        return copy.mock.calls.flatMap(([, name]) => (name === undefined ? [] : [name])).sort();
      };
      const all = ['high', 'mid', 'mass'].flatMap((t) => ['call', 'sms', 'visit'].map((c) => `tasks-${t}-${c}-delta.csv`)).sort();
      // The first night every task is new: every delta is its full file.
      expect(await copied('2026-11-21', ['A', 'B'])).toEqual(all);
      // The next, A's task is open: the mid call delta is written (D only); the others (empty) are still copies.
      expect(await copied('2026-11-22', ['A', 'D'])).toEqual(all.filter((f) => f !== 'tasks-mid-call-delta.csv'));
      const dir = join(out2, '2026-11-21');
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { outputs: { file: string; sha256: string }[] };
      const hash = new Map(manifest.outputs.map((o) => [o.file, o.sha256]));
      for (const f of all) {
        expect(readFileSync(join(dir, f))).toEqual(readFileSync(join(dir, f.replace('-delta', ''))));
        expect(hash.get(f)).toBe(
          createHash('sha256')
            .update(readFileSync(join(dir, f)))
            .digest('hex'),
        );
      }
      expect(tierTasks(join(out2, '2026-11-22'), 'mid', '-delta').map((r) => r.subscriber_id)).toEqual(['D']);
    } finally {
      copy.mockRestore();
    }
  });

  it('reads a ledger whose cells were quoted or spaced by hand as the one it wrote, and names the line of a broken one', async () => {
    const out3 = join(work, 'out-quoted');
    await runCli(night('2026-11-21', ['A', 'B', 'C']), '2026-11-21', ['--rules', rules], out3);
    const dir2 = night('2026-11-22', ['A', 'B', 'D']);
    await runCli(dir2, '2026-11-22', ['--rules', rules], out3);
    const ledger2 = readFileSync(join(out3, '2026-11-22', 'ledger.csv'), 'utf8');
    const path1 = join(out3, '2026-11-21', 'ledger.csv');
    const [head, ...lines] = readFileSync(path1, 'utf8').trimEnd().split('\n');
    // Every cell quoted, attempts with spaces around: the same cells once read.
    const quoted = lines.map((l) =>
      l
        .split(',')
        .map((c, k) => (k === 6 ? `" ${c} "` : `"${c}"`))
        .join(','),
    );
    writeFileSync(path1, [head, ...quoted].join('\n') + '\n');
    await runCli(dir2, '2026-11-22', ['--rules', rules, '--force'], out3);
    expect(readFileSync(join(out3, '2026-11-22', 'ledger.csv'), 'utf8')).toBe(ledger2);
    writeFileSync(path1, [head, quoted[0], quoted[1]!.replace('"new"', '"nwe"')].join('\n') + '\n');
    const broken = await runCli(dir2, '2026-11-22', ['--rules', rules, '--force'], out3);
    expect(broken.code).toBe(65);
    expect(broken.stderr).toContain('2026-11-21/ledger.csv: line 3: state is not one of');
  });
});
