/**
 * Issue 8, configuration and input files: mistakes in the configuration, the input
 * folder and the headers stop the run with a code that names the key, the file or
 * the column, instead of being taken at their word (a wrong night published with
 * exit 0). Also: a FIFO among the extracts is refused before it is opened.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import iconv from 'iconv-lite';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { readExtract } from '../../src/ingest/read-extract.js';
import { ChurnwatchError } from '../../src/errors.js';
import { World, cleanup, runCli, type RunOutcome } from '../helpers/world.js';
import { AS_OF, ROOT, collect, ensureBuilt, spawnCli, tempDir, type Manifest } from './helpers.js';

const dirs: string[] = [];
const fifos: string[] = [];
afterAll(() => {
  // A reader stuck on a FIFO (only if the refusal failed) is released by a writer.
  for (const f of fifos) {
    try {
      closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      /* no reader waiting */
    }
  }
  for (const d of dirs) cleanup(d);
});

/** A world in which mou_drop flags S1, so that reading the wrong column would show. */
function world(): World {
  const w = new World(AS_OF);
  w.sub('S1', { name: '张伟' }).bills(
    'S1',
    ['80.00', '80.00', '80.00', '80.00'],
    [{ mou: '20' }, { mou: '200' }, { mou: '200' }, { mou: '200' }],
  );
  w.sub('S2', { name: '王芳' }).bills(
    'S2',
    ['30.00', '30.00', '30.00', '30.00'],
    [{ mou: '100' }, { mou: '100' }, { mou: '100' }, { mou: '100' }],
  );
  for (const id of ['S1', 'S2']) for (let k = 1; k <= 14; k++) w.usage(id, w.day(k), { calls: '2' });
  w.ticket('S2', w.day(5), 'complaint').ticket('S2', w.day(9), 'complaint');
  return w;
}

function written(w = world()): string {
  const d = w.write();
  dirs.push(d);
  return d;
}

function config(dir: string, yaml: string): string {
  const p = join(dir, 'run.yaml');
  writeFileSync(p, yaml);
  return p;
}

/** Rewrites the header line of an extract. */
function header(dir: string, file: string, edit: (cells: string[]) => string[]): void {
  const p = join(dir, file);
  const text = readFileSync(p, 'utf8');
  const nl = text.indexOf('\n');
  writeFileSync(p, edit(text.slice(0, nl).split(',')).join(',') + text.slice(nl));
}

function dropColumn(dir: string, file: string, column: string): void {
  const p = join(dir, file);
  const lines = readFileSync(p, 'utf8').split('\n');
  const at = lines[0]!.split(',').indexOf(column);
  writeFileSync(
    p,
    lines
      .map((l) =>
        l === ''
          ? l
          : l
              .split(',')
              .filter((_, i) => i !== at)
              .join(','),
      )
      .join('\n'),
  );
}

function expectRefused(r: RunOutcome, exit: number, code: string, ...words: string[]): void {
  expect([r.code, r.stderr.match(/\[(CW_[A-Z_]+)\]/)?.[1]]).toEqual([exit, code]);
  for (const w of words) expect(r.stderr).toContain(w);
  expect(existsSync(join(r.published, 'manifest.json'))).toBe(false);
}

