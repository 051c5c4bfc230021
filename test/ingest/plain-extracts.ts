/** Extracts as plain data, to compare two ingests: typed arrays as arrays, maps as sorted entries, no timings, no id table. */
import { loadRulePack, neededFiles, requiredFeatures } from '../../src/config/rulepack.js';
import type { Extracts, IngestPlan } from '../../src/ingest/ingest.js';
import type { InputOptions } from '../../src/ingest/layout.js';
import { parseDay } from '../../src/util/dates.js';
import { join } from 'node:path';
import { AS_OF, reproducibleOutputs, runChild, summaryWithoutTimings, verifyPublished } from '../hardening/helpers.js';

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

/** An ingest of the default pack's extracts with `workers` readers, files cut into ranges of at least `minRangeBytes`. */
export function rangePlan(input: InputOptions, workers: number, minRangeBytes: number): IngestPlan {
  const pack = loadRulePack('rules/default.yaml');
  return {
    asOf: parseDay(AS_OF),
    input: { ...input, workers },
    features: requiredFeatures(pack),
    needed: neededFiles(pack),
    minRangeBytes,
  };
}

/** Every published output of each run folder but the timings equals the first's. */
export function expectSameOutputs(outs: string[], expect: (v: unknown) => { toEqual(w: unknown): void }): void {
  const first = outs[0]!;
  for (const o of outs.slice(1)) {
    expect(reproducibleOutputs(verifyPublished(o))).toEqual(reproducibleOutputs(verifyPublished(first)));
    expect(summaryWithoutTimings(o)).toEqual(summaryWithoutTimings(first));
  }
}

/** Runs the compiled CLI on `dir` with `workers` readers, worker threads on or off ('1', '0'), files cut at `minRangeBytes`: its published folder, or the failure. */
export async function runWorkers(dir: string, out: string, workers: string, threads: string, minRangeBytes: number): Promise<string> {
  const r = await runChild(['run', '--input', dir, '--out', out, '--as-of', AS_OF, '--log-level', 'warn', '--workers', workers], {
    env: { CHURNWATCH_INGEST_PARALLEL: threads, CHURNWATCH_RANGE_MIN_BYTES: String(minRangeBytes) },
  });
  if (r.code !== 0 || r.stderr !== '') throw new Error(`run --workers ${workers} failed (${r.code}): ${r.stderr}`);
  return join(out, AS_OF);
}
