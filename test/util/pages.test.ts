import { describe, expect, it } from 'vitest';
import { writablePages, writableRows } from '../../src/util/pages.js';

/** Minor page faults taken by `work` in this thread's process. */
function faultsOf(work: () => void): number {
  const before = process.resourceUsage().minorPageFault;
  work();
  return process.resourceUsage().minorPageFault - before;
}

/** Every cell read, then written: the pattern of a sum or a flag's |= on a fresh column. */
function readThenWrite(a: Int32Array): void {
  for (let i = 0; i < a.length; i++) a[i]! |= i & 1;
}

describe('writablePages', () => {
  it('gives back the same array, still all zeros, whatever its buffer and offset', () => {
    const plain = new Int32Array(1 << 16);
    expect(writablePages(plain)).toBe(plain);
    expect(plain.every((v) => v === 0)).toBe(true);
    const view = new Float64Array(new SharedArrayBuffer(8 * 40_000), 8 * 3, 30_000);
    expect(writablePages(view)).toBe(view);
    expect(view.every((v) => v === 0)).toBe(true);
    const small = new Uint8Array(100);
    expect(writablePages(small)).toBe(small);
  });

  it('maps a fresh column once per page where reading it first maps it twice', () => {
    const cells = 16 << 20; // 64 MB: far above the allocator's reuse, a fresh mapping each time
    const pages = (4 * cells) / 4096;
    // The fewest of three tries each: the count is the process's, and another thread's faults can only add to it.
    const fewest = (work: () => void) => Math.min(faultsOf(work), faultsOf(work), faultsOf(work));
    const without = fewest(() => readThenWrite(new Int32Array(cells)));
    // A platform that does not fault per 4 KB page (huge pages by default) has nothing to show here.
    if (without < 1.5 * pages) return;
    const withPages = fewest(() => readThenWrite(writablePages(new Int32Array(cells))));
    expect(withPages).toBeLessThan(1.25 * pages);
    expect(withPages).toBeLessThan(0.75 * without);
  });
});

describe('writableRows', () => {
  it('keeps every cell as it was, inside the rows and outside them, at any offset', () => {
    const a = new Int32Array(10_000);
    a[5] = 7;
    a[9_999] = -3;
    writableRows(a, 100, 3_333);
    writableRows(a, 3_333, 3_333);
    const d = new Float64Array(new SharedArrayBuffer(8 * 5_000), 8 * 5, 4_000);
    writableRows(d, 0, 4_000);
    expect([...a].filter((v) => v !== 0)).toEqual([7, -3]);
    expect(d.every((v) => v === 0)).toBe(true);
  });

  it('maps the pages of the rows given, and only those, once each', () => {
    const cells = 16 << 20;
    const pages = (4 * cells) / 4096;
    const fewest = (work: () => void) => Math.min(faultsOf(work), faultsOf(work), faultsOf(work));
    const without = fewest(() => readThenWrite(new Int32Array(cells)));
    if (without < 1.5 * pages) return;
    // Half the rows mapped block by block as a reader would (facts.ts touchBlock), then read and written.
    const half = cells / 2;
    const blockwise = fewest(() => {
      const a = new Int32Array(cells);
      for (let from = 0; from < half; from += 1024) writableRows(a, from, from + 1024);
      readThenWrite(a.subarray(0, half));
    });
    expect(blockwise).toBeLessThan(0.65 * pages);
    expect(blockwise).toBeGreaterThan(0.45 * pages);
  });
});