describe('configuration mistakes', () => {
  it.each([
    [
      'amount is mapped onto the mou header',
      'input:\n  columns:\n    billing_monthly: { amount: mou }\n',
      78,
      'CW_CONFIG_INVALID',
      ['input.columns.billing_monthly.amount'],
    ],
    ['thousands is "yes"', 'input:\n  delimiter: "|"\n  thousands: "yes"\n', 78, 'CW_CONFIG_INVALID', ['input.thousands', 'true or false']],
    [
      'a configured do-not-call file does not exist',
      'input:\n  files: { do_not_call: dnc.csv }\n',
      66,
      'CW_EXTRACT_MISSING_FILE',
      ['dnc.csv', 'input.files.do_not_call'],
    ],
    [
      'a configured extract no enabled rule reads does not exist',
      'input:\n  files: { contact_history: c.csv }\n',
      66,
      'CW_EXTRACT_MISSING_FILE',
      ['input.files.contact_history'],
    ],
  ] as [string, string, number, string, string[]][])(
    'when %s then the run exits as the key says, naming it',
    async (_what, yaml, exit, code, words) => {
      const d = written();
      const r = await runCli(d, AS_OF, ['--config', config(d, yaml)]);
      expectRefused(r, exit, code, ...words);
    },
  );

  it('when output.file_mode is 0666 then the run exits 78 before creating anything, unless allow_shared_modes is set', async () => {
    const d = written();
    const r = await runCli(d, AS_OF, ['--config', config(d, 'output:\n  file_mode: "0666"\n')]);
    expectRefused(r, 78, 'CW_CONFIG_INVALID', 'output.file_mode', 'output.allow_shared_modes');
    expect(existsSync(r.outDir)).toBe(false);
    const ok = await runCli(d, AS_OF, ['--config', config(d, 'output:\n  file_mode: "0666"\n  allow_shared_modes: true\n')]);
    expect(ok.code).toBe(0);
  });

  it('when both billing_monthly.csv and billing_monthly.csv.gz are there then the run exits 78 naming input.files.billing_monthly, and the key picks one', async () => {
    const d = written();
    writeFileSync(join(d, 'billing_monthly.csv.gz'), gzipSync(readFileSync(join(d, 'billing_monthly.csv'))));
    const r = await runCli(d, AS_OF);
    expectRefused(r, 78, 'CW_INPUT_AMBIGUOUS', 'billing_monthly.csv.gz', 'input.files.billing_monthly');
    const ok = await runCli(d, AS_OF, ['--config', config(d, 'input:\n  files: { billing_monthly: billing_monthly.csv.gz }\n')]);
    expect(ok.code).toBe(0);
  });

  it('when --input or --out is empty then the run exits 64', async () => {
    for (const args of [
      ['--input', '', '--out', 'x'],
      ['--input', 'fixtures/sample', '--out', ''],
      ['--input', ' ', '--out', 'x'],
    ]) {
      let err = '';
      const code = await main(['run', ...args, '--as-of', AS_OF], {
        out: () => undefined,
        err: (s) => {
          err += s;
        },
      });
      expect([code, err]).toEqual([64, expect.stringContaining('[CW_USAGE]')]);
    }
  });
});

describe('the manifest records the configuration', () => {
  const manifest = (r: RunOutcome) => JSON.parse(readFileSync(join(r.published, 'manifest.json'), 'utf8')) as Manifest;
  const withoutSummary = (m: Manifest) => ({
    ...m,
    outputs: m.outputs.filter((o) => o.file !== 'summary.json'),
  });

  it('when --config is given then its name and sha256 are in manifest.json, the same on a rerun; without it, null', async () => {
    const d = written();
    const yaml = 'input:\n  delimiter: ","\n';
    const first = await runCli(d, AS_OF, ['--config', config(d, yaml)]);
    expect(first.code).toBe(0);
    const m1 = manifest(first);
    expect(m1.configuration).toEqual({ file: 'run.yaml', sha256: createHash('sha256').update(yaml).digest('hex') });
    const again = await runCli(d, AS_OF, ['--config', config(d, yaml), '--force']);
    expect(withoutSummary(manifest(again))).toEqual(withoutSummary(m1));
    const none = await runCli(d, AS_OF, ['--force']);
    expect(manifest(none).configuration).toBeNull();
    expect(withoutSummary(manifest(none)).outputs).toEqual(withoutSummary(m1).outputs);
  });
});

