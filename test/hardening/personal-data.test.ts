/**
 * Promise 9, personal data: no phone number, name or ID number in logs (at debug
 * level too), error messages, summary.json, manifest.json, rejects.csv or the failed-run
 * report, including when rows fail to parse; task files can mask phones (138****1234)
 * and names (first character) while the dialer column keeps the full number only
 * where the profile needs it.
 */
import { appendFileSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeLogger } from '../../src/cli/log.js';
import { maskName, maskPhone, maskRaw, scrubPersonal } from '../../src/util/mask.js';
import { World, cleanup, runCli, tierText, type Row } from '../helpers/world.js';
import { AS_OF, ensureBuilt, generate, personalNumbersIn, runChild, tempDir } from './helpers.js';

const NAMES = ['李秘密', '张三丰', '欧阳保密'];
/** Phone and ID numbers written with separators, full-width digits and prefixes (issue: they reached rejects.csv as they were). */
const WRITTEN_FORMS = [
  '138-1234-5678',
  '138 1234 5678',
  '１３８１２３４５６７８',
  '+86 138 1234 5678',
  '(010) 8888-1234',
  '110101 19900307 123X',
  '139.8765.4321',
];

let work: string;
let input: string;
let firstId: string;
beforeAll(async () => {
  await ensureBuilt();
  work = tempDir('pii');
  input = join(work, 'in');
  await generate(input, ['--subscribers', '4000', '--dirty', '0.005']);
  firstId = readFileSync(join(input, 'subscribers.csv'), 'utf8').split('\n')[1]!.split(',')[0]!;
  // Bad rows that carry phone numbers, ID numbers and names in the fields that fail.
  appendFileSync(
    join(input, 'subscribers.csv'),
    [
      'X000000001,tel:13812345678,李秘密,active,,,P1,none,R,M1,',
      'X000000002,13912345678,李秘密,张三丰,,,P1,none,R,M1,',
      'X000000003,13712345678,欧阳保密,active,,,P1,13512345678,R,M1,',
      'X000000004,13612345678,李秘密,active,110101199003071234,,P1,none,R,M1,',
    ].join('\n') + '\n',
  );
  appendFileSync(
    join(input, 'billing_monthly.csv'),
    [
      `${firstId},2026-10,13812345678x,1,0`,
      '11010119900307123X,2026-10,1.00,1,0',
      `${firstId},13987654321,1.00,1,0`,
      `${firstId},2026-10,+8613912345678元,1,0`,
      // The same numbers as people and exports write them: separators, full-width digits, country prefixes.
      ...WRITTEN_FORMS.map((f) => `${firstId},2026-10,"${f}",1,0`),
    ].join('\n') + '\n',
  );
  appendFileSync(join(input, 'usage_daily.csv'), `${firstId},110101199003071234,1,0,0,0\n`);
  appendFileSync(join(input, 'tickets.csv'), `T-X1,${firstId},2026-11-01,身份证110101199003071234,a\n`);
}, 120_000);
afterAll(() => {
  if (work) cleanup(work);
});

/**
 * Personal data found in a text: phone and ID numbers, also written with separators
 * or full-width digits (looked for again after NFKC with the separators between digits
 * taken out), the test's landline, and the test's names.
 */
function leaks(text: string): string[] {
  const joined = text.normalize('NFKC').replace(/(?<=\d)[ \t\-./()]{1,3}(?=\d)/g, '');
  return [
    ...personalNumbersIn(text),
    ...personalNumbersIn(joined),
    ...(joined.includes('01088881234') ? ['01088881234'] : []),
    ...NAMES.filter((n) => text.includes(n)),
  ];
}

/** Every file under a folder except the task files (which carry names and numbers by design). */
function nonTaskFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir, { recursive: true }).map(String)) {
    const p = join(dir, f);
    if (/tasks-[\w-]+\.csv$/.test(f) || !statSync(p).isFile()) continue;
    out[f] = readFileSync(p, 'latin1') + readFileSync(p, 'utf8');
  }
  return out;
}

