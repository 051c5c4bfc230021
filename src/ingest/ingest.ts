/**
 * Reads the extracts a rule pack needs, folding each into per-subscriber arrays.
 * Optional extracts (do_not_call, contact_history) are read when present.
 */
import { ChurnwatchError } from '../errors.js';
import type { BillingMeasure, FeatureRequest, UsageMeasure } from '../rules/catalogue.js';
import { monthOfDay } from '../util/dates.js';
import { displayName, locateExtract, type ExtractName, type InputOptions } from './layout.js';
import { RejectLog } from './rejects.js';
import { readSubscribers, type SubscriberTable } from './subscribers.js';
import {
  readBilling, readContactHistory, readContracts, readDoNotCall, readTickets, readUsage,
  type BillingFold, type ContactFold, type UsageFold,
} from './facts.js';
import type { FileStats } from './table-reader.js';

export interface IngestPlan {
  asOf: number;
  input: InputOptions;
  features: Map<string, FeatureRequest>;
  needed: Set<string>;
  onStage?: (stage: string) => void;
}

export interface Extracts {
  subscribers: SubscriberTable;
  billing: BillingFold;
  usage: UsageFold | null;
  ticketCounts: Map<string, Int32Array>;
  contractCounts: Map<string, Int32Array>;
  doNotCall: Uint8Array | null;
  contacts: ContactFold | null;
  files: FileStats[];
  rejects: RejectLog;
}

export async function ingest(plan: IngestPlan): Promise<Extracts> {
  const { asOf, input, features } = plan;
  const rejects = new RejectLog();
  const files: FileStats[] = [];

  const locate = (name: ExtractName, needed: boolean): string | undefined => {
    const path = locateExtract(input, name);
    if (path === undefined && needed) {
      const file = displayName(input, name);
      throw new ChurnwatchError('CW_EXTRACT_MISSING_FILE',
        `gate needed-files failed: ${file} is not in ${input.dir}; the enabled rules read it (disable them in the rule pack, or export the file)`,
        { file, gate: 'needed-files' });
    }
    return path;
  };
  // Locate everything first, so a missing file fails before any long read.
  const paths = {
    subscribers: locate('subscribers', true)!,
    billing_monthly: locate('billing_monthly', true)!,
    usage_daily: locate('usage_daily', plan.needed.has('usage_daily')),
    tickets: locate('tickets', plan.needed.has('tickets')),
    contracts: locate('contracts', plan.needed.has('contracts')),
    do_not_call: locate('do_not_call', false),
    contact_history: locate('contact_history', false),
  };
  const file = (name: ExtractName) => displayName(input, name);

  plan.onStage?.('read subscribers');
  const subs = await readSubscribers(paths.subscribers, file('subscribers'), input, rejects);
  files.push(subs.stats);
  const subscribers = subs.table;

  const reqs = [...features.values()];
  const billingReqs = reqs.filter((f): f is Extract<FeatureRequest, { source: 'billing' }> => f.source === 'billing');
  const window = Math.max(0, ...billingReqs.map((f) => f.month)) + 1;
  plan.onStage?.('read billing');
  const billing = await readBilling(paths.billing_monthly, file('billing_monthly'), input, subscribers, rejects,
    monthOfDay(asOf), window, new Set<BillingMeasure>(billingReqs.map((f) => f.measure)));
  files.push(billing.stats);

  let usage: UsageFold | null = null;
  if (paths.usage_daily && plan.needed.has('usage_daily')) {
    const wanted = new Map<number, Set<UsageMeasure>>();
    for (const f of reqs) {
      if (f.source !== 'usage') continue;
      if (!wanted.has(f.day)) wanted.set(f.day, new Set());
      wanted.get(f.day)!.add(f.measure);
    }
    plan.onStage?.('read usage');
    const r = await readUsage(paths.usage_daily, file('usage_daily'), input, subscribers, rejects, asOf, wanted);
    files.push(r.stats);
    usage = r.fold;
  }

  let ticketCounts = new Map<string, Int32Array>();
  if (paths.tickets && plan.needed.has('tickets')) {
    plan.onStage?.('read tickets');
    const r = await readTickets(paths.tickets, file('tickets'), input, subscribers, rejects, asOf,
      reqs.filter((f): f is Extract<FeatureRequest, { source: 'tickets' }> => f.source === 'tickets'));
    files.push(r.stats);
    ticketCounts = r.counts;
  }

  let contractCounts = new Map<string, Int32Array>();
  if (paths.contracts && plan.needed.has('contracts')) {
    plan.onStage?.('read contracts');
    const r = await readContracts(paths.contracts, file('contracts'), input, subscribers, rejects, asOf,
      reqs.filter((f): f is Extract<FeatureRequest, { source: 'contracts' }> => f.source === 'contracts'));
    files.push(r.stats);
    contractCounts = r.counts;
  }

  let doNotCall: Uint8Array | null = null;
  if (paths.do_not_call) {
    const r = await readDoNotCall(paths.do_not_call, file('do_not_call'), input, subscribers, rejects);
    files.push(r.stats);
    doNotCall = r.flags;
  }
  let contacts: ContactFold | null = null;
  if (paths.contact_history) {
    const r = await readContactHistory(paths.contact_history, file('contact_history'), input, subscribers, rejects, asOf);
    files.push(r.stats);
    contacts = r.fold;
  }

  return { subscribers, billing: billing.fold, usage, ticketCounts, contractCounts, doNotCall, contacts, files, rejects };
}
