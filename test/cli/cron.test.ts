/**
 * The cron line that README and docs/operating.md give, run as cron runs it: through
 * `sh -c`, with no terminal and a bare environment, only the paths replaced. Its
 * NDJSON log must stay NDJSON (`jq` over it works) on a published night, a failed
 * night and a night stopped by a missing configuration, appended one after another;
 * the human lines go to the other file, and the mail goes out only on failure.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { formatDay, todayIn } from '../../src/util/dates.js';
import { ROOT, ensureBuilt } from '../hardening/helpers.js';
import { cleanup } from '../helpers/world.js';

/** The command of the one cron entry in a document's ```cron block (the schedule fields dropped). */
function documentedCronCommand(file: string): string {
  const block = /```cron\n([\s\S]*?)```/.exec(readFileSync(join(ROOT, file), 'utf8'))![1]!;
  const entries = block.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  expect(entries).toHaveLength(1);
  return entries[0]!.trim().split(/\s+/).slice(5).join(' ');
}

const work = mkdtempSync(join(tmpdir(), 'cw-cron-'));
afterAll(() => cleanup(work));

const paths = {
  '/opt/churnwatch': ROOT,
  '/data/extracts/today': join(work, 'today'),
  '/data/churnwatch': join(work, 'out'),
  '/etc/churnwatch.yaml': join(work, 'churnwatch.yaml'),
  '/var/log/': `${join(work, 'log')}/`,
  // No mail on this machine: the message is kept where the test can read it.
  'mail -s churnwatch retention-ops': `cat >> ${join(work, 'mail')}`,
};

function cronCommand(): string {
  let line = documentedCronCommand('README.md');
  for (const [from, to] of Object.entries(paths)) {
    expect(line).toContain(from);
    line = line.replaceAll(from, to);
  }
  return line;
}

/** Runs the line as cron would: sh -c, stdin from nowhere, no terminal, cron's few variables. */
function cron(line: string): Promise<number | null> {
  const env = { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: work, SHELL: '/bin/sh', LOGNAME: 'churnwatch' };
  return new Promise((res, rej) => {
    const child = spawn('/bin/sh', ['-c', line], { cwd: work, env, stdio: 'ignore' });
    child.on('error', rej);
    child.on('close', res);
  });
}

const ndjson = () => readFileSync(join(work, 'log', 'churnwatch.ndjson'), 'utf8');
const human = () => readFileSync(join(work, 'log', 'churnwatch.out'), 'utf8');
const mail = () => (existsSync(join(work, 'mail')) ? readFileSync(join(work, 'mail'), 'utf8') : '');

/** Every line of the log is a JSON record (what `jq` needs), and there is no other line. */
function records(): Record<string, unknown>[] {
  const text = ndjson();
  expect(text.endsWith('\n')).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON record in the log: ${l}`);
      }
    });
}

async function generate(asOf: number) {
  cleanup(paths['/data/extracts/today']);
  let err = '';
  const code = await main(
    ['generate', '--subscribers', '300', '--seed', '7', '--out', paths['/data/extracts/today'], '--as-of', formatDay(asOf)],
    {
      out: () => {},
      err: (s) => {
        err += s;
      },
    },
  );
  expect([code, err]).toEqual([0, '']);
}

beforeAll(async () => {
  await ensureBuilt();
  mkdirSync(join(work, 'log'));
  writeFileSync(paths['/etc/churnwatch.yaml'], 'time_zone: Asia/Shanghai\n');
});

describe('the documented cron line', () => {
  it('is the same in README.md and docs/operating.md', () => {
    expect(documentedCronCommand('docs/operating.md')).toBe(documentedCronCommand('README.md'));
  });

  it('when nights publish, fail on a gate and fail on the configuration then its log stays NDJSON and only failures are mailed', async () => {
    const line = cronCommand();

    // A good night: extracts for today (the line gives no --as-of). Should the date
    // change in Shanghai between generating and running, the night is tried again.
    let today: number;
    let code: number | null;
    do {
      today = todayIn('Asia/Shanghai');
      await generate(today);
      code = await cron(line);
    } while (todayIn('Asia/Shanghai') !== today);
    expect(code).toBe(0);
    expect(mail()).toBe('');
    const good = records();
    const published = join(paths['/data/churnwatch'], formatDay(today));
    expect(human()).toMatch(new RegExp(`^published ${published} \\(tasks: high \\d+, mid \\d+, mass \\d+\\)\\n$`));
    expect(good.at(-1)).toMatchObject({ msg: 'run done', published, exit: 0, level: 30 });
    expect(good.some((r) => r.msg === 'stage done' && r.stage === 'ingest')).toBe(true);

    // A bad night: the extracts are a month old, so the gates stop the run (the date
    // is taken off OUTDIR first, as if this were the next day).
    cleanup(published);
    await generate(today - 31);
    expect(await cron(line)).toBe(0); // the `|| ... | mail` part ran and succeeded
    expect(mail()).toBe('churnwatch exit 65\n');
    const gate = human().split('\n').at(-2)!;
    expect(gate).toMatch(/^churnwatch: gate [^\n]+ \[CW_GATE_[A-Z_]+\]$/);
    const bad = records();
    expect(bad.length).toBeGreaterThan(good.length);
    expect(bad.at(-1)).toMatchObject({ level: 50, code: expect.stringMatching(/^CW_GATE_/), exit: 65 });
    expect(`churnwatch: ${bad.at(-1)!.msg} [${bad.at(-1)!.code}]`).toBe(gate);

    // A night without its configuration: refused before the run starts, and still one record.
    cleanup(paths['/etc/churnwatch.yaml']);
    expect(await cron(line)).toBe(0);
    expect(mail()).toBe('churnwatch exit 65\nchurnwatch exit 66\n');
    expect(records().at(-1)).toMatchObject({ level: 50, exit: 66 });
    expect(human().split('\n').at(-2)).toMatch(/^churnwatch: .*churnwatch\.yaml.* \[CW_[A-Z_]+\]$/);
  });
});

describe('--log-file', () => {
  it('when the log file cannot be created then the run stops with 73 before reading anything', async () => {
    let err = '';
    const code = await main(
      ['run', '--input', work, '--out', join(work, 'never'), '--log-file', join(work, 'no', 'such', 'folder', 'x.ndjson')],
      {
        out: () => {},
        err: (s) => {
          err += s;
        },
      },
    );
    expect(code).toBe(73);
    expect(err).toMatch(/^churnwatch: cannot open the log file [^\n]+x\.ndjson for appending \(ENOENT\)[^\n]* \[CW_OUTPUT_UNWRITABLE\]\n$/);
    expect(existsSync(join(work, 'never'))).toBe(false);
  });

  it('when --log-file is empty then it is a usage error', async () => {
    let err = '';
    expect(
      await main(['run', '--input', work, '--out', join(work, 'never'), '--log-file', ''], {
        out: () => {},
        err: (s) => {
          err += s;
        },
      }),
    ).toBe(64);
    expect(err).toBe('churnwatch: --log-file needs a file name [CW_USAGE]\n');
  });
});
