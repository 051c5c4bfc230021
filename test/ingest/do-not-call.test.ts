/**
 * do_not_call.csv against a reference built from strings (a Set of the listed
 * numbers, trimmed; a number → subscriber Map where the last subscriber with a
 * number wins): the same subscribers flagged, whatever the padding, the '+' forms
 * and the numbers shared between subscribers.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { readDoNotCall } from '../../src/ingest/facts.js';
import { defaultInputOptions } from '../../src/ingest/layout.js';
import { RejectLog } from '../../src/ingest/rejects.js';
import { TextColumn } from '../../src/util/text-column.js';

const dir = mkdtempSync(join(tmpdir(), 'cw-dnc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const number = fc.constantFrom('13800000001', '13800000002', '+8613800000001', '13900000003', '15000000004');
const pad = fc.constantFrom('', ' ', '\t', '\u3000');

describe('readDoNotCall', () => {
  it('flags the last subscriber holding each listed number, as a string map would', async () => {
    let run = 0;
    await fc.assert(fc.asyncProperty(
      fc.array(number, { maxLength: 12 }),
      fc.array(fc.tuple(pad, number, pad, fc.boolean()), { maxLength: 8 }),
      async (subscriberPhones, listedRows) => {
        const path = join(dir, `dnc-${run++}.csv`);
        const lines = listedRows.map(([a, n, b, bad]) => (bad ? `${a}tel:${n}${b}` : `${a}${n}${b}`));
        writeFileSync(path, ['msisdn', ...lines].join('\n') + '\n');
        const subs = { n: subscriberPhones.length, msisdn: TextColumn.from(subscriberPhones) };
        const rejects = new RejectLog();
        const { flags, stats } = await readDoNotCall(path, 'do_not_call.csv', defaultInputOptions(dir), subs, rejects);

        const listed = new Set(listedRows.filter(([, , , bad]) => !bad).map(([a, n, b]) => `${a}${n}${b}`.trim()));
        const owner = new Map<string, number>();
        subscriberPhones.forEach((p, i) => { if (listed.has(p)) owner.set(p, i); });
        const want = new Array<number>(subscriberPhones.length).fill(0);
        for (const i of owner.values()) want[i] = 1;
        expect(Array.from(flags)).toEqual(want);
        expect(stats.rejected).toBe(listedRows.filter(([, , , bad]) => bad).length);
      },
    ), { numRuns: 150 });
  });
});
