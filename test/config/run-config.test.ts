/**
 * The run configuration is validated by one schema: every key known, every value of
 * its type, and the rules that tie keys together. Each failure exits 78 and names
 * the key path and what it expects.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRulePack } from '../../src/config/rulepack.js';
import { defaultRunConfig, loadRunConfig, parseRunConfig } from '../../src/config/run-config.js';
import { ChurnwatchError } from '../../src/errors.js';

function failure(yaml: string): ChurnwatchError {
  try {
    parseRunConfig(yaml, 'run.yaml');
  } catch (e) {
    if (e instanceof ChurnwatchError) return e;
    throw e;
  }
  throw new Error(`accepted: ${yaml}`);
}

/** [configuration, key path named, words of what is expected] */
const WRONG: [string, string, string][] = [
  ['input:\n  thousands: "yes"\n  delimiter: "|"', 'input.thousands', 'true or false'],
  ['input:\n  thousands: 1\n  delimiter: "|"', 'input.thousands', 'true or false'],
  ['output:\n  mask: "false"', 'output.mask', 'true or false'],
  ['output:\n  mask: true\n  dialer_full_number: "no"', 'output.dialer_full_number', 'true or false'],
  ['output:\n  allow_shared_modes: "yes"', 'output.allow_shared_modes', 'true or false'],
  ['input:\n  delimiter: 1', 'input.delimiter', 'one of'],
  ['input:\n  delimiter: ":"', 'input.delimiter', 'one of'],
  ['input:\n  encoding: latin1', 'input.encoding', 'utf8, gbk, gb18030'],
  ['input:\n  encoding: 8', 'input.encoding', 'utf8, gbk, gb18030'],
  ['input:\n  encodings:\n    tickets: latin1', 'input.encodings.tickets', 'utf8, gbk, gb18030'],
  ['input:\n  encodings:\n    invoices: utf8', 'input.encodings.invoices', 'unknown key'],
  ['input:\n  encodings: utf8', 'input.encodings', 'mapping'],
  ['input:\n  files:\n    tickets: 3', 'input.files.tickets', 'a file name'],
  ['input:\n  files:\n    tickets: ""', 'input.files.tickets', 'not empty'],
  ['input:\n  files:\n    tickets: [a.csv]', 'input.files.tickets', 'a file name'],
  ['input:\n  columns:\n    billing_monthly:\n      amount: 12', 'input.columns.billing_monthly.amount', 'a header name'],
  ['input:\n  columns:\n    billing_monthly:\n      amount: true', 'input.columns.billing_monthly.amount', 'a header name'],
  ['input:\n  columns:\n    billing_monthly:\n      amount_due: x', 'input.columns.billing_monthly.amount_due', 'unknown key'],
  ['input:\n  columns: [a]', 'input.columns', 'mapping'],
  ['input: 3', 'input', 'mapping'],
  ['inputs: {}', 'inputs', 'unknown key'],
  ['time_zone: 8', 'time_zone', 'IANA'],
  ['time_zone: Mars/Olympus', 'time_zone', 'IANA'],
  ['output:\n  file_mode: true', 'output.file_mode', 'octal mode'],
  ['output:\n  file_mode: "rw-------"', 'output.file_mode', 'octal mode'],
  ['output:\n  file_mode: "0400"', 'output.file_mode', 'owner'],
  ['input:\n  thousands: true', 'input.thousands', 'delimiter other than'],
  ['output:\n  dialer_full_number: false', 'output.dialer_full_number', 'output.mask: true'],
  ['output:\n  mask: true\n  dialer_full_number: false\n  profile: genesys', 'output.dialer_full_number', "dialer's import"],
  ['output:\n  profile: five9', 'output.profile', 'plain, excel-csv, jsonl, genesys, huawei-cec, alibaba-ccc'],
  ['output:\n  locale: fr', 'output.locale', 'en, zh-CN'],
  ['output:\n  campaign: "a b"', 'output.campaign', 'letters, digits'],
  ['output:\n  excel_encoding: latin1', 'output.excel_encoding', 'utf8-bom, gbk, gb18030'],
  ['output:\n  format: orc', 'output.format', 'arrow, parquet'],
  ['output:\n  max_rows_per_file: 0', 'output.max_rows_per_file', 'at least 1'],
  ['output:\n  max_rows_per_file: 2.5', 'output.max_rows_per_file', 'whole number'],
];

