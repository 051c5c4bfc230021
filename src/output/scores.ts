/**
 * scores.csv and scores.arrow: one row per subscriber with value, tier, risk,
 * expected loss and one 0/1 column per enabled rule, named by rule id. In the CSV
 * a subscriber_id that starts like a formula is quoted as in the task files (the
 * Arrow file keeps it as it is: no spreadsheet evaluates it).
 */
import { Float64, Uint8, Utf8, makeVector, tableToIPC, Table, vectorFromArray } from 'apache-arrow';
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

export function scoresArrow(ids: string[], ev: Evaluation, s: Scores): Uint8Array {
  const tierNames = Array.from(s.tier, (t) => TIER_CODES[t]!);
  const columns: Record<string, ReturnType<typeof makeVector>> = {
    subscriber_id: vectorFromArray(ids, new Utf8()),
    value: makeVector({ type: new Float64(), data: ev.value }),
    tier: vectorFromArray(tierNames, new Utf8()),
    risk_score: makeVector({ type: new Float64(), data: s.risk }),
    expected_loss: makeVector({ type: new Float64(), data: s.expectedLoss }),
  };
  ev.ruleIds.forEach((id, j) => { columns[id] = makeVector({ type: new Uint8(), data: ev.flags[j]! }); });
  return tableToIPC(new Table(columns), 'file');
}
