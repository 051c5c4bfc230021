/**
 * A scores table computed elsewhere (the SQL script on Spark or DuckDB, or a local
 * run's scores file) → the values the task stage takes: the feature columns the
 * reason texts read, the evaluation (flags, value, exclusion) and the scores (risk,
 * expected loss, tier, hits), indexed like the subscriber table.
 *
 * Rows come in one at a time, in any order, from whatever reads the table (a CSV or
 * Parquet reader, or a database cursor); each cell may be text (as scores.csv and the
 * SQL script write it), a number or null. Nothing is taken on trust: the value, the
 * exclusion and every flag are evaluated again by the compiled pack over the row's
 * measures and the subscriber's attributes (from subscribers.csv), and the tier, risk
 * and expected loss scored again, so the full-precision numbers that rank the tasks
 * are the in-process engine's; each cell of the table must then agree with them as
 * scores.csv would write it. A table from another pack, another date or a changed
 * file fails with the file, line and column of the first cell that disagrees.
 */
import { requiredFeatures, type RulePack } from '../config/rulepack.js';
import { TIERS } from '../contract/contract.js';
import { ChurnwatchError } from '../errors.js';
import { columnsFor, evaluate, type Evaluation } from '../evaluate/evaluate.js';
import type { FeatureTable } from '../features/features.js';
import type { SubscriberTable } from '../ingest/subscribers.js';
import { featureKey, measureColumnName, scoreMeasures, type FeatureRequest } from '../rules/catalogue.js';
import type { Column, FeatureColumn } from '../rules/compile.js';
import { score, type Scores } from './score.js';

/** A cell as a reader hands it over: text, a number (Parquet, a database), or null (not given). */
export type ScoresCell = string | number | bigint | boolean | null | undefined;

/** The leading columns of every scores file, before the rule and measure columns. */
export const SCORES_LEAD = ['subscriber_id', 'value', 'tier', 'risk_score', 'expected_loss'] as const;

export interface ScoresAnalysis {
  /** The features the pack reads, by key (measures from the table, attributes from subscribers.csv). */
  features: Map<string, FeatureRequest>;
  table: FeatureTable;
  evaluation: Evaluation;
  scores: Scores;
}

/** A cell that starts like a spreadsheet formula is written with a leading quote (scores.csv's ids). */
const NEUTRALISED = /^'[=+\-@\t\r]/;

const DECIMAL = /^[+-]?[0-9]+([.][0-9]+)?$/;

export class ScoresIntake {
  private readonly features: Map<string, FeatureRequest>;
  private readonly measures: FeatureRequest[];
  private readonly n: number;
  /** Position in the table's header of each lead, rule and measure column (-1 until the header is read). */
  private at = { id: -1, value: -1, tier: -1, risk: -1, loss: -1 };
  private ruleAt: number[] = [];
  private readonly ruleIds: string[];
  private measureAt: number[] = [];
  private width = 0;
  private readonly line: Float64Array;
  private readonly value: Float64Array;
  private readonly risk: Float64Array;
  private readonly loss: Float64Array;
  private readonly tier: Uint8Array;
  private readonly flags: Uint8Array[];
  private readonly measureColumns: Float64Array[];
  private rows = 0;
  /** Where rows are counted: lines of a CSV file, rows of a Parquet file. */
  private unit: 'line' | 'row' = 'line';
  /** The sources so far, and the one each subscriber's row came from. */
  private readonly sources: { file: string; unit: 'line' | 'row' }[] = [];
  private readonly sourceOf: Uint16Array;

  /**
   * `file`: the name errors give; `subscribers`: the table read from subscribers.csv,
   * with its id table (rows name subscribers by id).
   */
  constructor(
    private readonly pack: RulePack,
    private readonly subscribers: SubscriberTable,
    private readonly D: number,
    private file: string,
  ) {
    if (!subscribers.idTable) throw new Error('internal: the subscriber table has no id table');
    this.n = subscribers.n;
    this.features = requiredFeatures(pack);
    this.measures = scoreMeasures(this.features.values());
    const n = this.n;
    this.line = new Float64Array(n);
    this.sourceOf = new Uint16Array(n);
    this.value = new Float64Array(n);
    this.risk = new Float64Array(n);
    this.loss = new Float64Array(n);
    this.tier = new Uint8Array(n);
    this.ruleIds = pack.rules.filter((r) => r.enabled).map((r) => r.id);
    this.flags = this.ruleIds.map(() => new Uint8Array(n));
    this.measureColumns = this.measures.map(() => new Float64Array(n));
  }

