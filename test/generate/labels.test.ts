/**
 * generate --labels: the labels are deterministic, leave the extracts' bytes as they
 * were, and carry the planted process's direction (churn is more common after a bill
 * drop, see PLANTED_CHURN), which backtest then finds.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { generateExtracts } from '../../src/generate/generate.js';
import { main } from '../../src/cli/main.js';

const D = Date.UTC(2026, 10, 23) / 86400000;
const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'cw-labels-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function digest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort())
    out[name] = createHash('sha256')
      .update(readFileSync(join(dir, name)))
      .digest('hex');
  return out;
}

describe('generate --labels', () => {
  it('when labels are asked for then the extracts are the same bytes and the labels the same for the same seed', async () => {
    const [plain, a, b] = [tempDir(), tempDir(), tempDir()];
    await generateExtracts({ subscribers: 600, seed: 5, asOf: D, outDir: plain });
    await generateExtracts({ subscribers: 600, seed: 5, asOf: D, outDir: a, labels: true });
    await generateExtracts({ subscribers: 600, seed: 5, asOf: D, outDir: b, labels: true, chunkSize: 100 });
    const { 'labels.csv': labels, ...extracts } = digest(a);
    expect(extracts).toEqual(digest(plain));
    expect(labels).toBeDefined();
    expect(digest(b)).toEqual(digest(a));
    const other = tempDir();
    await generateExtracts({ subscribers: 600, seed: 6, asOf: D, outDir: other, labels: true });
    expect(digest(other)['labels.csv']).not.toBe(labels);
  });

  it('when the sample is generated again with labels then its extracts are the committed ones and labels.csv the committed labels', async () => {
    const dir = tempDir();
    await generateExtracts({ subscribers: 3000, seed: 1, asOf: D, outDir: dir, labels: true });
    expect(digest(dir)).toEqual(digest('fixtures/sample'));
  });

  it('when labels are written then closed lines have none, churners have a date in D+1..D+90 and the others none', async () => {
    const dir = tempDir();
    await generateExtracts({ subscribers: 800, seed: 9, asOf: D, outDir: dir, labels: true });
    const subs = parse(readFileSync(join(dir, 'subscribers.csv')), { columns: true }) as Record<string, string>[];
    const rows = parse(readFileSync(join(dir, 'labels.csv')), { columns: true }) as Record<string, string>[];
    const closed = new Set(subs.filter((s) => s.status === 'closed').map((s) => s.subscriber_id));
    expect(rows.length).toBe(subs.length - closed.size);
    for (const r of rows) {
      expect(closed.has(r.subscriber_id!)).toBe(false);
      if (r.churned === '1') {
        const day = Date.parse(r.churn_date!) / 86400000;
        expect(day).toBeGreaterThanOrEqual(D + 1);
        expect(day).toBeLessThanOrEqual(D + 90);
      } else {
        expect(r).toMatchObject({ churned: '0', churn_date: '' });
      }
    }
  });

  it('when backtested then bill-drop hits churn clearly more often than the base rate', async () => {
    const dir = tempDir();
    await generateExtracts({ subscribers: 4000, seed: 3, asOf: D, outDir: dir, labels: true });
    let out = '';
    const code = await main(['backtest', '--input', dir, '--as-of', '2026-11-23', '--labels', join(dir, 'labels.csv'), '--json'], {
      out: (s) => {
        out += s;
      },
      err: () => {},
    });
    expect(code).toBe(0);
    const b = JSON.parse(out);
    expect(b.labels).toMatchObject({ unknown_subscribers: 0, malformed: 0 });
    const drop = b.rules.find((r: { id: string }) => r.id === 'arpu_drop_mom');
    expect(drop.lift.low).toBeGreaterThan(1.5);
    expect(b.ranking.auc).toBeGreaterThan(0.55);
    expect(b.ranking.deciles.rows[0].lift).toBeGreaterThan(1.5);
  });
});