describe('one encoding per file', () => {
  /** The world's files in GBK, except those listed, which stay UTF-8; one ticket category is one CJK character, invalid as GBK. */
  function mixed(utf8: string[]): string {
    const w = world();
    w.rows.tickets[w.rows.tickets.length - 1]!.category = '网';
    const d = written(w);
    for (const f of ['subscribers', 'billing_monthly', 'usage_daily', 'tickets', 'contracts']) {
      if (utf8.includes(f)) continue;
      writeFileSync(join(d, `${f}.csv`), iconv.encode(readFileSync(join(d, `${f}.csv`), 'utf8'), 'gbk'));
    }
    return d;
  }

  it('when the tickets file is UTF-8 in a GBK export set then input.encodings.tickets reads it, and the results equal an all-UTF-8 run', async () => {
    const reference = await runCli(mixed(['subscribers', 'billing_monthly', 'usage_daily', 'tickets', 'contracts']), AS_OF);
    expect(reference.code).toBe(0);
    const d = mixed(['tickets']);
    const without = await runCli(d, AS_OF, ['--config', config(d, 'input:\n  encoding: gbk\n')]);
    expectRefused(without, 65, 'CW_ENCODING', 'tickets.csv');
    const r = await runCli(d, AS_OF, ['--config', config(d, 'input:\n  encoding: gbk\n  encodings: { tickets: utf8 }\n')]);
    expect(r.code).toBe(0);
    expect(r.scores).toEqual(reference.scores);
    expect(r.tasks).toEqual(reference.tasks);
  });
});

describe('header matching', () => {
  it('when headers differ in case and surrounding spaces then they match, with the same results', async () => {
    const reference = await runCli(written(), AS_OF);
    expect(reference.code).toBe(0);
    const d = written();
    header(d, 'billing_monthly.csv', (c) => c.map((h) => ` ${h.toUpperCase()} `));
    header(d, 'subscribers.csv', (c) => c.map((h) => h[0]!.toUpperCase() + h.slice(1)));
    const r = await runCli(d, AS_OF, ['--config', config(d, 'input:\n  columns:\n    usage_daily: { calls: " Calls" }\n')]);
    expect(r.code).toBe(0);
    expect(r.scores).toEqual(reference.scores);
    expect(r.scores.get('S1')!.mou_drop).toBe('1');
  });

  it.each([
    [{ hotline_calls: 'amount' }, 'amount'],
    [{ hotline_calls: ' Amount' }, 'Amount'],
    [{ hotline_calls: 'MOU' }, 'MOU'],
    // Nothing reads a "note" column, but a repeated name is refused all the same.
    [{ mou: 'note', hotline_calls: 'Note' }, 'Note'],
  ])(
    'when the billing header renames %j then the run exits 65 naming the file, line 1 and the repeated column %s',
    async (renames, shown) => {
      const d = written();
      header(d, 'billing_monthly.csv', (c) => c.map((h) => (renames as Record<string, string>)[h] ?? h));
      const r = await runCli(d, AS_OF);
      expectRefused(r, 65, 'CW_EXTRACT_DUPLICATE_COLUMN', 'gate required-columns failed: billing_monthly.csv line 1', `"${shown}" twice`);
    },
  );

  it.each([
    ['billing_monthly.csv', 'mou', 'rule mou_drop'],
    ['billing_monthly.csv', 'hotline_calls', 'rule hotline_calls'],
    ['usage_daily.csv', 'forwarded_calls', 'rule forwarding_3d'],
    ['usage_daily.csv', 'data_mb', 'rule silence_3d'],
    ['subscribers.csv', 'prepaid_balance', 'rule low_balance'],
    ['subscribers.csv', 'activation_date', 'rule silence_3d'],
    ['contracts.csv', 'kind', 'rule contract_lapsed'],
  ])(
    'when %s lacks %s, which an enabled rule reads, then the run exits 65 at required-columns naming %s and how to disable it',
    async (file, column, reader) => {
      const d = written();
      dropColumn(d, file, column);
      const r = await runCli(d, AS_OF);
      expectRefused(r, 65, 'CW_EXTRACT_MISSING_COLUMN', `gate required-columns failed: ${file} line 1`, column, reader, 'enabled: false');
    },
  );

  it('when the rule reading a missing optional column is disabled then the run goes on, and a column nobody reads may be absent', async () => {
    const d = written();
    dropColumn(d, 'billing_monthly.csv', 'mou');
    dropColumn(d, 'subscribers.csv', 'plan_id');
    dropColumn(d, 'tickets.csv', 'category');
    const pack = join(d, 'pack.yaml');
    writeFileSync(
      pack,
      readFileSync(join(ROOT, 'rules', 'default.yaml'), 'utf8').replace(/( {2}- id: mou_drop\n)/, '$1    enabled: false\n'),
    );
    const r = await runCli(d, AS_OF, ['--rules', pack]);
    expect(r.code).toBe(0);
    expect(r.summary.hits_per_rule).not.toHaveProperty('mou_drop');
    expect(r.scores.size).toBe(3);
  });

  it('when the value reads a column the header lacks then the run exits 65 naming the value', async () => {
    const d = written();
    dropColumn(d, 'billing_monthly.csv', 'mou');
    const pack = join(d, 'pack.yaml');
    writeFileSync(
      pack,
      readFileSync(join(ROOT, 'rules', 'default.yaml'), 'utf8')
        .replace(/^value: .*$/m, 'value: amount(M0) + mou(M0) / 100')
        .replace(/( {2}- id: mou_drop\n)/, '$1    enabled: false\n'),
    );
    const r = await runCli(d, AS_OF, ['--rules', pack]);
    expectRefused(r, 65, 'CW_EXTRACT_MISSING_COLUMN', 'mou, read by the value');
  });
});

