/**
 * scores.csv and scores.arrow: one row per subscriber with value, tier, risk,
 * expected loss and one 0/1 column per enabled rule, named by rule id. In the CSV
 * a subscriber_id that starts like a formula is quoted as in the task files (the
 * Arrow file keeps it as it is: no spreadsheet evaluates it).
 */
import { Dictionary, Float64, Uint8, Utf8, makeData, makeVector, tableToIPC, Table, type Vector } from 'apache-arrow';
import type { Evaluation } from '../rules/evaluate.js';
import { TIER_CODES, type Scores } from '../score/score.js';
import { csvLine, neutraliseFormula, quoteCell } from './csv.js';
import type { ChunkedFile } from './publish.js';

export function scoresHeader(ev: Evaluation): string[] {
  return ['subscriber_id', 'value', 'tier', 'risk_score', 'expected_loss', ...ev.ruleIds];
}

export function writeScoresCsv(out: ChunkedFile, ids: string[], ev: Evaluation, s: Scores): void {
  out.write(csvLine(scoresHeader(ev)));
  const n = ids.length;
  const flags = ev.flags;
  let chunk = '';
  for (let i = 0; i < n; i++) {
    let line = `${quoteCell(neutraliseFormula(ids[i]!))},${ev.value[i]!.toFixed(2)},${TIER_CODES[s.tier[i]!]},${s.risk[i]!.toFixed(4)},${s.expectedLoss[i]!.toFixed(2)}`;
    for (let j = 0; j < flags.length; j++) line += flags[j]![i] ? ',1' : ',0';
    chunk += line + '\n';
    if (chunk.length > 1 << 20) { out.write(chunk); chunk = ''; }
  }
  out.write(chunk);
}

/** A Utf8 vector built straight into one byte buffer and its offsets (no per-string builder objects). */
export function utf8Vector(strings: readonly string[]): Vector<Utf8> {
  const n = strings.length;
  const offsets = new Int32Array(n + 1);
  let data = new Uint8Array(Math.max(64, n * 12));
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const str = strings[i]!;
    if (pos + str.length * 3 > data.length) {
      const grown = new Uint8Array(Math.max(data.length * 2, pos + str.length * 3));
      grown.set(data.subarray(0, pos));
      data = grown;
    }
    pos += encoder.encodeInto(str, data.subarray(pos)).written;
    offsets[i + 1] = pos;
  }
  return makeVector(makeData({ type: new Utf8(), length: n, nullCount: 0, valueOffsets: offsets, data: data.subarray(0, pos) }));
}

const encoder = new TextEncoder();

export function scoresArrow(ids: string[], ev: Evaluation, s: Scores): Uint8Array {
  const n = ids.length;
  // tier as a dictionary column: one byte per subscriber over ['high', 'mid', 'mass'].
  // An explicit dictionary id: the default comes from a process-wide counter, and the file must not depend on what ran before.
  const tierType = new Dictionary(new Utf8(), new Uint8(), 0);
  const columns: Record<string, Vector> = {
    subscriber_id: utf8Vector(ids),
    value: makeVector({ type: new Float64(), data: ev.value }),
    tier: makeVector(makeData({ type: tierType, length: n, nullCount: 0, data: s.tier, dictionary: utf8Vector(TIER_CODES) })),
    risk_score: makeVector({ type: new Float64(), data: s.risk }),
    expected_loss: makeVector({ type: new Float64(), data: s.expectedLoss }),
  };
  ev.ruleIds.forEach((id, j) => { columns[id] = makeVector({ type: new Uint8(), data: ev.flags[j]! }); });
  return tableToIPC(new Table(columns), 'file');
}
