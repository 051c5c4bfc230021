/** Extracts as plain data, to compare two ingests: typed arrays as arrays, maps as sorted entries, no timings, no id table. */
import type { Extracts } from '../../src/ingest/ingest.js';

export function plainExtracts(x: Extracts): unknown {
  const conv = (v: unknown): unknown => {
    if (ArrayBuffer.isView(v)) return Array.from(v as Float64Array);
    if (v instanceof Map) return [...v.entries()].map(([k, e]) => [k, conv(e)]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    if (Array.isArray(v)) return v.map(conv);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.entries(v)
          .filter(([k]) => k !== 'ms' && k !== 'idTable')
          .map(([k, e]) => [k, conv(e)]),
      );
    return v;
  };
  return conv({ ...x, rejects: x.rejects.rows });
}
