/**
 * The fact extracts, folded into per-subscriber arrays as their rows stream past:
 * no row is kept once it has been added to its subscriber's sums.
 */
import type { BillingMeasure, FeatureRequest, UsageMeasure } from '../rules/catalogue.js';
import { featureKey } from '../rules/catalogue.js';
import { CONTACT_OUTCOMES, TICKET_KINDS } from '../rules/catalogue.js';
import { fieldEquals, fieldIsEmpty, fieldString, parseDayField, parseMonthField, parseScaled, type RecordView } from './csv-scan.js';
import type { InputOptions } from './layout.js';
import type { RejectLog } from './rejects.js';
import { readTable, type FileStats, type Reject } from './table-reader.js';
import type { SubscriberTable } from './subscribers.js';

function subscriberOf(rec: RecordView, col: number, subs: SubscriberTable, reject: Reject): number {
  const id = fieldString(rec, col).trim();
  if (id === '') { reject('subscriber_id', 'CW_ROW_EMPTY_FIELD', 'subscriber_id is empty', ''); return -1; }
  const idx = subs.index.get(id);
  if (idx === undefined) { reject('subscriber_id', 'CW_ROW_UNKNOWN_SUBSCRIBER', 'subscriber_id is not in subscribers.csv', id); return -1; }
  return idx;
}

/** An optional numeric column: 0 when the column is absent or the cell empty, NaN when unparsable. */
function optionalScaled(rec: RecordView, col: number, scale: number, thousands: boolean): number {
  if (col < 0 || fieldIsEmpty(rec, col)) return 0;
  return parseScaled(rec, col, scale, thousands);
}

// ---------------------------------------------------------------- billing

export interface MonthSums {
  /** Integer fen. */
  amount: Float64Array;
  /** Hundredths of a minute. */
  mou: Float64Array | null;
  hotline_calls: Float64Array | null;
}

export interface BillingFold {
  /** Sums for the months a run can read, i.e. the newest `window` months before the run month. */
  months: Map<number, MonthSums>;
  /** Rows per bill month over the whole extract, whether kept or not. */
  rowsPerMonth: Map<number, number>;
}

export async function readBilling(path: string, file: string, input: InputOptions, subs: SubscriberTable, rejects: RejectLog,
  asOfMonth: number, window: number, measures: Set<BillingMeasure>): Promise<{ fold: BillingFold; stats: FileStats }> {
  const months = new Map<number, MonthSums>();
  const rowsPerMonth = new Map<number, number>();
  let newest = -Infinity;
  const n = subs.n;
  const stats = await readTable(path, file, 'billing_monthly', input, rejects, (c) => (rec, reject) => {
    const idx = subscriberOf(rec, c.subscriber_id!, subs, reject);
    if (idx < 0) return false;
    const month = parseMonthField(rec, c.bill_month!);
    if (Number.isNaN(month)) return reject('bill_month', 'CW_ROW_BAD_MONTH', 'bill_month is not a month (YYYY-MM or YYYYMM)', fieldString(rec, c.bill_month!));
    if (fieldIsEmpty(rec, c.amount!)) return reject('amount', 'CW_ROW_EMPTY_FIELD', 'amount is empty', '');
    const fen = parseScaled(rec, c.amount!, 2, input.thousands);
    if (Number.isNaN(fen)) return reject('amount', 'CW_ROW_BAD_NUMBER', 'amount is not an amount in yuan with at most 2 decimals', fieldString(rec, c.amount!));
    const mou = optionalScaled(rec, c.mou!, 2, input.thousands);
    if (Number.isNaN(mou)) return reject('mou', 'CW_ROW_BAD_NUMBER', 'mou is not a number with at most 2 decimals', fieldString(rec, c.mou!));
    const hot = optionalScaled(rec, c.hotline_calls!, 0, input.thousands);
    if (Number.isNaN(hot)) return reject('hotline_calls', 'CW_ROW_BAD_NUMBER', 'hotline_calls is not a whole number', fieldString(rec, c.hotline_calls!));
    rowsPerMonth.set(month, (rowsPerMonth.get(month) ?? 0) + 1);
    if (month >= asOfMonth) return true;
    if (month > newest) {
      newest = month;
      for (const m of months.keys()) if (m <= newest - window) months.delete(m);
    }
    if (month <= newest - window) return true;
    let sums = months.get(month);
    if (!sums) {
      sums = {
        amount: new Float64Array(n),
        mou: measures.has('mou') ? new Float64Array(n) : null,
        hotline_calls: measures.has('hotline_calls') ? new Float64Array(n) : null,
      };
      months.set(month, sums);
    }
    sums.amount[idx] += fen;
    if (sums.mou) sums.mou[idx] += mou;
    if (sums.hotline_calls) sums.hotline_calls[idx] += hot;
    return true;
  });
  return { fold: { months, rowsPerMonth }, stats };
}

