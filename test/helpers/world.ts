/**
 * A tiny world of extracts for tests: a filler subscriber keeps every gate satisfied
 * (all bill months and usage days present), and each test adds the subscribers it
 * needs. run() writes the CSVs to a temp folder, runs the real CLI in-process and
 * returns the published scores and tasks.
 */
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { main } from '../../src/cli/main.js';
import { defaultHeader, type ExtractName } from '../../src/contract/contract.js';
import { daysFromCivil, formatDay, formatMonth, monthOfDay, parseDay } from '../../src/util/dates.js';

export type Row = Record<string, string>;

/** The extracts a world writes, each with the header a default export has (from the contract). */
const FILES = ['subscribers', 'billing_monthly', 'usage_daily', 'tickets', 'contracts'] as const satisfies readonly ExtractName[];

type FileName = (typeof FILES)[number];

export interface RunOutcome {
  code: number;
  stdout: string;
  stderr: string;
  dir: string;
  outDir: string;
  published: string;
  scores: Map<string, Row>;
  tasks: Record<string, Row[]>;
  // biome-ignore lint/suspicious/noExplicitAny: summary.json as published, which the tests read by path
  summary: Record<string, any>;
}

function csv(header: readonly string[], rows: Row[]): string {
  const q = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
  return [header.join(','), ...rows.map((r) => header.map((h) => q(r[h] ?? '')).join(','))].join('\n') + '\n';
}

export class World {
  readonly D: number;
  readonly rows: Record<FileName, Row[]> = { subscribers: [], billing_monthly: [], usage_daily: [], tickets: [], contracts: [] };
  private phone = 13800000000;
  private ticketNo = 0;
  private contractNo = 0;

  constructor(
    readonly asOf = '2026-11-23',
    filler = true,
  ) {
    this.D = parseDay(asOf);
    if (filler) {
      this.sub('FILLER', {});
      for (let k = 0; k <= 5; k++) this.bill('FILLER', this.month(k), '50.00', { mou: '100', hotline_calls: '0' });
      for (let k = 1; k <= 14; k++) this.usage('FILLER', this.day(k), { calls: '3' });
      // Keep the optional-looking but needed extracts non-empty without hitting any rule.
      this.ticket('FILLER', this.day(200), 'inquiry');
      this.contract('FILLER', this.rel(400), '1');
    }
  }

  /** Mk as YYYY-MM, with M0 the month before the run month (the filler bills it). */
  month(k: number): string {
    return formatMonth(monthOfDay(this.D) - 1 - k);
  }
  /** dk (or D+offset with negative k) as YYYY-MM-DD. */
  day(k: number): string {
    return formatDay(this.D - k);
  }
  rel(offset: number): string {
    return formatDay(this.D + offset);
  }

  sub(id: string, f: Partial<Row>): this {
    this.rows.subscribers.push({
      subscriber_id: id,
      msisdn: String(this.phone++),
      name: '测试',
      status: 'active',
      member_level: 'none',
      region: '南山',
      manager_id: 'M1',
      plan_id: 'P1',
      ...f,
    } as Row);
    return this;
  }
  bill(id: string, month: string, amount: string, f: Partial<Row> = {}): this {
    this.rows.billing_monthly.push({ subscriber_id: id, bill_month: month, amount, ...f } as Row);
    return this;
  }
  /** amounts[k] is amount(Mk). */
  bills(id: string, amounts: string[], f: Partial<Row>[] = []): this {
    amounts.forEach((a, k) => {
      this.bill(id, this.month(k), a, f[k] ?? {});
    });
    return this;
  }
  usage(id: string, date: string, f: Partial<Row>): this {
    this.rows.usage_daily.push({
      subscriber_id: id,
      usage_date: date,
      calls: '0',
      sms: '0',
      data_mb: '0',
      forwarded_calls: '0',
      ...f,
    } as Row);
    return this;
  }
  ticket(id: string, created: string, kind: string): this {
    this.rows.tickets.push({ ticket_id: `T${++this.ticketNo}`, subscriber_id: id, created_at: created, kind, category: 'network' });
    return this;
  }
  contract(id: string, end: string, renewed: string, kind = 'plan_contract', start = '2024-01-01'): this {
    this.rows.contracts.push({ contract_id: `C${++this.contractNo}`, subscriber_id: id, kind, start_date: start, end_date: end, renewed });
    return this;
  }

