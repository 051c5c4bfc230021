/**
 * The plain profile's task files of one tier, from its plan: on the main thread, or
 * on the task-files worker (task-files.ts) for the tier it is given. Either way the
 * same bytes, hashed as they are written, each file fsynced once closed.
 */
import { CHANNELS, type Channel } from '../config/rulepack.js';
import { deltaRows, type TaskPlan } from '../tasks/plan.js';
import { renderTaskFiles, type RenderInput, type TaskFileTarget } from '../tasks/tasks.js';
import { CsvBytesWriter } from '../util/bytes.js';
import type { ChunkedFile, OutputRecord } from './publish.js';

/** Where task files go: the Publication's open (with `copyName`: the same bytes under that name too) and add. */
export interface TaskFileSink {
  open(name: string, copyName?: string): ChunkedFile;
  add(record: OutputRecord): void;
}

/** A tier's plain task files: the full files' records, and the deltas'. */
export interface PlainRecords {
  full: OutputRecord[];
  deltas: OutputRecord[];
}

/**
 * A tier's plain task files (`tasks-<tier>-<channel>.csv`: the columns of the README,
 * each channel's rows in rank order), with the ledger each one's delta
 * (`-delta.csv`, the new and escalated rows), all in one pass over the tier's rows;
 * their records are kept in `records`, for the caller to list. A
 * delta that holds every row of its full file (the first night of a ledger) is the
 * same bytes: each piece of the full file is written into it too, hashed once. (It was
 * copied from the finished file, which left two more files of the largest tier for the
 * disk to take after its last row, while the run waited for them.)
 */
export function writePlain(
  sink: Pick<TaskFileSink, 'open'>,
  input: RenderInput,
  plan: TaskPlan,
  rows: Record<Channel, Int32Array>,
  withDelta: boolean,
  records: PlainRecords,
): void {
  const targets: TaskFileTarget[] = [];
  const files = CHANNELS.map((channel) => {
    const stem = `tasks-${plan.tier}-${channel}`;
    const delta = withDelta ? deltaRows(plan, rows[channel]) : null;
    const whole = delta !== null && delta.length === rows[channel].length;
    const full = sink.open(`${stem}.csv`, whole ? `${stem}-delta.csv` : undefined);
    targets.push({ w: new CsvBytesWriter((bytes) => full.writeBytes(bytes)), rows: rows[channel], channel });
    let deltaFile: ChunkedFile | null = null;
    if (delta !== null && !whole) {
      const f = sink.open(`${stem}-delta.csv`);
      targets.push({ w: new CsvBytesWriter((bytes) => f.writeBytes(bytes)), rows: delta, channel });
      deltaFile = f;
    }
    return { full, delta, deltaFile };
  });
  renderTaskFiles(input, plan, targets);
  for (const t of targets) t.w.end();
  for (const { full, delta, deltaFile } of files) {
    const record = full.close();
    records.full.push(record);
    if (delta === null) continue;
    records.deltas.push(deltaFile === null ? full.copyRecord(record) : deltaFile.close());
  }
}
