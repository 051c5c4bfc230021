/**
 * One fact extract to fold, as plain data (so that a job can be posted to a worker
 * thread), and the code that runs it against a subscriber id table. A result holds
 * typed arrays (transferred back from a worker, not copied), the file's stats and
 * its rejected rows (already masked).
 */
import {
  readBilling,
  readContactHistory,
  readContracts,
  readTickets,
  readUsage,
  type BillingFold,
  type BillingWindows,
  type ContactFold,
  type ContractRequest,
  type CountColumn,
  type SubscriberKeys,
  type TicketRequest,
  type UsageFold,
} from './facts.js';
import type { ExtractName, InputOptions } from './layout.js';
import { RejectLog, type RejectRow } from './rejects.js';
import type { FileStats } from './table-reader.js';

interface JobBase {
  path: string;
  /** Display name. */
  file: string;
}

export type FactJob =
  | (JobBase & { extract: 'billing_monthly'; asOfMonth: number; windows: BillingWindows })
  | (JobBase & { extract: 'usage_daily'; asOf: number; wanted: [number, string[]][] })
  | (JobBase & { extract: 'tickets'; asOf: number; requests: TicketRequest[] })
  | (JobBase & { extract: 'contracts'; asOf: number; requests: ContractRequest[] })
  | (JobBase & { extract: 'contact_history'; asOf: number });

export interface FactResult {
  extract: ExtractName;
  stats: FileStats;
  rejects: RejectRow[];
  billing?: BillingFold;
  usage?: UsageFold;
  counts?: Map<string, CountColumn>;
  contacts?: ContactFold;
}

export async function runFactJob(
  job: FactJob,
  input: InputOptions,
  keys: SubscriberKeys,
  onRows?: (rows: number, bytes: number) => void,
): Promise<FactResult> {
  const rejects = new RejectLog();
  const opts = { onRows };
  switch (job.extract) {
    case 'billing_monthly': {
      const r = await readBilling(job.path, job.file, input, keys, rejects, job.asOfMonth, job.windows, opts);
      return { extract: job.extract, stats: r.stats, rejects: rejects.rows, billing: r.fold };
    }
    case 'usage_daily': {
      const wanted = new Map(job.wanted.map(([k, m]) => [k, new Set(m)] as const));
      const r = await readUsage(job.path, job.file, input, keys, rejects, job.asOf, wanted, opts);
      return { extract: job.extract, stats: r.stats, rejects: rejects.rows, usage: r.fold };
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

/** The array buffers of a result, to transfer rather than copy it. */
export function transferables(r: FactResult): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const add = (a: { buffer: ArrayBufferLike } | null | undefined) => {
    if (a && a.buffer instanceof ArrayBuffer) out.add(a.buffer);
  };
  if (r.billing) for (const m of r.billing.months.values()) for (const a of Object.values(m)) add(a);
  if (r.usage) for (const d of r.usage.days.values()) for (const a of Object.values(d)) add(a);
  if (r.counts) for (const a of r.counts.values()) add(a);
  if (r.contacts) {
    add(r.contacts.lastContact);
    add(r.contacts.lastOutcome);
    add(r.contacts.attempts);
  }
  return [...out];
}
