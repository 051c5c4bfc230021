/**
 * suppressed.csv, holdout.csv and overflow.csv: every flagged subscriber without a
 * task, with what stopped it. Pure: values in, bytes out to the writer it is handed.
 * No phone number or name: these lists are for analysts and the control group.
 */
import { namedFlags, type Evaluation } from '../evaluate/evaluate.js';
import { TIERS } from '../contract/contract.js';
import type { Scores } from '../score/score.js';
import { cellBytes, cellRoom, putBytes, putCell, putUint, type CsvBytesWriter } from '../util/bytes.js';
import type { TextColumn } from '../util/text-column.js';
import { formatDay } from '../util/dates.js';
import { HitCodes } from '../evaluate/hit-bits.js';
import { LEDGER_COLUMNS, PRIOR_TEXT, TASK_ID_WIDTH, TASK_STATES, type LedgerRows } from './ledger.js';
import { SUPPRESSION_CODES, type PolicyPlan } from './policy.js';

const utf8 = new TextEncoder();
const COMMA = 0x2c,
  LF = 0x0a;

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
  // A row is written straight into the writer's buffer after one reserve of its most bytes: a call per cell, each
  // checking for room, cost more than the row's bytes. The repeated cells' widths bound the row's fixed part.
  const widest = (cells: readonly Uint8Array[]) => cells.reduce((m, c) => Math.max(m, c.length), 0);
  const DAY_WIDTH = 16;
  const fixedRoom =
    Math.max(widest(tierCells), widest(priorTierCells)) +
    2 * DAY_WIDTH +
    Math.max(widest(reasonCells), widest(priorReasonCells)) +
    16 +
    widest(stateCells) +
    widest(closedByCells) +
    LEDGER_COLUMNS.length;
  let lastFirst = NaN,
    firstDay: Uint8Array = lastSeen;
  let touched = 0;
  for (let r = 0; r < rows.length; r++) {
    // Rows go in rank order, their subscribers' ids at random: the next rows' ids are read first, all at once,
    // so that their cache misses overlap (one at a time, they were most of this loop's time).
    if ((r & (PREFETCH_ROWS - 1)) === 0) touched += touchIds(rows, r, Math.min(rows.length, r + PREFETCH_ROWS));
    const k = rows.prior[r]!,
      i = rows.subscriber[r]!,
      t = rows.tier[r]!;
    const first = rows.firstSeen[r]!;
    if (first !== lastFirst) {
      let day = days.get(first);
      if (day === undefined) {
        day = utf8.encode(formatDay(first));
        days.set(first, day);
      }
      lastFirst = first;
      firstDay = day;
    }
    const taskFrom = k >= 0 ? prior!.taskIdStart(k) : rows.slot[r]! * TASK_ID_WIDTH,
      taskTo = k >= 0 ? prior!.taskIdEnd(k) : taskFrom + TASK_ID_WIDTH;
    const idBytes = k >= 0 ? priorBytes! : ids.bytes,
      idFrom = k >= 0 ? prior!.subscriberStart(k) : ids.start(i),
      idTo = k >= 0 ? prior!.subscriberEnd(k) : ids.end(i);
    w.reserve(cellRoom(taskTo - taskFrom) + cellRoom(idTo - idFrom) + fixedRoom);
    const dst = w.bytes;
    let p = w.length;
    if (k >= 0) p = putCell(dst, p, priorBytes!, taskFrom, taskTo, false);
    else p = putBytes(dst, p, rows.taskIds[t]!, taskFrom, taskTo);
    dst[p++] = COMMA;
    p = putCell(dst, p, idBytes, idFrom, idTo, true);
    dst[p++] = COMMA;
    p = putWhole(dst, p, t === PRIOR_TEXT ? priorTierCells[prior!.tier[k]!]! : tierCells[t]!);
    dst[p++] = COMMA;
    p = putWhole(dst, p, firstDay);
    dst[p++] = COMMA;
    p = putWhole(dst, p, lastSeen);
    dst[p++] = COMMA;
    const reasons = rows.reasons[r]!;
    p = putWhole(dst, p, reasons < 0 ? priorReasonCells[prior!.reasons[k]!]! : reasonCells[reasons]!);
    dst[p++] = COMMA;
    p = putUint(dst, p, rows.attempts[r]!);
    dst[p++] = COMMA;
    p = putWhole(dst, p, stateCells[rows.state[r]!]!);
    dst[p++] = COMMA;
    p = putWhole(dst, p, closedByCells[rows.closedBy[r]!]!);
    dst[p++] = LF;
    w.took(p);
    w.lineTaken();
  }
  if (touched === -1) throw new Error('unreachable: keeps the reads of touchIds');
}

/** Rows whose subscriber ids touchIds() reads at once: few enough that they stay in the nearest caches. */
const PREFETCH_ROWS = 32;

/** Reads the offsets and first bytes of rows [from, to)'s subscriber ids (tonight's column), returning a sum of them. */
function touchIds(rows: LedgerRows, from: number, to: number): number {
  const ids = rows.ids,
    o = ids.offsets,
    b = ids.bytes;
  let sum = 0;
  for (let r = from; r < to; r++) {
    const i = rows.subscriber[r]!;
    if (i >= 0) sum += b[o[i]!]!;
  }
  return sum;
}

function putWhole(dst: Uint8Array, p: number, cell: Uint8Array): number {
  return putBytes(dst, p, cell, 0, cell.length);
}
