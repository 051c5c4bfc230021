/**
 * scores.parquet (`run --format parquet`): the table of scores.csv for warehouses and
 * analysts, which DuckDB, Spark and pandas read natively (scores.arrow needs an
 * extension there). Written with hyparquet-writer, loaded only when asked for, into
 * the publication like every other output. Columns: subscriber_id and tier as UTF-8
 * strings, value (null where not given), risk_score and expected_loss as full-precision
 * doubles (as scores.arrow), one INT32 0/1 column per enabled rule; with
 * `--with-measures`, then each measure as scores.csv has it: money and other sums as
 * doubles, counts as INT32, dates as `YYYY-MM-DD` and enums as their value (strings),
 * null where not given.
 */
import type { TextColumn } from '../util/text-column.js';
import { TIERS } from '../contract/contract.js';
import type { Publication } from './publish.js';
import type { MeasureColumn, ScoreRules, ScoreValues } from './scores-protocol.js';
import { ENUM_MISSING } from '../rules/compile.js';
import { formatDay } from '../util/dates.js';

export const SCORES_PARQUET = 'scores.parquet';

/** Bytes held before they go to the file: the writer's buffer is handed on whenever it passes this. */
const FLUSH_BYTES = 1 << 20;

export async function writeScoresParquet(
  publication: Publication,
  ids: TextColumn,
  ev: ScoreRules,
  s: ScoreValues,
  measures: readonly MeasureColumn[] = [],
): Promise<void> {
  const { ByteWriter, parquetWrite } = await import('hyparquet-writer');
  const n = ids.length;
  const file = publication.open(SCORES_PARQUET);
  const writer = new ByteWriter();
  const flush = () => {
    file.writeBytes(new Uint8Array(writer.buffer, 0, writer.index).slice());
    writer.index = 0;
  };
  const grow = writer.ensure.bind(writer);
  writer.ensure = (size: number) => {
    if (writer.index > FLUSH_BYTES) flush();
    grow(size);
  };
  writer.finish = flush;
  const value = Array.from(ev.value, (v) => (Number.isFinite(v) ? v : null));
  parquetWrite({
    writer,
    createdBy: 'churnwatch',
    columnData: [
      { name: 'subscriber_id', data: Array.from({ length: n }, (_, i) => ids.get(i)), type: 'STRING', nullable: false },
      { name: 'value', data: value, type: 'DOUBLE' },
      { name: 'tier', data: Array.from(s.tier, (t) => TIERS[t]!), type: 'STRING', nullable: false },
      { name: 'risk_score', data: s.risk, type: 'DOUBLE', nullable: false },
      { name: 'expected_loss', data: s.expectedLoss, type: 'DOUBLE', nullable: false },
      ...ev.ruleIds.map((id, j) => ({ name: id, data: Int32Array.from(ev.flags[j]!), type: 'INT32' as const, nullable: false })),
      ...measures.map(measureColumn),
    ],
  });
  publication.add(file.close());
}

/** A measure column of `--with-measures` as Parquet holds it (see the header comment). */
function measureColumn(m: MeasureColumn) {
  const { name, data } = m;
  if (m.kind === 'enum') {
    const values = m.values ?? [];
    return { name, data: Array.from(data, (c) => (c === ENUM_MISSING ? null : (values[c] ?? null))), type: 'STRING' as const };
  }
  if (m.kind === 'day') return { name, data: Array.from(data, (d) => (Number.isFinite(d) ? formatDay(d) : null)), type: 'STRING' as const };
  if (data instanceof Int32Array || data instanceof Uint8Array)
    return { name, data: Int32Array.from(data), type: 'INT32' as const, nullable: false };
  return { name, data: Array.from(data, (v) => (Number.isFinite(v) ? v + 0 : null)), type: 'DOUBLE' as const };
}