// ---------------------------------------------------------------- usage

export interface UsageFold {
  /** Rows per usage day over the whole extract (the day-completeness gate reads it). */
  rowsPerDay: Map<number, number>;
  /** Per day offset k (day D-k), per measure: sums in hundredths. */
  days: Map<number, Partial<Record<UsageMeasure, Float64Array>>>;
}

export async function readUsage(path: string, file: string, input: InputOptions, subs: SubscriberTable, rejects: RejectLog,
  asOf: number, wanted: Map<number, Set<UsageMeasure>>): Promise<{ fold: UsageFold; stats: FileStats }> {
  const rowsPerDay = new Map<number, number>();
  const days = new Map<number, Partial<Record<UsageMeasure, Float64Array>>>();
  for (const [k, measures] of wanted) {
    const m: Partial<Record<UsageMeasure, Float64Array>> = {};
    for (const measure of measures) m[measure] = new Float64Array(subs.n);
    days.set(k, m);
  }
  const stats = await readTable(path, file, 'usage_daily', input, rejects, (c) => (rec, reject) => {
    const idx = subscriberOf(rec, c.subscriber_id!, subs, reject);
    if (idx < 0) return false;
    const day = parseDayField(rec, c.usage_date!);
    if (Number.isNaN(day)) return reject('usage_date', 'CW_ROW_BAD_DATE', 'usage_date is not a date', fieldString(rec, c.usage_date!));
    if (fieldIsEmpty(rec, c.calls!)) return reject('calls', 'CW_ROW_EMPTY_FIELD', 'calls is empty', '');
    const calls = parseScaled(rec, c.calls!, 2, input.thousands);
    if (Number.isNaN(calls)) return reject('calls', 'CW_ROW_BAD_NUMBER', 'calls is not a number', fieldString(rec, c.calls!));
    const sms = optionalScaled(rec, c.sms!, 2, input.thousands);
    if (Number.isNaN(sms)) return reject('sms', 'CW_ROW_BAD_NUMBER', 'sms is not a number', fieldString(rec, c.sms!));
    const data = optionalScaled(rec, c.data_mb!, 2, input.thousands);
    if (Number.isNaN(data)) return reject('data_mb', 'CW_ROW_BAD_NUMBER', 'data_mb is not a number with at most 2 decimals', fieldString(rec, c.data_mb!));
    const fwd = optionalScaled(rec, c.forwarded_calls!, 2, input.thousands);
    if (Number.isNaN(fwd)) return reject('forwarded_calls', 'CW_ROW_BAD_NUMBER', 'forwarded_calls is not a number', fieldString(rec, c.forwarded_calls!));
    rowsPerDay.set(day, (rowsPerDay.get(day) ?? 0) + 1);
    const sums = days.get(asOf - day);
    if (sums) {
      if (sums.activity) sums.activity[idx] += calls + sms + data;
      if (sums.calls) sums.calls[idx] += calls;
      if (sums.sms) sums.sms[idx] += sms;
      if (sums.data_mb) sums.data_mb[idx] += data;
      if (sums.forwarded_calls) sums.forwarded_calls[idx] += fwd;
    }
    return true;
  });
  return { fold: { rowsPerDay, days }, stats };
}

// ---------------------------------------------------------------- tickets

