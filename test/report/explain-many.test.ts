/**
 * explain for many subscribers in one pass: for every subscriber of the golden run,
 * the verdicts, value, tier and risk equal the published scores.csv; one subscriber
 * keeps today's single-object output.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { cli, cliJson, tempFile } from '../helpers/cli.js';

const BASE = ['explain', '--input', 'fixtures/golden/input', '--as-of', '2026-11-23'];
const scores = parse(readFileSync('fixtures/golden/expected/scores.csv'), { columns: true }) as Record<string, string>[];

const idsFile = (lines: string[]): string => tempFile('ids.txt', lines.join('\n') + '\n');

describe('churnwatch explain for many subscribers', () => {
  it('when every subscriber of the golden run is listed in a file then the JSON array agrees with scores.csv for each', async () => {
    const es = (await cliJson([...BASE, '--subscribers-file', idsFile(['subscriber_id', ...scores.map((s) => s.subscriber_id!), ''])])) as {
      subscriber_id: string;
      value: number;
      tier: string;
      risk_score: number;
      expected_loss: number;
      rules: { id: string; flagged: boolean }[];
    }[];
    expect(es.map((e) => e.subscriber_id)).toEqual(scores.map((s) => s.subscriber_id));
    es.forEach((e, k) => {
      const row = scores[k]!;
      expect([e.value, e.tier, e.risk_score, e.expected_loss]).toEqual([
        Number(row.value),
        row.tier,
        Number(row.risk_score),
        Number(row.expected_loss),
      ]);
      for (const rule of e.rules)
        expect(`${e.subscriber_id} ${rule.id}=${rule.flagged ? 1 : 0}`).toBe(`${e.subscriber_id} ${rule.id}=${row[rule.id]}`);
    });
  });

  it('when --subscriber is repeated then the text has one block each, in the order given, and equals the single outputs joined', async () => {
    const one = await cli([...BASE, '--subscriber', '0001000917']);
    const two = await cli([...BASE, '--subscriber', '0001000003']);
    const both = await cli([...BASE, '--subscriber', '0001000917', '--subscriber', '0001000003']);
    expect(both.code).toBe(0);
    expect(both.out).toBe(`${one.out}\n${'-'.repeat(72)}\n\n${two.out}`);
  });

  it('when one subscriber is asked for then --json is still a single object', async () => {
    const r = await cli([...BASE, '--subscriber', '0001000917', '--json']);
    expect(Array.isArray(JSON.parse(r.out))).toBe(false);
  });

  it('when listed subscribers are unknown or none is named then it exits 64 saying how many and where the first is', async () => {
    const r = await cli([...BASE, '--subscribers-file', idsFile(['0001000917', 'nobody', 'nobody-else'])]);
    expect(r.code).toBe(64);
    expect(r.out).toBe('');
    expect(r.err).toContain('2 of 3 subscribers asked for are not in subscribers.csv');
    expect(r.err).toMatch(/the first is line 2 of .*ids\.txt/);
    expect(r.err).not.toContain('nobody'); // messages carry no ids
    const byOption = await cli([...BASE, '--subscriber', '0001000917', '--subscriber', 'nobody']);
    expect(byOption.err).toContain('the first is --subscriber number 2');
    const none = await cli(BASE);
    expect(none.code).toBe(64);
    expect(none.err).toContain('--subscriber ID');
  });
});