describe('run configuration schema', () => {
  it.each(WRONG)('when the configuration is %j then it exits 78 naming %s', (yaml, path, expected) => {
    const e = failure(yaml);
    expect([e.code, e.exitCode, e.context.path]).toEqual(['CW_CONFIG_INVALID', 78, path]);
    expect(e.message).toContain(`run.yaml: ${path}: `);
    expect(e.message).toContain(expected);
  });

  it('when several values are wrong then the message names each key', () => {
    const e = failure('input:\n  thousands: "yes"\noutput:\n  mask: 1');
    expect(e.message).toContain('input.thousands: must be true or false');
    expect(e.message).toContain('output.mask: must be true or false');
  });

  it('when a configuration is empty or sections are empty then every default is filled in (those of a run without one)', () => {
    for (const yaml of ['', '{}', 'input:\noutput:\nengine:\n']) {
      expect(parseRunConfig(yaml, 'run.yaml')).toStrictEqual(defaultRunConfig());
    }
  });

  it('when there is no configuration file then the defaults are those of an empty one, made without loading zod', () => {
    expect(loadRunConfig(undefined)).toStrictEqual(parseRunConfig('{}', '(defaults)'));
    // In a process of its own (this one shares its modules with other test files), the compiled module as the
    // CLI loads it: every module it imports is logged (ES modules by a resolve hook, CommonJS by require's cache).
    const probeDir = mkdtempSync(join(tmpdir(), 'cw-config-zod-'));
    const log = join(probeDir, 'modules.log');
    const hooks = `import { appendFileSync } from 'node:fs'; export async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(log)}, r.url + '\\n'); return r; }`;
    const probe = [
      "import { createRequire, register } from 'node:module';",
      `register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}));`,
      'const { loadRunConfig } = await import(process.argv[1]);',
      'loadRunConfig(undefined);',
      'process.stdout.write(Object.keys(createRequire(import.meta.url).cache).join("\\n"));',
    ].join('\n');
    const compiled = join(import.meta.dirname, '../../dist/config/run-config.js');
    const cjs = execFileSync(process.execPath, ['--input-type=module', '-e', probe, compiled], { encoding: 'utf8' });
    const loaded = `${readFileSync(log, 'utf8')}\n${cjs}`;
    rmSync(probeDir, { recursive: true, force: true });
    expect(loaded).toContain('config/run-config.js');
    expect(loaded).not.toContain('/node_modules/zod/');
  });

  it('when input.workers is given then it is read, and a count below 1 or not whole is refused', () => {
    expect(parseRunConfig('input:\n  workers: 3', 'run.yaml').input.workers).toBe(3);
    for (const [v, why] of [
      ['0', 'must be at least 1'],
      ['1.5', 'must be a whole number of threads'],
      ['"two"', 'must be a whole number of threads'],
    ]) {
      const e = failure(`input:\n  workers: ${v}`);
      expect([e.code, e.context.path]).toEqual(['CW_CONFIG_INVALID', 'input.workers']);
      expect(e.message).toContain(why);
    }
  });

  it('when the engine keys are given then they are read, and a size without a unit is refused', () => {
    const c = parseRunConfig('engine:\n  name: duckdb\n  memory_limit: 512MB\n  threads: 2\n', 'run.yaml');
    expect(c.engine).toEqual({ name: 'duckdb', memoryLimit: '512MB', threads: 2 });
    expect(() => parseRunConfig('engine:\n  memory_limit: "512"\n', 'run.yaml')).toThrow('engine.memory_limit: must be a size such as 2GB');
  });

  it('when the output profile keys are given then they are read', () => {
    const c = parseRunConfig(
      'output:\n  profile: genesys\n  locale: zh-CN\n  campaign: retention\n  excel_encoding: gbk\n  max_rows_per_file: 500',
      'run.yaml',
    );
    expect(c.output).toMatchObject({
      profile: 'genesys',
      locale: 'zh-CN',
      campaign: 'retention',
      excelEncoding: 'gbk',
      maxRowsPerFile: 500,
    });
  });

  it('when the README example is given then it reads as documented', () => {
    const c = parseRunConfig(
      [
        'time_zone: Asia/Shanghai',
        'input:',
        '  delimiter: "|"',
        '  encoding: GB18030',
        '  encodings: { tickets: UTF-8 }',
        '  thousands: true',
        '  files: { billing_monthly: zd_month.csv.gz }',
        '  columns:',
        '    subscribers: { subscriber_id: 用户编号, msisdn: 手机号码, status: 用户状态 }',
        'output: { file_mode: "0640", dir_mode: 750, mask: true, dialer_full_number: false }',
      ].join('\n'),
      'run.yaml',
    );
    expect(c.input).toEqual({
      delimiter: '|',
      encoding: 'gb18030',
      encodings: { tickets: 'utf8' },
      thousands: true,
      files: { billing_monthly: 'zd_month.csv.gz' },
      columns: { subscribers: { subscriber_id: '用户编号', msisdn: '手机号码', status: '用户状态' } },
    });
    expect(c.output).toEqual({ ...defaultRunConfig().output, fileMode: 0o640, dirMode: 0o750, mask: true, dialerFullNumber: false });
    expect(c.timeZone).toBe('Asia/Shanghai');
  });
});

