/**
 * Bounded fuzzing of the real CLI (issue: hostile input must never crash, hang or
 * publish inconsistent counts): random byte mutations of small extracts (quotes,
 * NULs, invalid UTF-8, cut records, huge numbers, other delimiters, BOMs, CRLF and
 * lone CR, gzip and cut gzip) and random well-formed and garbled rule expressions.
 * Most cases run in-process (cheap); a share runs `bin/churnwatch.js` as a child
 * process with a time limit, which is what catches a hang.
 *
 * Seeds are fixed: a failure prints the seed, the path and the case, and
 * FUZZ_SEED=<seed> reproduces it. `npm run fuzz -- --minutes 5` runs the same
 * fuzzer longer with a new seed each time (FUZZ_MINUTES, FUZZ_SEED).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../hardening/helpers.js';
import { AS_OF, BASE_INPUT, DEFAULT_PACK, fuzzCase, runCase, violations, writeCase, type FuzzCase } from './cases.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261204);
const MINUTES = Number(process.env.FUZZ_MINUTES ?? 0);
/** In CI: this many cases, of which about CHILD_SHARE as child processes. */
const CI_CASES = 150;
const CHILD_SHARE = 0.06;
/** A child run of these small extracts takes about a second; far longer is a hang. */
const CHILD_TIMEOUT_MS = 30_000;

const baseRowsRead = new Map<string, number>();

beforeAll(async () => {
  await ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'cw-fuzz-base-'));
  try {
    const base = await runCase(dir, BASE_INPUT, DEFAULT_PACK, false, CHILD_TIMEOUT_MS);
    expect(base.code).toBe(0);
    const summary = JSON.parse(readFileSync(join(dir, 'out', AS_OF, 'summary.json'), 'utf8')) as {
      files: Record<string, { rows_read: number }>;
    };
    for (const [extract, f] of Object.entries(summary.files)) baseRowsRead.set(extract, f.rows_read);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

describe('fuzzing the CLI with mutated extracts and rule expressions', () => {
  it(
    'never exits 70, prints a stack trace, hangs, or publishes counts that do not add up',
    async () => {
      let n = 0;
      const seen = { codes: new Map<number, number>(), child: 0 };
      await fc.assert(
        fc.asyncProperty(fuzzCase(CHILD_SHARE), async (c: FuzzCase) => {
          const dir = mkdtempSync(join(tmpdir(), 'cw-fuzz-'));
          try {
            const { input, pack, mutated, expr } = writeCase(dir, c);
            const o = await runCase(dir, input, pack, c.child, CHILD_TIMEOUT_MS);
            n++;
            seen.codes.set(o.code, (seen.codes.get(o.code) ?? 0) + 1);
            if (c.child) seen.child++;
            const bad = violations(dir, o, mutated, baseRowsRead);
            if (bad.length > 0) {
              const what = JSON.stringify({ case: c, expression: expr, stderr: o.stderr.slice(0, 2000) });
              expect.fail(`fuzz case (seed ${SEED}) broke: ${bad.join('; ')}\n${what}`);
            }
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        }),
        MINUTES > 0
          ? {
              seed: SEED,
              numRuns: Number.MAX_SAFE_INTEGER,
              interruptAfterTimeLimit: MINUTES * 60_000,
              markInterruptAsFailure: false,
              endOnFailure: true,
            }
          : { seed: SEED, numRuns: CI_CASES, endOnFailure: true },
      );
      // What the cases exercised, for the long run's report.
      console.log(
        `fuzz: seed ${SEED}, ${n} cases (${seen.child} as child processes), exit codes ${JSON.stringify(Object.fromEntries(seen.codes))}`,
      );
      expect(n).toBeGreaterThan(0);
    },
    MINUTES > 0 ? MINUTES * 60_000 + 120_000 : 240_000,
  );
});