  /** The file the next rows come from (a folder of part files has several), and how its rows are counted. */
  source(file: string, unit: 'line' | 'row'): void {
    this.file = file;
    this.unit = unit;
    this.sources.push({ file, unit });
  }

  private fail(line: number, column: string | null, what: string): never {
    throw new ChurnwatchError(
      'CW_SCORES_INVALID',
      `${this.file}: ${this.unit} ${line}${column === null ? '' : `, column ${column}`}: ${what}`,
      column === null ? { file: this.file, line } : { file: this.file, line, column },
    );
  }

  /** The names the table must have: the lead columns, a column per enabled rule, a column per measure the pack reads. */
  expectedColumns(): string[] {
    return [...SCORES_LEAD, ...this.ruleIds, ...this.measures.map(measureColumnName)];
  }

  /**
   * The table's column names (line: where they are). Any order; an attribute column
   * the pack reads (a local run's `--with-measures` file has them) is passed over,
   * since the attributes come from subscribers.csv.
   */
  header(names: readonly string[], line = 1): void {
    const where = new Map<string, number>();
    names.forEach((raw, k) => {
      const name = raw.trim();
      if (where.has(name)) this.fail(line, name, 'the column appears twice; which one is meant is never guessed');
      where.set(name, k);
    });
    const expected = this.expectedColumns();
    const pos = (name: string, why: string): number => {
      const k = where.get(name);
      if (k === undefined)
        this.fail(line, null, `no column ${name} (${why}); write the scores with this rule pack (churnwatch sql --rules ...)`);
      return k;
    };
    this.at = {
      id: pos('subscriber_id', 'every scores file has it'),
      value: pos('value', 'every scores file has it'),
      tier: pos('tier', 'every scores file has it'),
      risk: pos('risk_score', 'every scores file has it'),
      loss: pos('expected_loss', 'every scores file has it'),
    };
    this.ruleAt = this.ruleIds.map((id) => pos(id, `the flag of enabled rule ${id}`));
    this.measureAt = this.measures.map((f) => pos(measureColumnName(f), `the measure ${featureKey(f)} that the pack reads`));
    const known = new Set([...expected, ...[...this.features.values()].filter((f) => f.source === 'subscribers').map(measureColumnName)]);
    for (const name of where.keys())
      if (!known.has(name))
        this.fail(
          line,
          name,
          `the rule pack has no rule or measure of that name; the columns are ${expected.join(', ')} (was the file written with another pack?)`,
        );
    this.width = names.length;
  }

  /** One row of the table: its line (for errors) and its cells in header order. */
  row(line: number, cells: readonly ScoresCell[]): void {
    if (this.width === 0) throw new Error('internal: a row before the header');
    if (cells.length !== this.width) this.fail(line, null, `${cells.length} fields instead of the header's ${this.width}`);
    const i = this.subscriber(line, cells[this.at.id]);
    if (this.line[i] !== 0) this.fail(line, 'subscriber_id', 'the subscriber has a row already');
    this.line[i] = line;
    this.sourceOf[i] = Math.max(0, this.sources.length - 1);
    this.rows++;
    this.value[i] = this.number(line, 'value', cells[this.at.value], true);
    const t = cells[this.at.tier];
    const tier = typeof t === 'string' ? (TIERS as readonly string[]).indexOf(t.trim()) : -1;
    if (tier < 0) this.fail(line, 'tier', `the tier must be one of ${TIERS.join(', ')}`);
    this.tier[i] = tier;
    this.risk[i] = this.number(line, 'risk_score', cells[this.at.risk], false);
    this.loss[i] = this.number(line, 'expected_loss', cells[this.at.loss], false);
    this.ruleAt.forEach((k, j) => {
      const c = cells[k];
      const flag = c === '1' || c === 1 || c === 1n || c === true ? 1 : c === '0' || c === 0 || c === 0n || c === false ? 0 : -1;
      if (flag < 0) this.fail(line, this.ruleIds[j]!, 'a rule flag must be 0 or 1');
      this.flags[j]![i] = flag;
    });
    this.measureAt.forEach((k, m) => {
      this.measureColumns[m]![i] = this.number(line, measureColumnName(this.measures[m]!), cells[k], true);
    });
  }