describe('two contract columns mapped to one header', () => {
  it.each([
    ['amount: mou', 'input.columns.billing_monthly.amount'],
    ['amount: MOU ', 'input.columns.billing_monthly.amount'],
    ['mou: amount', 'input.columns.billing_monthly.mou'],
    ['amount: 金额\n      mou: 金额', 'input.columns.billing_monthly.mou'],
  ])('when billing_monthly maps %j then it exits 78 naming %s', (mapping, path) => {
    const e = failure(`input:\n  columns:\n    billing_monthly:\n      ${mapping}`);
    expect([e.code, e.exitCode, e.context.path]).toEqual(['CW_CONFIG_INVALID', 78, path]);
    expect(e.message).toMatch(/would both be read from the header/);
  });

  it("when a column takes another one's default name and that one is mapped away then it is accepted", () => {
    const c = parseRunConfig('input:\n  columns:\n    billing_monthly: { amount: mou, mou: minutes }', 'run.yaml');
    expect(c.input.columns.billing_monthly).toEqual({ amount: 'mou', mou: 'minutes' });
  });

  it('when two extracts are given one file then it exits 78 naming the second', () => {
    const e = failure('input:\n  files: { tickets: all.csv, contracts: all.csv }');
    expect([e.exitCode, e.context.path]).toEqual([78, 'input.files.contracts']);
  });
});

describe('output modes that would expose personal data', () => {
  it.each([
    ['file_mode', '0666'],
    ['file_mode', '0644'],
    ['file_mode', '0604'],
    ['file_mode', '0660'],
    ['file_mode', '0620'],
    ['dir_mode', '0777'],
    ['dir_mode', '0755'],
    ['dir_mode', '0701'],
    ['dir_mode', '0770'],
  ])('when output.%s is %s then it exits 78 naming the key and the opt-in', (key, mode) => {
    const e = failure(`output:\n  ${key}: "${mode}"`);
    expect([e.exitCode, e.context.path]).toEqual([78, `output.${key}`]);
    expect(e.message).toContain('output.allow_shared_modes: true');
    const c = parseRunConfig(`output:\n  ${key}: "${mode}"\n  allow_shared_modes: true`, 'run.yaml');
    expect(c.output[key === 'file_mode' ? 'fileMode' : 'dirMode']).toBe(Number.parseInt(mode, 8));
  });

  it('when the modes give a group read access only then they are accepted without the opt-in', () => {
    expect(parseRunConfig('output: { file_mode: "0640", dir_mode: "0750" }', 'run.yaml').output).toMatchObject({
      fileMode: 0o640,
      dirMode: 0o750,
    });
  });
});

describe('loadRunConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cw-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('records the file name and the sha256 of its bytes, and null for the defaults', () => {
    const text = 'input:\n  delimiter: "|"\n';
    writeFileSync(join(dir, 'run.yaml'), text);
    expect(loadRunConfig(join(dir, 'run.yaml')).source).toEqual({
      file: 'run.yaml',
      sha256: createHash('sha256').update(text).digest('hex'),
    });
    expect(loadRunConfig(undefined).source).toBeNull();
  });

  it('when --config names a FIFO or a folder then it exits 66 without reading it', () => {
    const fifo = join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    // Should the FIFO be opened after all, this writer ends the wait (with an empty
    // file) and the test fails instead of hanging.
    const writer = spawn('/bin/sh', ['-c', 'sleep 5; : > "$1"', 'sh', fifo], { stdio: 'ignore' });
    try {
      for (const p of [fifo, dir]) {
        let err: unknown;
        try {
          loadRunConfig(p);
        } catch (e) {
          err = e;
        }
        expect([(err as ChurnwatchError).code, (err as ChurnwatchError).exitCode]).toEqual(['CW_INPUT_MISSING', 66]);
      }
    } finally {
      writer.kill();
    }
  });

  it('when --rules names a FIFO or a folder then it exits 66 without reading it', () => {
    const fifo = join(dir, 'pack-fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    const writer = spawn('/bin/sh', ['-c', 'sleep 5; : > "$1"', 'sh', fifo], { stdio: 'ignore' });
    try {
      for (const p of [fifo, dir]) {
        let err: unknown;
        try {
          loadRulePack(p);
        } catch (e) {
          err = e;
        }
        expect([(err as ChurnwatchError).code, (err as ChurnwatchError).exitCode]).toEqual(['CW_INPUT_NOT_FILE', 66]);
      }
    } finally {
      writer.kill();
    }
  });
});
