/**
 * How the reading threads share the jobs (ingest.ts dispatchPlan): the hash jobs
 * first (they need no id table), then the largest first, a file's ranges next to each
 * other in range order (each is merged as it arrives), the smallest last.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FactJob } from '../../src/ingest/fact-jobs.js';
import { dispatchPlan, type IngestPlan } from '../../src/ingest/ingest.js';
import { defaultInputOptions } from '../../src/ingest/layout.js';
import { tempDir } from '../hardening/helpers.js';
import { cleanup } from '../helpers/world.js';

const dir = tempDir('dispatch');
afterAll(() => cleanup(dir));

describe('sharing the ingest jobs out', () => {
  it('when files are cut into ranges then the hash jobs come first, then the largest, ranges in order, the smallest last', () => {
    const sizes = {
      subscribers: 1 << 20,
      billing_monthly: 2 << 20,
      usage_daily: 4 << 20,
      tickets: 200_000,
      contracts: 300_000,
      contact_history: 50_000,
    };
    for (const [name, bytes] of Object.entries(sizes)) writeFileSync(join(dir, `${name}.csv`), Buffer.alloc(bytes, 0x61));
    const at = (name: string) => ({ path: join(dir, `${name}.csv`), file: `${name}.csv` });
    const range = (name: 'usage_daily' | 'billing_monthly', index: number): FactJob => {
      const half = sizes[name] / 2;
      const r = { start: index * half, end: (index + 1) * half, index, header: index === 0 ? null : ['x'] };
      return name === 'usage_daily'
        ? { extract: name, ...at(name), asOf: 0, wanted: [], range: r }
        : { extract: name, ...at(name), asOfMonth: 0, windows: {}, range: r };
    };
    const hash = (name: 'subscribers'): FactJob => ({ extract: name, ...at(name), hash: true });
    const jobs: FactJob[] = [
      hash('subscribers'),
      range('billing_monthly', 0),
      range('billing_monthly', 1),
      range('usage_daily', 0),
      range('usage_daily', 1),
      { extract: 'tickets', ...at('tickets'), asOf: 0, requests: [] },
      { extract: 'contracts', ...at('contracts'), asOf: 0, requests: [] },
      { extract: 'contact_history', ...at('contact_history'), asOf: 0 },
    ];
    const plan = (parallel?: boolean): IngestPlan => ({
      asOf: 0,
      input: { ...defaultInputOptions(dir), workers: 2 },
      features: new Map(),
      needed: new Set(),
      ...(parallel === undefined ? {} : { parallel }),
    });
    const d = dispatchPlan(plan(true), join(dir, 'subscribers.csv'), null, jobs, 2)!;
    const [h1, b0, b1, u0, u1, t, c, ch] = jobs;
    expect(d.order).toEqual([h1, u0, u1, b0, b1, c, t, ch]);
    expect(d.threads).toBe(2);
    // Forced on (tests): the first worker takes the largest job at least.
    expect([...d.onlyOn]).toEqual([[u0, 0]]);
    // Small inputs, not forced: all in one thread.
    expect(dispatchPlan(plan(), join(dir, 'subscribers.csv'), null, jobs, 2)).toBeNull();
  });
});
