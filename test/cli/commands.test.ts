/**
 * The command line as a user meets it: help on every command, the version, rule
 * pack checking, and the generator's determinism through the CLI.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { cli } from '../helpers/cli.js';
import { VERSION } from '../../src/version.js';
import { cleanup } from '../helpers/world.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach(cleanup));

describe('churnwatch CLI', () => {
  it('when --version is asked then it prints the version and exits 0', async () => {
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(VERSION);
    expect(JSON.parse(readFileSync('package.json', 'utf8')).version).toBe(VERSION);
  });

  it.each([[[]], [['run']], [['explain']], [['generate']], [['rules']], [['rules', 'check']]])(
    'when --help is asked of %j then it exits 0 with usage text',
    async (cmd) => {
      const r = await cli([...cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.out).toContain('Usage: churnwatch');
    },
  );

  it.each([[['help']], [['help', 'run']], [['help', 'rules']], [['rules', 'help', 'check']]])(
    'when %j is asked then it is help, not an error: exit 0 with usage text',
    async (cmd) => {
      const r = await cli(cmd);
      expect(r.code).toBe(0);
      expect(r.out).toContain('Usage: churnwatch');
      expect(r.err).toBe('');
    },
  );

  // Every usage error: one line on stderr in the form of every other error, exit 64.
  const oneUsageLine = (err: string) => expect(err).toMatch(/^churnwatch: [^\n]+ \[CW_USAGE\]\n$/);

  it.each([
    ['a mistyped command with --help', ['backtset', '--help']],
    ['a mistyped command with -h before it', ['-h', 'backtset']],
    ['a mistyped command alone', ['backtset']],
    ['help for an unknown command', ['help', 'backtset']],
    ['a mistyped subcommand with --help', ['rules', 'chek', '--help']],
  ])('when given %s then it exits 64 and prints no help', async (_what, argv) => {
    const r = await cli(argv);
    expect(r.code).toBe(64);
    expect(r.out).toBe('');
    oneUsageLine(r.err);
    expect(r.err).toContain(`unknown command '${argv.find((a) => !a.startsWith('-') && a !== 'help' && a !== 'rules')}'`);
  });

  it.each([
    ['run', '--out', 'y'],
    ['explain', '--subscriber', 'U1'],
    ['backtest', '--labels', 'l.csv'],
    ['diff', '--rules-b', 'b.yaml'],
  ])('when %s is given --workers 0 then it exits 64 before reading anything', async (cmd, ...rest) => {
    const r = await cli([cmd, '--input', 'x', ...rest, '--workers', '0']);
    expect(r.code).toBe(64);
    oneUsageLine(r.err);
    expect(r.err).toContain('expected a whole number of threads from 1 to 256');
  });

  it('when a command is mistyped close to a real one then the error suggests it', async () => {
    const r = await cli(['rnu', '--input', 'x', '--out', 'y']);
    expect(r.code).toBe(64);
    expect(r.err).toBe("churnwatch: unknown command 'rnu' (did you mean run?); see 'churnwatch --help' [CW_USAGE]\n");
  });

  it.each([
    [[], 'run, explain, generate, rules, report, backtest, calibrate, diff, sql, tasks', 'churnwatch'],
    [['rules'], 'check', 'churnwatch rules'],
  ])('when %j has no command then it exits 64 with one line naming the commands', async (argv, names, cmd) => {
    const r = await cli(argv);
    expect(r.code).toBe(64);
    expect(r.err).toBe(`churnwatch: missing command: ${names}; see '${cmd} --help' [CW_USAGE]\n`);
  });

  it.each([
    [
      'an unknown option',
      ['run', '--input', 'x', '--out', 'y', '--frobnicate'],
      "unknown option '--frobnicate'; see 'churnwatch run --help'",
    ],
    ['a mistyped option', ['--versoin'], "unknown option '--versoin' (did you mean --version?); see 'churnwatch --help'"],
    ['a missing required option', ['run', '--input', 'x'], "required option '--out <dir>' not specified; see 'churnwatch run --help'"],
    [
      'an invalid argument',
      ['run', '--input', 'x', '--out', 'y', '--as-of', '2026-02-30'],
      "option '--as-of <date>' argument '2026-02-30' is invalid. expected a date YYYY-MM-DD; see 'churnwatch run --help'",
    ],
    [
      'a choice not offered',
      ['run', '--input', 'x', '--out', 'y', '--log-level', 'loud'],
      "option '--log-level <level>' argument 'loud' is invalid. Allowed choices are",
    ],
    [
      'excess arguments',
      ['rules', 'check', 'a.yaml', 'b.yaml'],
      "too many arguments for 'check'. Expected 1 argument but got 2; see 'churnwatch rules check --help'",
    ],
  ])("when given %s then commander's error comes in the one form, exit 64", async (_what, argv, text) => {
    const r = await cli(argv);
    expect(r.code).toBe(64);
    oneUsageLine(r.err);
    expect(r.err).toContain(`churnwatch: ${text}`);
  });

  it('when a command fails with a bug then stderr has one line with CW_INTERNAL and no stack, exit 70', async () => {
    let err = '';
    const code = await main(['rules', 'check'], {
      out: () => {
        throw new TypeError('boom\nsecond line');
      },
      err: (s) => {
        err += s;
      },
    });
    expect(code).toBe(70);
    expect(err).toMatch(/^churnwatch: internal error[^\n]*: TypeError: boom \[CW_INTERNAL\]\n$/);
  });

  it('when the default rule pack is checked then it lists every rule with what it reads', async () => {
    const r = await cli(['rules', 'check']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('rule pack default v1');
    expect(r.out).toContain('12 rules, 12 enabled');
    expect(r.out).toContain('arpu_drop_mom: Bill dropped month over month');
    expect(r.out).toContain('reads: amount(M1), amount(M0) (from billing_monthly)');
    expect(r.out).toContain("reads: tickets('complaint', -90, -1), tickets('fault', -90, -1) (from tickets)");
    expect(r.out).toContain('extracts needed: subscribers, billing_monthly, usage_daily, tickets, contracts');
  });

  it('when a broken rule pack is checked then it exits 78 and points at the mistake', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cw-cli-'));
    dirs.push(dir);
    const pack = readFileSync('rules/default.yaml', 'utf8').replace('amount(M1) >= 10 and', 'amount(M1) >= 10 and and');
    writeFileSync(join(dir, 'bad.yaml'), pack);
    const r = await cli(['rules', 'check', join(dir, 'bad.yaml')]);
    expect(r.code).toBe(78);
    expect(r.err).toContain('rule arpu_drop_mom.when');
    expect(r.err).toContain('^');
  });

  it('when a rule pack file does not exist then it exits 66', async () => {
    expect((await cli(['rules', 'check', '/nonexistent/pack.yaml'])).code).toBe(66);
  });

  it('when generate runs twice with one seed then the files are byte-identical, and differ with another seed', async () => {
    const base = mkdtempSync(join(tmpdir(), 'cw-gen-'));
    dirs.push(base);
    const digest = (d: string) =>
      Object.fromEntries(
        readdirSync(d)
          .sort()
          .map((f) => [
            f,
            createHash('sha256')
              .update(readFileSync(join(d, f)))
              .digest('hex'),
          ]),
      );
    for (const [name, seed] of [
      ['a', '5'],
      ['b', '5'],
      ['c', '6'],
    ]) {
      const r = await cli(['generate', '--subscribers', '300', '--seed', seed!, '--out', join(base, name!), '--as-of', '2026-11-23']);
      expect(r.code).toBe(0);
      expect(r.out).toContain('subscribers.csv\t300 rows');
    }
    expect(digest(join(base, 'a'))).toEqual(digest(join(base, 'b')));
    expect(digest(join(base, 'a'))['billing_monthly.csv']).not.toBe(digest(join(base, 'c'))['billing_monthly.csv']);
  });
});