describe('personal data stays out of logs, messages and reports', () => {
  it('when a dirty extract is run at debug level then stderr, rejects.csv, summary.json, manifest.json and report.html hold no phone, ID number or name', async () => {
    const out = join(work, 'out-debug');
    const r = await runChild(['run', '--input', input, '--out', out, '--as-of', AS_OF, '--log-level', 'debug']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('"level":20'); // debug lines were written
    expect(r.stderr).toContain('"msg":"row rejected"');
    expect(leaks(r.stderr)).toEqual([]);
    const published = join(out, AS_OF);
    const files = nonTaskFiles(published);
    expect(Object.keys(files).sort()).toEqual([
      'holdout.csv',
      'ledger.csv',
      'manifest.json',
      'overflow.csv',
      'rejects.csv',
      'report.html',
      'scores.arrow',
      'scores.csv',
      'summary.json',
      'suppressed.csv',
    ]);
    for (const [f, text] of Object.entries(files)) expect([f, leaks(text)]).toEqual([f, []]);
    // The bad rows are listed, with their values masked.
    const rejects = parse(readFileSync(join(published, 'rejects.csv')), { columns: true }) as Row[];
    expect(rejects.length).toBeGreaterThan(20);
    const raw = rejects.map((x) => x.raw_value);
    expect(raw).toEqual(
      expect.arrayContaining([
        't**************',
        '张**',
        '135****5678',
        '110***********1234',
        '138****5678x',
        '110***********123X',
        '139****4321',
        '139****5678元',
        '身**110***********1234',
      ]),
    );
    expect(raw.filter((v) => v === '138****5678').length).toBeGreaterThanOrEqual(4); // four of the written forms
    expect(raw).toEqual(expect.arrayContaining(['010****1234', '110***********123X', '139****4321']));
    // The task files do hold the valid subscribers' numbers: that is what they are for.
    expect(personalNumbersIn(tierText(published, 'high')).length).toBeGreaterThan(0);
  }, 60_000);

  it('when a row breaks the CSV syntax then the error names file, line and field but not the content', async () => {
    const dir = join(work, 'malformed');
    mkdirSync(dir);
    const w = new World(AS_OF);
    w.sub('U1', { status: 'suspended_arrears' }).bills('U1', ['80.00', '80.00', '80.00', '80.00']);
    w.write(dir);
    appendFileSync(join(dir, 'subscribers.csv'), 'U2,"13812345678"x,李秘密,active,,,P1,none,R,M1,\n');
    const r = await runChild(['run', '--input', dir, '--out', join(dir, 'out'), '--as-of', AS_OF, '--log-level', 'debug']);
    expect(r.code).toBe(65);
    expect(r.stderr).toContain('subscribers.csv:4');
    expect(r.stderr).toContain('[CW_CSV_MALFORMED]');
    expect(leaks(r.stderr)).toEqual([]);
    const failure = readFileSync(join(dir, 'out', 'failed', AS_OF, 'failure.json'), 'utf8');
    expect(failure).toContain('CW_CSV_MALFORMED');
    expect(leaks(failure)).toEqual([]);
  });

  it('when too many rows are rejected then the failed-run report holds no phone, ID number or name', async () => {
    const dir = join(work, 'many-bad');
    mkdirSync(dir);
    const w = new World(AS_OF);
    w.sub('U1', { status: 'suspended_arrears' }).bills('U1', ['80.00', '80.00', '80.00', '80.00']);
    w.write(dir);
    appendFileSync(
      join(dir, 'billing_monthly.csv'),
      [
        '13812345678,2026-10,1.00,,',
        'U1,2026-10,110101199003071234,,',
        'U1,李秘密,1.00,,',
        ...WRITTEN_FORMS.map((f) => `U1,2026-10,"${f}",,`),
      ].join('\n') + '\n',
    );
    const r = await runChild(['run', '--input', dir, '--out', join(dir, 'out'), '--as-of', AS_OF, '--log-level', 'trace']);
    expect(r.code).toBe(65);
    expect(leaks(r.stderr)).toEqual([]);
    const failed = join(dir, 'out', 'failed', AS_OF);
    for (const f of readdirSync(failed)) expect([f, leaks(readFileSync(join(failed, f), 'utf8'))]).toEqual([f, []]);
    const failedRejects = readFileSync(join(failed, 'rejects.csv'), 'utf8');
    expect(failedRejects).toContain('138****5678');
    expect(failedRejects).toContain('010****1234');
    expect(failedRejects).toContain('110***********123X');
  });

  it('when a log line or a message carries a phone or ID number anyway then it is masked on the way out', () => {
    const lines: string[] = [];
    const log = makeLogger('debug', (s) => lines.push(s));
    log.debug(
      {
        value: 'call 13812345678 or +8613912345678',
        id: '11010119900307123X',
        phone: 13812345678,
        bytes: 1234567890123,
        forms: WRITTEN_FORMS,
      },
      'oops 110101199003071234',
    );
    const line = lines.join('');
    expect(leaks(line)).toEqual([]);
    const parsed = JSON.parse(line); // still one valid JSON record
    expect(parsed.value).toBe('call 138****5678 or 139****5678');
    expect(parsed.phone).toBe('138****5678'); // a phone logged as a number is masked too
    expect(parsed.bytes).toBe(1234567890123); // other numbers stay as they are
    expect(parsed.forms).toEqual([
      '138****5678',
      '138****5678',
      '138****5678',
      '138****5678',
      '010****1234',
      '110***********123X',
      '139****4321',
    ]);
    expect(scrubPersonal('TypeError: cannot convert 13812345678 (id 11010119900307123X)')).toBe(
      'TypeError: cannot convert 138****5678 (id 110***********123X)',
    );
  });

  it('masks phones, names and raw values in the documented shapes', () => {
    expect(maskPhone('13812341234')).toBe('138****1234');
    expect(maskPhone('+8613812341234')).toBe('138****1234');
    expect(maskPhone('01087654321')).toBe('010****4321');
    expect(maskPhone('12345')).toBe('***45');
    expect(maskName('欧阳娜娜')).toBe('欧');
    expect(maskName('𪚥明')).toBe('𪚥');
    expect(maskRaw('msisdn', '13812345678')).toBe('1**********');
    expect(maskRaw('amount', 'N/A')).toBe('N/A');
    expect(maskRaw('status', '张三丰')).toBe('张**');
  });
});

describe('masking profile of the task files', () => {
  function maskedWorld(): World {
    const w = new World(AS_OF);
    w.sub('U1', { status: 'suspended_arrears', msisdn: '13812341234', name: '欧阳娜娜' }).bills('U1', ['80.00', '80.00', '80.00', '80.00']);
    w.sub('U2', { status: 'suspended_arrears', msisdn: '+8613912345678', name: '王五' }).bills('U2', ['40.00', '40.00', '40.00', '40.00']);
    return w;
  }

  async function runWith(config: string | undefined) {
    const w = maskedWorld();
    const dir = w.write();
    try {
      const args: string[] = [];
      if (config !== undefined) {
        writeFileSync(join(dir, 'run.yaml'), config);
        args.push('--config', join(dir, 'run.yaml'));
      }
      const r = await runCli(dir, AS_OF, args);
      const header = r.code === 0 ? readFileSync(join(r.published, 'tasks-high-call.csv'), 'utf8').split('\n')[0] : '';
      const manifest = r.code === 0 ? JSON.parse(readFileSync(join(r.published, 'manifest.json'), 'utf8')) : {};
      const text = r.code === 0 ? ['high', 'mid', 'mass'].map((t) => tierText(r.published, t)).join('') : '';
      return { ...r, header, manifest, text };
    } finally {
      cleanup(dir);
    }
  }

  it('when nothing is configured then the task files carry full numbers and names in the usual columns', async () => {
    const r = await runWith(undefined);
    expect(r.code).toBe(0);
    expect(r.header).toBe(
      'task_id,tier,rank,subscriber_id,msisdn,name,region,manager_id,assignee,value,risk_score,expected_loss,reason_codes,reason_text,action,channel,due_at,last_contact,last_outcome,step,state',
    );
    expect(r.tasks.high![0]).toMatchObject({ msisdn: '13812341234', name: '欧阳娜娜' });
    expect(r.manifest.tasks_personal_data).toEqual({ mask: false, dialer_full_number: true });
  });

  it('when output.mask is on then msisdn_masked and a one-character name come with the full number for the dialer', async () => {
    const r = await runWith('output:\n  mask: true\n');
    expect(r.code).toBe(0);
    expect(r.header.startsWith('task_id,tier,rank,subscriber_id,msisdn,msisdn_masked,name,region,')).toBe(true);
    expect(r.tasks.high![0]).toMatchObject({ msisdn: '13812341234', msisdn_masked: '138****1234', name: '欧' });
    expect(r.tasks.mid![0]).toMatchObject({ msisdn: '+8613912345678', msisdn_masked: '139****5678', name: '王' });
    expect(r.manifest.tasks_personal_data).toEqual({ mask: true, dialer_full_number: true });
  });

  it('when the consumer does not dial then the task files hold no full number and no full name at all', async () => {
    const r = await runWith('output:\n  mask: true\n  dialer_full_number: false\n');
    expect(r.code).toBe(0);
    expect(r.tasks.high![0]).toMatchObject({ msisdn: '', msisdn_masked: '138****1234', name: '欧' });
    expect(personalNumbersIn(r.text)).toEqual([]);
    expect(r.text).not.toContain('8613912345678');
    expect(r.text).not.toContain('欧阳娜娜');
    expect(r.manifest.tasks_personal_data).toEqual({ mask: true, dialer_full_number: false });
  });

  it('when dialer_full_number is off without masking then the configuration is refused (78)', async () => {
    const r = await runWith('output:\n  dialer_full_number: false\n');
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('output.dialer_full_number');
  });
});
