/**
 * Reads back the task ledger of the latest night published before D: OUTDIR/<day>/
 * ledger.csv for the greatest day before D. A rerun of D finds the same one, so
 * reruns stay byte-identical; a published night without a ledger (from before the
 * ledger existed) is passed over.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ChurnwatchError } from '../errors.js';
import { enumBytes } from '../ingest/fields.js';
import { CsvScanner, fieldEquals, fieldString, parseDayField, type RecordView } from '../ingest/csv-scan.js';
import { LEDGER_COLUMNS, PriorLedger, TASK_STATES } from '../tasks/ledger.js';
import { startsLikeFormula } from '../util/bytes.js';
import { formatDay, parseDay } from '../util/dates.js';

const DAY_DIR = /^\d{4}-\d{2}-\d{2}$/;

export function latestLedgerBefore(outRoot: string, D: number): { path: string; day: number } | null {
  let best: { path: string; day: number } | null = null;
  let names: string[];
  try {
    names = readdirSync(outRoot);
  } catch {
    return null;
  }
  for (const name of names) {
    if (!DAY_DIR.test(name)) continue;
    const day = parseDay(name);
    if (!(day < D) || (best !== null && day <= best.day)) continue;
    const path = join(outRoot, name, 'ledger.csv');
    try {
      if (statSync(path).isFile()) best = { path, day };
    } catch {
      /* a night without a ledger */
    }
  }
  return best;
}

const STATE_BYTES = enumBytes(TASK_STATES);
const CLOSED_STATE = TASK_STATES.indexOf('closed');

/** Where subscriber id b[s..e) starts once the writer's formula guard ("'=…", putCell's) is taken off. */
function unneutralised(b: Uint8Array, s: number, e: number): number {
  return e - s > 1 && b[s] === 0x27 && startsLikeFormula(b, s + 1, e) ? s + 1 : s;
}

/** A whole number of up to 15 plain digits, else what Number() makes of the text (0 for none). */
function attemptsField(rec: RecordView, i: number): number {
  const b = rec.buf,
    s = rec.start[i]!,
    e = rec.end[i]!;
  if (e > s && e - s <= 15) {
    let v = 0;
    for (let p = s; p < e; p++) {
      const d = b[p]! - 0x30;
      if (d < 0 || d > 9) return Number(fieldString(rec, i)) || 0;
      v = v * 10 + d;
    }
    return v;
  }
  return Number(fieldString(rec, i)) || 0;
}

export function readLedger(outRoot: string, D: number): PriorLedger | null {
  const found = latestLedgerBefore(outRoot, D);
  if (found === null) return null;
  const file = `${formatDay(found.day)}/ledger.csv`;
  const ledger = new PriorLedger(found.day);
  const fail = (line: number, what: string): never => {
    throw new ChurnwatchError(
      'CW_CSV_MALFORMED',
      `${file}: line ${line}: ${what}; the published ledger was changed by hand: restore it or rerun that night`,
      { file, line },
    );
  };
  let header = true;
  // Cells kept as bytes in the ledger's columns: no string per row but where a cell is not plain.
  const scanner = new CsvScanner({ file }, (rec) => {
    if (header) {
      header = false;
      const names = Array.from({ length: rec.count }, (_, k) => fieldString(rec, k));
      if (names.join(',') !== LEDGER_COLUMNS.join(',')) fail(rec.line, `the header is not ${LEDGER_COLUMNS.join(',')}`);
      return;
    }
    if (rec.count !== LEDGER_COLUMNS.length) fail(rec.line, `${rec.count} fields instead of ${LEDGER_COLUMNS.length}`);
    let day = parseDayField(rec, 3);
    if (Number.isNaN(day)) day = parseDay(fieldString(rec, 3));
    if (Number.isNaN(day)) fail(rec.line, 'first_seen is not a date');
    const state = STATE_BYTES.findIndex((t) => fieldEquals(rec, 7, t));
    if (state < 0) fail(rec.line, `state is not one of ${TASK_STATES.join(', ')}`);
    const b = rec.buf;
    ledger.add(b, rec.start, rec.end, unneutralised(b, rec.start[1]!, rec.end[1]!), day, attemptsField(rec, 6), state !== CLOSED_STATE);
  });
  scanner.push(readFileSync(found.path));
  scanner.finish();
  return ledger;
}
