/**
 * contact_history.csv: the latest contact of a subscriber does not depend on the rows'
 * order in the export (exports arrive unsorted). Two contacts on one day are ordered by
 * their time; at the same moment, or on one day written without times, the more final
 * outcome counts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONTACT_OUTCOMES } from '../../src/contract/contract.js';
import { readContactHistory } from '../../src/ingest/facts.js';
import { RejectLog } from '../../src/ingest/rejects.js';
import { parseDay } from '../../src/util/dates.js';
import { factFixture } from './fact-fixture.js';

const { ids: IDS, subs, D, input, write } = factFixture('contacts');

let files = 0;

async function latest(rows: string[]) {
  const path = write(`contacts-${files++}.csv`, ['subscriber_id,contacted_at,channel,outcome,task_id', ...rows]);
  const { fold } = await readContactHistory(path, 'contact_history.csv', input, subs, new RejectLog(), D);
  return IDS.map((_, i) => [fold.lastContact[i], CONTACT_OUTCOMES[fold.lastOutcome[i]!] ?? null]);
}

describe('readContactHistory: the latest contact', () => {
  it('when two contacts fall on one day then the later time counts, whichever row comes first', async () => {
    const morning = 'S1,2026-11-20 09:05:00,phone,declined,';
    const afternoon = 'S1,2026-11-20 14:30,phone,retained,';
    const day = parseDay('2026-11-20');
    expect((await latest([morning, afternoon]))[0]).toEqual([day, 'retained']);
    expect((await latest([afternoon, morning]))[0]).toEqual([day, 'retained']);
    // Hours of one digit, seconds with fractions, a T and a zone: still compared as times.
    const early = 'S2,2026-11-20T9:59:59.999+08:00,sms,churned,';
    const late = 'S2,20261120 10:00:00.001,sms,unreachable,';
    expect((await latest([late, early]))[1]).toEqual([day, 'unreachable']);
    expect((await latest([early, late]))[1]).toEqual([day, 'unreachable']);
  });

  it('when contacts cannot be ordered by time then the more final outcome counts, in any row order', async () => {
    const day = parseDay('2026-11-19');
    const rows = ['S3,2026-11-19,phone,unreachable,', 'S3,2026-11-19,phone,churned,', 'S3,2026-11-19,phone,callback,'];
    for (const order of [rows, [...rows].reverse(), [rows[1]!, rows[0]!, rows[2]!]])
      expect((await latest(order))[2]).toEqual([day, 'churned']);
  });

  it('gives the same latest contact for every order of the same rows (property)', async () => {
    const row = fc.record({
      id: fc.constantFrom(...IDS),
      day: fc.integer({ min: 10, max: 25 }),
      time: fc.option(fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 })), { nil: undefined }),
      outcome: fc.constantFrom(...CONTACT_OUTCOMES),
    });
    const text = (r: { id: string; day: number; time?: [number, number]; outcome: string }) =>
      `${r.id},2026-11-${String(r.day).padStart(2, '0')}${r.time ? ` ${r.time[0]}:${String(r.time[1]).padStart(2, '0')}` : ''},phone,${r.outcome},`;
    await fc.assert(
      fc.asyncProperty(fc.array(row, { maxLength: 12 }), fc.integer(), async (rows, seed) => {
        const lines = rows.map(text);
        const shuffled = fc.sample(fc.shuffledSubarray(lines, { minLength: lines.length, maxLength: lines.length }), {
          numRuns: 1,
          seed,
        })[0]!;
        expect(await latest(shuffled)).toEqual(await latest(lines));
      }),
      { numRuns: 60 },
    );
  });
});
