/**
 * suppressed.csv, holdout.csv and overflow.csv: every flagged subscriber without a
 * task, with what stopped it. Pure: values in, bytes out to the writer it is handed.
 * No phone number or name: these lists are for analysts and the control group.
 */
import { namedFlags, type Evaluation } from '../evaluate/evaluate.js';
import { TIERS } from '../contract/contract.js';
import type { Scores } from '../score/score.js';
import { cellBytes, type CsvBytesWriter } from '../util/bytes.js';
import type { TextColumn } from '../util/text-column.js';
import { formatDay } from '../util/dates.js';
import { HitCodes } from '../evaluate/hit-bits.js';
import { LEDGER_COLUMNS, PRIOR_TEXT, TASK_ID_WIDTH, TASK_STATES, type LedgerRows } from './ledger.js';
import { SUPPRESSION_CODES, type PolicyPlan } from './policy.js';

const utf8 = new TextEncoder();

export const POLICY_FILES = ['suppressed.csv', 'holdout.csv', 'overflow.csv'] as const;
export type PolicyFile = (typeof POLICY_FILES)[number];

interface Columns {
  ids: TextColumn;
  evaluation: Pick<Evaluation, 'ruleIds' | 'flags' | 'named'>;
  scores: Scores;
}

function header(w: CsvBytesWriter, names: readonly string[]): void {
  names.forEach((name, k) => {
    if (k > 0) w.comma();
    w.cellString(name, false);
  });
  w.endLine();
}

/** subscriber_id, tier, expected_loss, reason_codes, then the file's own cells. */
function row(w: CsvBytesWriter, c: Columns, codes: HitCodes, i: number, rest: readonly (string | number)[]): void {
  w.cell(c.ids.bytes, c.ids.start(i), c.ids.end(i), true);
  w.comma();
  w.cellString(TIERS[c.scores.tier[i]!]!, false);
  w.comma();
  const loss = c.scores.expectedLoss[i]!;
  if (Number.isFinite(loss)) w.rawString(loss.toFixed(2));
  w.comma();
  w.cellString(codes.of(i), false);
  for (const cell of rest) {
    w.comma();
    if (typeof cell === 'number') w.uint(cell);
    else w.cellString(cell, true);
  }
  w.endLine();
}

const BASE = ['subscriber_id', 'tier', 'expected_loss', 'reason_codes'];

export function writePolicyFile(w: CsvBytesWriter, name: PolicyFile, plan: PolicyPlan, c: Columns): void {
  const codes = new HitCodes(c.evaluation.ruleIds, namedFlags(c.evaluation), c.ids.length);
  switch (name) {
    case 'suppressed.csv':
      header(w, [...BASE, 'code']);
      for (const i of plan.suppressed) row(w, c, codes, i, [SUPPRESSION_CODES[plan.code[i]!]!]);
      break;
    case 'holdout.csv':
      header(w, BASE);
      for (const i of plan.heldOut) row(w, c, codes, i, []);
      break;
    case 'overflow.csv': {
      header(w, [...BASE, 'rank', 'queue']);
      const o = plan.overflow;
      for (let k = 0; k < o.subscriber.length; k++) row(w, c, codes, o.subscriber[k]!, [o.rank[k]!, o.queues[o.queue[k]!]!]);
      break;
    }
  }
}

/** ledger.csv: tonight's open episodes and those closed tonight (LEDGER_COLUMNS). */
export function writeLedger(w: CsvBytesWriter, rows: LedgerRows): void {
  header(w, LEDGER_COLUMNS);
  const prior = rows.priorLedger,
    ids = rows.ids;
  // The cells that repeat, made once.
  const tierCells = TIERS.map((t) => cellBytes(t, false));
  const reasonCells = rows.reasonTexts.map((t) => cellBytes(t, false));
  const stateCells = TASK_STATES.map((t) => cellBytes(t, false));
  const closedByCells = rows.closedByTexts.map((t) => cellBytes(t, false));
  const priorTierCells = prior?.tierTexts.map((t) => cellBytes(t, false)) ?? [];
  const priorReasonCells = prior?.reasonTexts.map((t) => cellBytes(t, false)) ?? [];
  const priorBytes = prior?.cellBytes;
  const lastSeen = utf8.encode(formatDay(rows.lastSeen));
  const days = new Map<number, Uint8Array>();
  const put = (cell: Uint8Array) => w.raw(cell, 0, cell.length);
  for (let r = 0; r < rows.length; r++) {
    const k = rows.prior[r]!,
      i = rows.subscriber[r]!,
      t = rows.tier[r]!;
    if (k >= 0) w.cell(priorBytes!, prior!.taskIdStart(k), prior!.taskIdEnd(k), false);
    else w.raw(rows.taskIds[t]!, rows.slot[r]! * TASK_ID_WIDTH, (rows.slot[r]! + 1) * TASK_ID_WIDTH);
    w.comma();
    if (k >= 0) w.cell(priorBytes!, prior!.subscriberStart(k), prior!.subscriberEnd(k), true);
    else w.cell(ids.bytes, ids.start(i), ids.end(i), true);
    w.comma();
    if (t === PRIOR_TEXT) put(priorTierCells[prior!.tier[k]!]!);
    else put(tierCells[t]!);
    w.comma();
    const first = rows.firstSeen[r]!;
    let day = days.get(first);
    if (day === undefined) {
      day = utf8.encode(formatDay(first));
      days.set(first, day);
    }
    put(day);
    w.comma();
    put(lastSeen);
    w.comma();
    const reasons = rows.reasons[r]!;
    if (reasons < 0) put(priorReasonCells[prior!.reasons[k]!]!);
    else put(reasonCells[reasons]!);
    w.comma();
    w.uint(rows.attempts[r]!);
    w.comma();
    put(stateCells[rows.state[r]!]!);
    w.comma();
    put(closedByCells[rows.closedBy[r]!]!);
    w.endLine();
  }
}
