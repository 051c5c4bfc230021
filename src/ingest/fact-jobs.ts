/**
 * One fact extract to fold, as plain data (so that a job can be posted to a worker
 * thread), and the code that runs it against a subscriber id table. A result holds
 * typed arrays (transferred back from a worker, not copied), the file's stats and
 * its rejected rows (already masked).
 */
import {
  foldBilling,
  foldUsage,
  readContactHistory,
  readContracts,
  readTickets,
  type BillingFold,
  type BillingWindows,
  type ContactFold,
  type ContractRequest,
  type CountColumn,
  type MeasurePart,
  type SubscriberKeys,
  type TicketRequest,
  type UsageFold,
} from './facts.js';
import type { MeasureExtract } from '../contract/contract.js';
import type { ExtractName, InputOptions } from './layout.js';
import { hashFile, type ByteRange } from './read-extract.js';
import { RejectLog, type RejectRow } from './rejects.js';
import type { FileStats } from './table-reader.js';

interface JobBase {
  path: string;
  /** Display name. */
  file: string;
}

/** One byte range of a measure extract (see ranges.ts): the job's result then holds a MeasurePart. */
export interface JobRange extends ByteRange {
  index: number;
  /** The file's header, for a range after the first. */
  header: string[] | null;
  /** The first range hashes the whole file too, unless this says no (a hash job of the file ran: ingest.ts). */
  hashWhole?: boolean;
}

export type FactJob =
  | (JobBase & { extract: 'billing_monthly'; asOfMonth: number; windows: BillingWindows; range?: JobRange })
  | (JobBase & { extract: 'usage_daily'; asOf: number; wanted: [number, string[]][]; range?: JobRange })
  | (JobBase & { extract: 'tickets'; asOf: number; requests: TicketRequest[] })
  | (JobBase & { extract: 'contracts'; asOf: number; requests: ContractRequest[] })
  | (JobBase & { extract: 'contact_history'; asOf: number })
  /**
   * The sha256, size and byte count of a file read in byte ranges: subscribers.csv
   * (its ranges hash nothing), or a measure extract hashed by a thread that would
   * otherwise wait for the id table (its first range then hashes nothing either).
   */
  | (JobBase & { extract: 'subscribers' | MeasureExtract; hash: true });

export interface FactResult {
  extract: ExtractName;
  stats: FileStats;
  rejects: RejectRow[];
  billing?: BillingFold;
  usage?: UsageFold;
  counts?: Map<string, CountColumn>;
  contacts?: ContactFold;
  /** A byte range's unfinished fold. */
  part?: MeasurePart;
  /** The range's index (a job's result on a byte range). */
  range?: number;
}

export async function runFactJob(
  job: FactJob,
  input: InputOptions,
  keys: SubscriberKeys,
  onRows?: (rows: number, bytes: number) => void,
): Promise<FactResult> {
  const rejects = new RejectLog();
  if ('hash' in job) return { extract: job.extract, stats: await hashStats(job.path, job.file, job.extract), rejects: [] };
  const opts = { onRows, range: 'range' in job ? job.range : undefined };
  const range = opts.range?.index;
  switch (job.extract) {
    case 'billing_monthly': {
      const r = await foldBilling(job.path, job.file, input, keys, rejects, job.asOfMonth, job.windows, opts);
      return { extract: job.extract, stats: r.stats, rejects: rejects.rows, billing: r.fold, part: r.part, range };
    }
    case 'usage_daily': {
      const wanted = new Map(job.wanted.map(([k, m]) => [k, new Set(m)] as const));
      const r = await foldUsage(job.path, job.file, input, keys, rejects, job.asOf, wanted, opts);
      return { extract: job.extract, stats: r.stats, rejects: rejects.rows, usage: r.fold, part: r.part, range };
    }
    case 'tickets': {
      const r = await readTickets(job.path, job.file, input, keys, rejects, job.asOf, job.requests, opts);
      return { extract: job.extract, stats: r.stats, rejects: rejects.rows, counts: r.counts };
    }
    case 'contracts': {
      const r = await readContracts(job.path, job.file, input, keys, rejects, job.asOf, job.requests, opts);
      return { extract: job.extract, stats: r.stats, rejects: rejects.rows, counts: r.counts };
    }
    case 'contact_history': {
      const r = await readContactHistory(job.path, job.file, input, keys, rejects, job.asOf, opts);
      return { extract: job.extract, stats: r.stats, rejects: rejects.rows, contacts: r.fold };
    }
  }
}

/** A hash job's result: the file's sha256 and size as stats of no rows (subscriber-ranges.ts withHash joins them to the ranges'). */
async function hashStats(path: string, file: string, extract: ExtractName): Promise<FileStats> {
  const h = await hashFile(path);
  return {
    extract,
    file,
    path,
    bytes: h.bytes,
    records: 0,
    accepted: 0,
    rejected: 0,
    ms: h.endedAt - h.startedAt,
    sha256: h.sha256,
    before: h.before,
    range: { lines: 0, between: true, startedAt: h.startedAt, endedAt: h.endedAt },
  };
}

/** The array buffers of a result, to transfer rather than copy it. */
export function transferables(r: FactResult): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const add = (a: { buffer: ArrayBufferLike } | null | undefined) => {
    if (a && a.buffer instanceof ArrayBuffer) out.add(a.buffer);
  };
  if (r.billing) for (const m of r.billing.months.values()) for (const a of Object.values(m)) add(a.values);
  if (r.usage) for (const d of r.usage.days.values()) for (const a of Object.values(d)) add(a.values);
  if (r.counts) for (const a of r.counts.values()) add(a);
  if (r.part)
    for (const st of r.part.states) {
      for (const a of [...st.sums, ...st.derived, st.first, st.later]) add(a);
    }
  if (r.contacts) {
    add(r.contacts.lastContact);
    add(r.contacts.lastOutcome);
    add(r.contacts.attempts);
  }
  return [...out];
}