describe('inputs that are not regular files', () => {
  it('when readExtract is given a FIFO then it refuses it without waiting for a writer', async () => {
    const d = tempDir('fifo-read');
    dirs.push(d);
    const fifo = join(d, 'billing_monthly.csv');
    execFileSync('mkfifo', [fifo]);
    fifos.push(fifo);
    const err = await Promise.race([
      readExtract(fifo, { file: 'billing_monthly.csv' }, () => undefined).then(
        () => null,
        (e: unknown) => e,
      ),
      new Promise((resolve) => setTimeout(() => resolve('still waiting after 20 s'), 20_000).unref()),
    ]);
    expect(err).toBeInstanceOf(ChurnwatchError);
    expect([(err as ChurnwatchError).code, (err as ChurnwatchError).exitCode]).toEqual(['CW_INPUT_NOT_FILE', 66]);
  });

  it.each([
    ['tickets.csv', 'fifo', 'a FIFO'],
    ['billing_monthly.csv', 'folder', 'a folder'],
    ['do_not_call.csv', 'fifo', 'a FIFO'],
    ['usage_daily.csv', 'device', 'a device'],
  ])(
    'when %s is a %s then the run exits 66 (CW_INPUT_NOT_FILE) before opening it and releases its lock',
    async (file, kind, words) => {
      await ensureBuilt();
      const d = written();
      const p = join(d, file);
      rmSync(p, { force: true });
      if (kind === 'fifo') {
        execFileSync('mkfifo', [p]);
        fifos.push(p);
      }
      if (kind === 'folder') mkdirSync(p);
      if (kind === 'device') symlinkSync('/dev/null', p);
      const child = spawnCli(['run', '--input', d, '--out', join(d, 'out'), '--as-of', AS_OF, '--log-level', 'silent']);
      // A run that opened the FIFO would wait forever: it is killed after a minute, and fails below.
      const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const r = await collect(child).finally(() => clearTimeout(killer));
      expect([r.code, r.stderr]).toEqual([66, expect.stringContaining('[CW_INPUT_NOT_FILE]')]);
      expect(r.stderr).toContain(words);
      expect(existsSync(join(d, 'out', '.churnwatch.lock'))).toBe(false);
    },
    90_000,
  );
});