type TicketRequest = Extract<FeatureRequest, { source: 'tickets' }>;

export async function readTickets(path: string, file: string, input: InputOptions, subs: SubscriberTable, rejects: RejectLog,
  asOf: number, requests: TicketRequest[]): Promise<{ counts: Map<string, Int32Array>; stats: FileStats }> {
  const counts = new Map<string, Int32Array>();
  const plans = requests.map((r) => {
    const a = new Int32Array(subs.n);
    counts.set(featureKey(r), a);
    return { kind: r.kind === 'any' ? -1 : (TICKET_KINDS as readonly string[]).indexOf(r.kind), from: asOf + r.from, to: asOf + r.to, a };
  });
  const kindBytes = TICKET_KINDS.map((k) => new TextEncoder().encode(k));
  const stats = await readTable(path, file, 'tickets', input, rejects, (c) => (rec, reject) => {
    if (fieldIsEmpty(rec, c.ticket_id!)) return reject('ticket_id', 'CW_ROW_EMPTY_FIELD', 'ticket_id is empty', '');
    const idx = subscriberOf(rec, c.subscriber_id!, subs, reject);
    if (idx < 0) return false;
    const day = parseDayField(rec, c.created_at!);
    if (Number.isNaN(day)) return reject('created_at', 'CW_ROW_BAD_DATE', 'created_at is not a date or date-time', fieldString(rec, c.created_at!));
    let kind = -1;
    for (let k = 0; k < kindBytes.length; k++) if (fieldEquals(rec, c.kind!, kindBytes[k]!)) { kind = k; break; }
    if (kind < 0) {
      kind = (TICKET_KINDS as readonly string[]).indexOf(fieldString(rec, c.kind!).trim().toLowerCase());
      if (kind < 0) return reject('kind', 'CW_ROW_BAD_ENUM', `kind must be one of ${TICKET_KINDS.join(', ')}`, fieldString(rec, c.kind!));
    }
    for (const p of plans) if ((p.kind < 0 || p.kind === kind) && day >= p.from && day <= p.to) p.a[idx]!++;
    return true;
  });
  return { counts, stats };
}

// ---------------------------------------------------------------- contracts

type ContractRequest = Extract<FeatureRequest, { source: 'contracts' }>;

function parseRenewed(s: string): number {
  const t = s.trim().toLowerCase();
  return t === '1' || t === 'true' ? 1 : t === '0' || t === 'false' ? 0 : -1;
}

export async function readContracts(path: string, file: string, input: InputOptions, subs: SubscriberTable, rejects: RejectLog,
  asOf: number, requests: ContractRequest[]): Promise<{ counts: Map<string, Int32Array>; stats: FileStats }> {
  const counts = new Map<string, Int32Array>();
  const expiring = requests.filter((r) => r.which === 'expiring').map((r) => {
    const a = new Int32Array(subs.n); counts.set(featureKey(r), a);
    return { from: asOf + r.from, to: asOf + r.to, a };
  });
  const lapsedReqs = requests.filter((r) => r.which === 'lapsed');
  const kinds = new Map<string, number>();
  // (subscriber, kind) pairs with a contract ending on or after D, as idx * 65536 + kind code.
  const runningOn = new Set<number>();
  const candidates: { idx: number; kind: number; end: number }[] = [];
  const lapsedFrom = Math.min(...lapsedReqs.map((r) => asOf + r.from));
  const lapsedTo = Math.max(...lapsedReqs.map((r) => asOf + r.to));

  const stats = await readTable(path, file, 'contracts', input, rejects, (c) => (rec, reject) => {
    if (fieldIsEmpty(rec, c.contract_id!)) return reject('contract_id', 'CW_ROW_EMPTY_FIELD', 'contract_id is empty', '');
    const idx = subscriberOf(rec, c.subscriber_id!, subs, reject);
    if (idx < 0) return false;
    const start = parseDayField(rec, c.start_date!);
    if (Number.isNaN(start)) return reject('start_date', 'CW_ROW_BAD_DATE', 'start_date is not a date', fieldString(rec, c.start_date!));
    const end = parseDayField(rec, c.end_date!);
    if (Number.isNaN(end)) return reject('end_date', 'CW_ROW_BAD_DATE', 'end_date is not a date', fieldString(rec, c.end_date!));
    const renewed = parseRenewed(fieldString(rec, c.renewed!));
    if (renewed < 0) return reject('renewed', 'CW_ROW_BAD_ENUM', 'renewed must be 0, 1, true or false', fieldString(rec, c.renewed!));
    if (renewed === 0) for (const e of expiring) if (end >= e.from && end <= e.to) e.a[idx]!++;
    if (lapsedReqs.length > 0) {
      const kindText = c.kind! >= 0 ? fieldString(rec, c.kind!).trim() : '';
      let kind = kinds.get(kindText);
      if (kind === undefined) { kind = kinds.size; kinds.set(kindText, kind); }
      if (end >= asOf) runningOn.add(idx * 65536 + kind);
      else if (renewed === 0 && end >= lapsedFrom && end <= lapsedTo) candidates.push({ idx, kind, end });
    }
    return true;
  });
  for (const r of lapsedReqs) {
    const a = new Int32Array(subs.n); counts.set(featureKey(r), a);
    const from = asOf + r.from, to = asOf + r.to;
    for (const cand of candidates) {
      if (cand.end >= from && cand.end <= to && !runningOn.has(cand.idx * 65536 + cand.kind)) a[cand.idx]!++;
    }
  }
  return { counts, stats };
}