  write(dir = mkdtempSync(join(tmpdir(), 'cw-world-')), only?: FileName[]): string {
    for (const name of FILES) {
      if (only && !only.includes(name)) continue;
      writeFileSync(join(dir, `${name}.csv`), csv(defaultHeader(name), this.rows[name]));
    }
    return dir;
  }

  /**
   * Runs the CLI on the world. Without --rules it runs the default pack with no
   * holdout: a test's few subscribers must not fall into the 5% control group by
   * their ids (test/policy covers the holdout).
   */
  async run(extraArgs: string[] = [], dir = this.write()): Promise<RunOutcome> {
    if (extraArgs.includes('--rules')) return runCli(dir, this.asOf, extraArgs);
    const pack = join(dir, 'no-holdout.yaml');
    writeFileSync(
      pack,
      readFileSync('rules/default.yaml', 'utf8').replace(/^(policy:\n(?:[ #].*\n)*?) {2}holdout: .*\n/m, '$1  holdout: { share: 0 }\n'),
    );
    return runCli(dir, this.asOf, [...extraArgs, '--rules', pack]);
  }
}

export async function runCli(dir: string, asOf: string, extraArgs: string[] = [], outDir = join(dir, 'out')): Promise<RunOutcome> {
  let stdout = '',
    stderr = '';
  const code = await main(['run', '--input', dir, '--out', outDir, '--as-of', asOf, '--log-level', 'silent', ...extraArgs], {
    out: (s) => {
      stdout += s;
    },
    err: (s) => {
      stderr += s;
    },
  });
  const published = join(outDir, asOf);
  const read = (f: string) => parse(readFileSync(join(published, f)), { columns: true }) as Row[];
  const ok = code === 0 && existsSync(join(published, 'manifest.json'));
  return {
    code,
    stdout,
    stderr,
    dir,
    outDir,
    published,
    scores: ok ? new Map(read('scores.csv').map((r) => [r.subscriber_id!, r])) : new Map(),
    // A profile other than plain writes other task files (tests of profiles read them themselves).
    tasks: ok
      ? Object.fromEntries(
          ['high', 'mid', 'mass']
            .filter((t) => existsSync(join(published, `tasks-${t}-call.csv`)))
            .map((t) => [t, tierTasks(published, t)]),
        )
      : {},
    summary: ok ? JSON.parse(readFileSync(join(published, 'summary.json'), 'utf8')) : {},
  };
}

/** The plain channel files of a tier ("" or "-delta"). */
export const plainFiles = (tier: string, suffix = '') => ['call', 'visit', 'sms'].map((c) => `tasks-${tier}-${c}${suffix}.csv`);

/** Every plain task file of a night (not the deltas). */
export const PLAIN_TASK_FILES = ['high', 'mid', 'mass'].flatMap((t) => plainFiles(t));

/** A tier's plain channel files as one text (what one file per tier held, a task on two channels twice). */
export const tierText = (published: string, tier: string) =>
  plainFiles(tier)
    .map((f) => readFileSync(join(published, f), 'utf8'))
    .join('');

/**
 * A tier's tasks from its plain channel files, each task once (a task on two
 * channels is a row in each file), in rank order: what one file per tier held.
 */
export function tierTasks(published: string, tier: string, suffix = ''): Row[] {
  const byId = new Map<string, Row>();
  for (const f of plainFiles(tier, suffix)) {
    for (const row of parse(readFileSync(join(published, f)), { columns: true }) as Row[])
      if (!byId.has(row.task_id!)) byId.set(row.task_id!, row);
  }
  return [...byId.values()].sort((a, b) => Number(a.rank) - Number(b.rank));
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export { daysFromCivil };
