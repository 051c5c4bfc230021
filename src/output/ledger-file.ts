/**
 * Reads back the task ledger of the latest night published before D: OUTDIR/<day>/
 * ledger.csv for the greatest day before D. A rerun of D finds the same one, so
 * reruns stay byte-identical; a published night without a ledger (from before the
 * ledger existed) is passed over.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ChurnwatchError } from '../errors.js';
import { CsvScanner, fieldString } from '../ingest/csv-scan.js';
import { LEDGER_COLUMNS, TASK_STATES, type PriorLedger } from '../tasks/ledger.js';
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

/** A subscriber id the writer neutralised against formulas ("'=…") as it was. */
function unneutralised(s: string): string {
  return s.length > 1 && s[0] === "'" && /^[=+\-@\t\r]/.test(s.slice(1)) ? s.slice(1) : s;
}

export function readLedger(outRoot: string, D: number): PriorLedger | null {
  const found = latestLedgerBefore(outRoot, D);
  if (found === null) return null;
  const file = `${formatDay(found.day)}/ledger.csv`;
  const ledger: PriorLedger = {
    asOf: found.day,
    subscriberIds: [],
    taskIds: [],
    tiers: [],
    firstSeen: [],
    reasons: [],
    attempts: [],
    allTasks: new Map(),
  };
  const fail = (line: number, what: string): never => {
    throw new ChurnwatchError(
      'CW_CSV_MALFORMED',
      `${file}: line ${line}: ${what}; the published ledger was changed by hand: restore it or rerun that night`,
      { file, line },
    );
  };
  let header = true;
  const scanner = new CsvScanner({ file }, (rec) => {
    if (header) {
      header = false;
      const names = Array.from({ length: rec.count }, (_, k) => fieldString(rec, k));
      if (names.join(',') !== LEDGER_COLUMNS.join(',')) fail(rec.line, `the header is not ${LEDGER_COLUMNS.join(',')}`);
      return;
    }
    if (rec.count !== LEDGER_COLUMNS.length) fail(rec.line, `${rec.count} fields instead of ${LEDGER_COLUMNS.length}`);
    // Field by field, only those read (a quarter of a million rows on a large night).
    const taskId = fieldString(rec, 0),
      subscriberId = fieldString(rec, 1),
      tier = fieldString(rec, 2),
      firstSeen = fieldString(rec, 3),
      reasons = fieldString(rec, 5),
      attempts = fieldString(rec, 6),
      state = fieldString(rec, 7);
    const day = parseDay(firstSeen);
    if (Number.isNaN(day)) fail(rec.line, 'first_seen is not a date');
    if (!(TASK_STATES as readonly string[]).includes(state)) fail(rec.line, `state is not one of ${TASK_STATES.join(', ')}`);
    ledger.allTasks.set(taskId, { reasons, tier });
    if (state === 'closed') return;
    ledger.taskIds.push(taskId);
    ledger.subscriberIds.push(unneutralised(subscriberId));
    ledger.tiers.push(tier);
    ledger.firstSeen.push(day);
    ledger.reasons.push(reasons);
    ledger.attempts.push(Number(attempts) || 0);
  });
  scanner.push(readFileSync(found.path));
  scanner.finish();
  return ledger;
}