// ---------------------------------------------------------------- do-not-call and contact history

export async function readDoNotCall(path: string, file: string, input: InputOptions, subs: SubscriberTable, rejects: RejectLog): Promise<{ flags: Uint8Array; stats: FileStats }> {
  const byPhone = new Map<string, number>();
  for (let i = 0; i < subs.n; i++) byPhone.set(subs.msisdn[i]!, i);
  const flags = new Uint8Array(subs.n);
  const stats = await readTable(path, file, 'do_not_call', input, rejects, (c) => (rec, reject) => {
    const phone = fieldString(rec, c.msisdn!).trim();
    if (!/^\+?\d{5,20}$/.test(phone)) return reject('msisdn', phone === '' ? 'CW_ROW_EMPTY_FIELD' : 'CW_ROW_BAD_PHONE', 'msisdn is not a phone number', phone);
    const idx = byPhone.get(phone);
    if (idx !== undefined) flags[idx] = 1;
    return true;
  }, true);
  return { flags, stats };
}

export interface ContactFold {
  /** Day of the latest earlier contact, NaN where none. */
  lastContact: Float64Array;
  /** Outcome code of that contact (index into CONTACT_OUTCOMES), 255 where none. */
  lastOutcome: Uint8Array;
}

export async function readContactHistory(path: string, file: string, input: InputOptions, subs: SubscriberTable, rejects: RejectLog, asOf: number): Promise<{ fold: ContactFold; stats: FileStats }> {
  const lastContact = new Float64Array(subs.n).fill(NaN);
  const lastOutcome = new Uint8Array(subs.n).fill(255);
  const stats = await readTable(path, file, 'contact_history', input, rejects, (c) => (rec, reject) => {
    const idx = subscriberOf(rec, c.subscriber_id!, subs, reject);
    if (idx < 0) return false;
    const day = parseDayField(rec, c.contacted_at!);
    if (Number.isNaN(day)) return reject('contacted_at', 'CW_ROW_BAD_DATE', 'contacted_at is not a date or date-time', fieldString(rec, c.contacted_at!));
    const outcome = (CONTACT_OUTCOMES as readonly string[]).indexOf(fieldString(rec, c.outcome!).trim().toLowerCase());
    if (outcome < 0) return reject('outcome', 'CW_ROW_BAD_ENUM', `outcome must be one of ${CONTACT_OUTCOMES.join(', ')}`, fieldString(rec, c.outcome!));
    if (day < asOf && !(lastContact[idx]! >= day)) { lastContact[idx] = day; lastOutcome[idx] = outcome; }
    return true;
  }, true);
  return { fold: { lastContact, lastOutcome }, stats };
}
