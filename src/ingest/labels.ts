/**
 * The labels file of a backtest: `subscriber_id,churned` (0 or 1), optionally with a
 * `churn_date`. A row that cannot be read is counted with its line and column, not
 * dropped in silence; past a share of the rows the file is refused, since a backtest
 * on the remainder would measure an unknown selection.
 */
import { ChurnwatchError } from '../errors.js';
import { NO_DAY, parseDay } from '../util/dates.js';
import { fieldString } from './csv-scan.js';
import { readExtract } from './read-extract.js';

export interface LabelProblem {
  line: number;
  column: string;
  reason: string;
}

export interface Labels {
  file: string;
  /** Data records read. */
  records: number;
  /** The rows kept, in file order. */
  ids: string[];
  churned: Uint8Array;
  /** Day number of the churn date, NO_DAY when none is given. */
  churnDay: Int32Array;
  /** Rows that could not be read, including repeated ids (the first row of an id is kept). */
  malformed: number;
  /** The first few of them, for the analyst to look at. */
  problems: LabelProblem[];
}

const KEPT_PROBLEMS = 10;

export async function readLabels(path: string, file: string, maxBadShare: number): Promise<Labels> {
  let columns: { id: number; churned: number; date: number } | null = null;
  let width = 0,
    records = 0,
    malformed = 0;
  const problems: LabelProblem[] = [];
  const ids: string[] = [],
    churned: number[] = [],
    days: number[] = [];
  const seen = new Set<string>();
  const bad = (line: number, column: string, reason: string): void => {
    malformed++;
    if (problems.length < KEPT_PROBLEMS) problems.push({ line, column, reason });
  };
  await readExtract(path, { file }, (rec) => {
    if (columns === null) {
      const header: string[] = [];
      for (let i = 0; i < rec.count; i++) header.push(fieldString(rec, i).trim());
      const missing = ['subscriber_id', 'churned'].filter((c) => !header.includes(c));
      if (missing.length > 0) {
        throw new ChurnwatchError(
          'CW_EXTRACT_MISSING_COLUMN',
          `${file} line 1 lacks column ${missing.join(', ')}; a labels file starts with the header subscriber_id,churned (and optionally churn_date)`,
          { file, line: 1, column: missing[0] },
        );
      }
      columns = { id: header.indexOf('subscriber_id'), churned: header.indexOf('churned'), date: header.indexOf('churn_date') };
      width = rec.count;
      return;
    }
    records++;
    if (rec.count !== width) return bad(rec.line, '*', `the record has ${rec.count} fields but the header has ${width}`);
    const id = fieldString(rec, columns.id).trim();
    if (id === '') return bad(rec.line, 'subscriber_id', 'the subscriber_id is empty');
    const y = fieldString(rec, columns.churned).trim();
    if (y !== '0' && y !== '1') return bad(rec.line, 'churned', 'churned must be 0 or 1');
    let day = NO_DAY;
    if (columns.date >= 0) {
      const text = fieldString(rec, columns.date).trim();
      if (text !== '') {
        day = parseDay(text);
        if (Number.isNaN(day)) return bad(rec.line, 'churn_date', 'the churn date is not a date YYYY-MM-DD');
        if (y === '0') return bad(rec.line, 'churn_date', 'a churn date is given for a subscriber that did not churn');
      }
    }
    if (seen.has(id)) return bad(rec.line, 'subscriber_id', 'the subscriber_id has a label on an earlier line already');
    seen.add(id);
    ids.push(id);
    churned.push(y === '1' ? 1 : 0);
    days.push(day);
  });
  if (columns === null || records === 0) {
    throw new ChurnwatchError('CW_EXTRACT_EMPTY', `${file} has no label rows; write one row subscriber_id,churned per subscriber`, {
      file,
    });
  }
  if (malformed > maxBadShare * records) {
    const p = problems[0]!;
    throw new ChurnwatchError(
      'CW_GATE_REJECT_SHARE',
      `${file}: ${malformed} of ${records} label rows cannot be read (more than ${maxBadShare * 100}%); the first is line ${p.line}, column ${p.column}: ${p.reason}; fix the labels file`,
      { file, line: p.line, column: p.column, gate: 'max-reject-share' },
    );
  }
  return {
    file,
    records,
    ids,
    churned: Uint8Array.from(churned),
    churnDay: Int32Array.from(days),
    malformed,
    problems,
  };
}
