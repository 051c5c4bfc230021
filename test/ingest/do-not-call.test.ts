/**
 * do_not_call.csv against a reference built from strings: numbers compared in E.164
 * form (a Set of the listed numbers' E.164 forms; every subscriber whose number is in
 * it flagged), whatever the padding, the separators, the '+86' / '0086' / '86' / trunk
 * '0' forms and the numbers shared between subscribers (recycled numbers). End to end:
 * every subscriber sharing a listed number gets no task, and the summary counts them all.
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
import { cleanup, runCli, World } from '../helpers/world.js';

const dir = mkdtempSync(join(tmpdir(), 'cw-dnc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A few numbers, each in several written forms, so that forms of one number meet. */
const number = fc.constantFrom(
  '13800000001',
  '+8613800000001',
  '0086 138 0000 0001',
  '138-0000-0001',
  '8613800000001',
  '+86 138-0000-0001',
  '13900000003',
  '139 0000 0003',
  '15000000004',
  '01088881234',
  '010-8888-1234',
  '+861088881234',
  '1088881234',
  '+86 010 8888 1234',
  '0086 10-8888-1234',
  '+442079460958',
  '00442079460958',
  '+44 20 7946 0958',
  // Keys that do not end in six digits (the filter then cannot be asked before the key is made).
  '+12345',
  '0012345',
  '00 1-2345',
);
const pad = fc.constantFrom('', ' ', '\t', '\u3000');

/** The E.164 form, from strings: the reference the byte-level matching is held to. */
function e164(written: string, cc = '86'): string | null {
  const t = written.trim();
  if (!/^\+?\d(?:[ -]{0,3}\d){4,19}$/.test(t)) return null;
  const c = t.replace(/[ -]/g, '');
  // A trunk 0 written after the country code (+86 010 …) is not part of the number.
  const international = (d: string) => (d.startsWith(cc + '0') ? `+${cc}${d.slice(cc.length + 1)}` : `+${d}`);
  if (c.startsWith('+')) return international(c.slice(1));
  if (c.startsWith('00')) return international(c.slice(2));
  if (cc === '86' && /^861\d{10}$/.test(c)) return `+${c}`;
  return `+${cc}${c.replace(/^0/, '')}`;
}

async function flagsFor(subscriberPhones: string[], lines: string[], cc?: string) {
  const path = join(dir, `dnc-${Math.random().toString(36).slice(2)}.csv`);
  writeFileSync(path, ['msisdn', ...lines].join('\n') + '\n');
  const subs = { n: subscriberPhones.length, msisdn: TextColumn.from(subscriberPhones) };
  const input = { ...defaultInputOptions(dir), ...(cc === undefined ? {} : { defaultCountryCode: cc }) };
  return readDoNotCall(path, 'do_not_call.csv', input, subs, new RejectLog());
}

describe('readDoNotCall', () => {
  it('flags every subscriber whose number is listed, compared in E.164 form, as a string reference would', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(number, { maxLength: 12 }),
        fc.array(fc.tuple(pad, number, pad, fc.boolean()), { maxLength: 8 }),
        async (subscriberPhones, listedRows) => {
          const lines = listedRows.map(([a, n, b, bad]) => (bad ? `${a}tel:${n}${b}` : `${a}${n}${b}`));
          const { flags, stats } = await flagsFor(subscriberPhones, lines);
          const listed = new Set(listedRows.filter(([, , , bad]) => !bad).map(([a, n, b]) => e164(`${a}${n}${b}`)));
          expect(Array.from(flags)).toEqual(subscriberPhones.map((p) => (listed.has(e164(p)) ? 1 : 0)));
          expect(stats.rejected).toBe(listedRows.filter(([, , , bad]) => bad).length);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('flags both subscribers that share a listed number (a recycled number), and a +86 entry matches the 11-digit form', async () => {
    const { flags } = await flagsFor(['13812345678', '13900000000', '13812345678', '8613812345678'], ['+86 138 1234 5678']);
    expect(Array.from(flags)).toEqual([1, 0, 1, 1]);
  });

  it('puts the configured country code before national numbers', async () => {
    const subs = ['2079460958', '02079460958', '+442079460958', '13812345678'];
    expect(Array.from((await flagsFor(subs, ['+44 20 7946 0958'], '44')).flags)).toEqual([1, 1, 1, 0]);
    expect(Array.from((await flagsFor(subs, ['+44 20 7946 0958'])).flags)).toEqual([0, 0, 1, 0]);
  });
});

describe('do-not-call in a run', () => {
  it('when two subscribers share a listed number then neither gets a task and the summary counts both', async () => {
    const w = new World('2026-11-23');
    w.sub('U1', { status: 'suspended_arrears', msisdn: '13812345678' }).bills('U1', ['80.00', '80.00', '80.00', '80.00']);
    w.sub('U2', { status: 'suspended_arrears', msisdn: '138-1234-5678' }).bills('U2', ['90.00', '90.00', '90.00', '90.00']);
    w.sub('U3', { status: 'suspended_arrears', msisdn: '+86 139-0000-0001' }).bills('U3', ['70.00', '70.00', '70.00', '70.00']);
    const d = w.write();
    try {
      writeFileSync(join(d, 'do_not_call.csv'), 'msisdn\n+8613812345678\n');
      const r = await runCli(d, '2026-11-23');
      expect(r.code).toBe(0);
      const tasked = Object.values(r.tasks)
        .flat()
        .map((t) => t.subscriber_id);
      expect(tasked).toEqual(['U3']);
      // Numbers written with separators are read, and stored (and written to the task files) without them.
      expect([...r.scores.keys()]).toEqual(expect.arrayContaining(['U1', 'U2', 'U3']));
      expect(Object.values(r.tasks).flat()[0]!.msisdn).toBe('+8613900000001');
      expect(r.summary.policy.suppressed_by_code.do_not_call).toBe(2);
    } finally {
      cleanup(d);
    }
  });

  it('when the run configuration sets input.default_country_code then national numbers take it, and a bad code is refused (78)', async () => {
    const w = new World('2026-11-23');
    w.sub('U1', { status: 'suspended_arrears', msisdn: '020 7946 0958' }).bills('U1', ['80.00', '80.00', '80.00', '80.00']);
    const d = w.write();
    try {
      writeFileSync(join(d, 'do_not_call.csv'), 'msisdn\n+44 20 7946 0958\n');
      const run = async (config: string) => {
        writeFileSync(join(d, 'run.yaml'), config);
        return runCli(d, '2026-11-23', ['--config', join(d, 'run.yaml'), '--force']);
      };
      expect((await run('input:\n  default_country_code: 44\n')).summary.policy.suppressed_by_code.do_not_call).toBe(1);
      expect((await run('{}\n')).summary.policy.suppressed_by_code.do_not_call).toBe(0);
      const bad = await run('input:\n  default_country_code: "+44"\n');
      expect(bad.code).toBe(78);
      expect(bad.stderr).toContain('input.default_country_code');
    } finally {
      cleanup(d);
    }
  });
});
