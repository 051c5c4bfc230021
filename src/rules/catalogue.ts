/**
 * The allow-list of the rule language: every name and function a rule may use,
 * what it reads from which extract, and its unit. A rule can only read what is
 * listed here; adding a feature is a code change here and in features/, adding a
 * rule over existing features is a rule-pack edit.
 */

export type Unit = 'money' | 'count' | 'number' | 'day' | 'bool';

export const STATUS_VALUES = ['active', 'suspended_arrears', 'suspended_hold', 'closed'] as const;
export const MEMBER_LEVELS = ['diamond', 'gold', 'silver', 'none'] as const;
export const TICKET_KINDS = ['complaint', 'fault', 'inquiry', 'other'] as const;
export const CONTACT_OUTCOMES = ['retained', 'declined', 'unreachable', 'callback', 'churned'] as const;

/** Subscriber attributes a rule can name directly. */
export const SCALARS: Record<string, { unit: Unit | 'enum'; values?: readonly string[]; describe: string }> = {
  status: { unit: 'enum', values: STATUS_VALUES, describe: 'subscriber status' },
  member_level: { unit: 'enum', values: MEMBER_LEVELS, describe: 'member card level (none when not given)' },
  prepaid_balance: { unit: 'money', describe: 'prepaid balance in yuan (not given for postpaid lines)' },
  activation_date: { unit: 'day', describe: 'activation date' },
  status_since: { unit: 'day', describe: 'date of the last status change' },
};

export type BillingMeasure = 'amount' | 'mou' | 'hotline_calls';
export type UsageMeasure = 'activity' | 'calls' | 'sms' | 'data_mb' | 'forwarded_calls';

export const MONTHLY: Record<BillingMeasure, Unit> = { amount: 'money', mou: 'number', hotline_calls: 'count' };
export const DAILY: Record<UsageMeasure, Unit> = { activity: 'number', calls: 'count', sms: 'count', data_mb: 'number', forwarded_calls: 'count' };

/** A number written in a rule must be below this (a quadrillion yuan is a typo, not a threshold). */
export const MAX_LITERAL = 1e15;

/**
 * A bound on any feature value: every field is parsed below 2^53 of its smallest
 * unit, and a sum over an extract's rows stays far below 1e30. Code generation
 * uses it to prove that arithmetic cannot overflow, and checks where it can.
 */
export const MAX_FEATURE = 1e30;

/** Largest offsets a rule may use: M0..M23 and d1..d366. */
export const MAX_MONTH_OFFSET = 23;
export const MAX_DAY_OFFSET = 366;

/** A per-subscriber column the features stage must compute for the compiled rules. */
export type FeatureRequest =
  | { source: 'subscribers'; column: string }
  | { source: 'billing'; measure: BillingMeasure; month: number }
  | { source: 'usage'; measure: UsageMeasure; day: number }
  | { source: 'tickets'; kind: string; from: number; to: number }
  | { source: 'contracts'; which: 'expiring' | 'lapsed'; from: number; to: number };

export function featureKey(f: FeatureRequest): string {
  switch (f.source) {
    case 'subscribers': return f.column;
    case 'billing': return `${f.measure}(M${f.month})`;
    case 'usage': return `${f.measure}(d${f.day})`;
    case 'tickets': return `tickets('${f.kind}', ${f.from}, ${f.to})`;
    case 'contracts': return `contracts_${f.which}(${f.from}, ${f.to})`;
  }
}

export function featureUnit(f: FeatureRequest): Unit | 'enum' {
  switch (f.source) {
    case 'subscribers': return SCALARS[f.column]!.unit;
    case 'billing': return MONTHLY[f.measure];
    case 'usage': return DAILY[f.measure];
    default: return 'count';
  }
}

/** Which extract a feature reads; the run needs that file only when an enabled rule does. */
export function featureFile(f: FeatureRequest): string {
  switch (f.source) {
    case 'subscribers': return 'subscribers';
    case 'billing': return 'billing_monthly';
    case 'usage': return 'usage_daily';
    case 'tickets': return 'tickets';
    case 'contracts': return 'contracts';
  }
}

export const FUNCTIONS_HELP = [
  'amount(Mk), mou(Mk), hotline_calls(Mk): sums for month Mk (M0 = latest bill month before the run month), 0 without rows',
  'activity(dk), calls(dk), sms(dk), data_mb(dk), forwarded_calls(dk): sums for day D-k, 0 without rows; activity = calls + sms + data_mb',
  "tickets(kind, from, to): tickets of kind ('complaint', 'fault', 'inquiry', 'other' or 'any') created in [D+from, D+to]",
  'contracts_expiring(from, to): contracts not renewed with end_date in [D+from, D+to]',
  'contracts_lapsed(from, to): contracts not renewed with end_date in [D+from, D+to] and no contract of the same kind ending on or after D',
  'given(column): the subscriber attribute is not empty',
  'min(a, b), max(a, b), abs(a)',
  'names: status, member_level, prepaid_balance, activation_date, status_since; days D, d1, d2, ...',
];