  private subscriber(line: number, cell: ScoresCell): number {
    // A warehouse may have typed the ids as numbers: their text is looked up (leading zeros are then lost, and the lookup says so).
    const text = typeof cell === 'number' || typeof cell === 'bigint' ? String(cell) : cell;
    if (typeof text !== 'string' || text.trim() === '') this.fail(line, 'subscriber_id', 'the subscriber id is empty');
    const ids = this.subscribers.idTable!;
    const id = text.trim();
    let i = ids.indexOf(id);
    if (i < 0 && NEUTRALISED.test(id)) i = ids.indexOf(id.slice(1));
    if (i < 0)
      this.fail(line, 'subscriber_id', 'the subscriber is not in subscribers.csv (or its row there was rejected): score the same extracts');
    return i;
  }

  /** A number cell; empty (or null) is not given, where `mayBeEmpty`. */
  private number(line: number, column: string, cell: ScoresCell, mayBeEmpty: boolean): number {
    if (cell === null || cell === undefined || cell === '') {
      if (mayBeEmpty) return Number.NaN;
      this.fail(line, column, 'the cell is empty');
    }
    if (typeof cell === 'number' && Number.isFinite(cell)) return cell;
    if (typeof cell === 'bigint') return Number(cell);
    if (typeof cell === 'string' && DECIMAL.test(cell.trim())) return Number(cell.trim());
    return this.fail(line, column, 'not a decimal number');
  }

  /** The task stage's input; every subscriber must have had a row, and every row must agree with the pack. */
  finish(): ScoresAnalysis {
    if (this.width === 0) this.fail(1, null, 'the file has no header');
    if (this.rows !== this.n)
      this.fail(
        this.rows + 1,
        null,
        `the file has rows for ${this.rows} of the ${this.n} subscribers in subscribers.csv; score every subscriber of the same extracts`,
      );
    const table = this.featureTable();
    const evaluation = evaluate(this.pack, table, this.D);
    const scores = score(this.pack, evaluation, this.subscribers.ids);
    this.agree(evaluation, scores);
    return { features: this.features, table, evaluation, scores };
  }

  /** The subscribers' attributes as the subscriber table holds them, the measures as the table gives them. */
  private featureTable(): FeatureTable {
    const s = this.subscribers;
    const attributes: Record<string, Column> = {
      status: s.status,
      member_level: s.memberLevel,
      prepaid_balance: s.prepaidBalance,
      activation_date: s.activationDate,
      status_since: s.statusSince,
    };
    const columns = new Map<string, FeatureColumn>();
    for (const [key, f] of this.features) if (f.source === 'subscribers') columns.set(key, attributes[f.column]!);
    this.measures.forEach((f, m) => {
      const values = this.measureColumns[m]!;
      // The table gives billing and usage measures in their units already: a divisor of 1.
      columns.set(featureKey(f), f.source === 'billing' || f.source === 'usage' ? { values, unit: 1 } : values);
    });
    // The measures' cells were read with their decimals: the same numbers as the in-process sums.
    columnsFor({ n: this.n, columns }, [...this.features.keys()]);
    return { n: this.n, columns };
  }

  /** Each cell against the pack's own answer, as scores.csv writes it; the first disagreement fails. */
  private agree(ev: Evaluation, sc: Scores): void {
    const fixed = (v: number, digits: number) => (Number.isFinite(v) ? (v === 0 ? 0 : v).toFixed(digits) : '');
    const other = 'the row does not follow from its measures and subscribers.csv under this rule pack and date';
    for (let i = 0; i < this.n; i++) {
      const line = this.line[i]!;
      const from = this.sources[this.sourceOf[i]!];
      if (from !== undefined) {
        this.file = from.file;
        this.unit = from.unit;
      }
      const check = (column: string, got: string, want: string) => {
        if (got !== want)
          this.fail(line, column, `${got === '' ? 'empty' : got}, but the pack gives ${want === '' ? 'no value' : want}: ${other}`);
      };
      ev.flags.forEach((f, j) => {
        check(ev.ruleIds[j]!, String(this.flags[j]![i]), String(f[i]));
      });
      check('value', fixed(this.value[i]!, 2), fixed(ev.value[i]!, 2));
      check('tier', TIERS[this.tier[i]!]!, TIERS[sc.tier[i]!]!);
      check('risk_score', fixed(this.risk[i]!, 4), fixed(sc.risk[i]!, 4));
      check('expected_loss', fixed(this.loss[i]!, 2), fixed(sc.expectedLoss[i]!, 2));
    }
  }
}
