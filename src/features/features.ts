/**
 * Folded extracts → the named feature columns the compiled rules read, one typed
 * array per feature indexed by subscriber. Pure: no I/O, same inputs, same columns.
 * Columns share memory with the folded extracts where those already hold the
 * feature (billing and usage sums, ticket and contract counts, subscriber
 * attributes): at 10M subscribers a copy of each would cost 80 MB.
 */
import type { FeatureRequest } from '../rules/catalogue.js';
import type { Column, FeatureColumn, ScaledColumn } from '../rules/compile.js';
import type { Extracts } from '../ingest/ingest.js';

export interface FeatureTable {
  n: number;
  /** Billing and usage measures are ScaledColumn (check.ts marks their reads), the rest plain. */
  columns: Map<string, FeatureColumn>;
  /**
   * Subscriber index → row of the columns, -1 for a subscriber whose values were not
   * brought back (the duckdb engine returns them only for the flagged, whose tasks
   * read them). Absent: the columns are indexed by subscriber.
   */
  rows?: Int32Array;
}

export function buildFeatures(x: Extracts, requests: Map<string, FeatureRequest>, m0: number): FeatureTable {
  const n = x.subscribers.n;
  const s = x.subscribers;
  const columns = new Map<string, FeatureColumn>();
  const zeros = (): ScaledColumn => ({ values: new Int32Array(n), unit: 1 });
  for (const [key, f] of requests) {
    switch (f.source) {
      case 'subscribers': {
        // The attributes of the contract (ATTRIBUTES), as the subscriber table holds them.
        const scalar: Record<string, Column> = {
          status: s.status,
          member_level: s.memberLevel,
          prepaid_balance: s.prepaidBalance,
          activation_date: s.activationDate,
          status_since: s.statusSince,
        };
        columns.set(key, scalar[f.column]!);
        break;
      }
      case 'billing': {
        // The folded sums with their divisor into units (yuan, minutes, calls): used as they are, not copied.
        const raw = x.billing.months.get(m0 - f.month)?.[f.measure];
        columns.set(key, raw && raw.values.length === n ? raw : zeros());
        break;
      }
      case 'usage': {
        const raw = x.usage?.days.get(f.day)?.[f.measure];
        columns.set(key, raw && raw.values.length === n ? raw : zeros());
        break;
      }
      case 'tickets':
        columns.set(key, x.ticketCounts.get(key) ?? new Int32Array(n));
        break;
      case 'contracts':
        columns.set(key, x.contractCounts.get(key) ?? new Int32Array(n));
        break;
    }
  }
  return { n, columns };
}
