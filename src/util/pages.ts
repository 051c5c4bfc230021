/**
 * Fresh zeroed memory stays mapped to the kernel's one shared zero page until it is
 * written. A column read before it is written (a sum's +=, a hash slot's probe, a flag's
 * |=) then takes two faults per page, the second a copy-on-write whose TLB flush
 * interrupts every other core that runs a thread of the process. On a 2-core virtual
 * machine that was ~0.4 s of CPU in a 1M night (docs/performance.md, "Pages written
 * before they are read"). One store per page first maps each page once, with no flush.
 */

/** Stores below this many bytes are not worth a pass: the first fault maps a few pages only. */
const WORTH_BYTES = 1 << 16;
/** The smallest page of the platforms Node runs on: one store per this many bytes reaches every page of any size. */
const PAGE = 4096;

/**
 * `fresh`, its pages mapped for writing. It must be just allocated (all zeros, never
 * written): the stores write zeros without reading, so they would clear any value in it.
 */
export function writablePages<T extends ArrayBufferView>(fresh: T): T {
  if (fresh.byteLength < WORTH_BYTES) return fresh;
  const bytes = new Uint8Array(fresh.buffer, fresh.byteOffset, fresh.byteLength);
  for (let at = 0; at < bytes.length; at += PAGE) bytes[at] = 0;
  return fresh;
}

/**
 * writablePages for cells [from, to) of `a` only, where none of them was written yet:
 * one store of 0 per page they reach (the first and the last cell, and one every page
 * between), whatever the pages' alignment. For a column whose cells are reached block
 * by block, of which a reader may reach only some (facts.ts touchBlock).
 */
export function writableRows(a: Int32Array | Float64Array, from: number, to: number): void {
  if (from >= to) return;
  const step = PAGE / a.BYTES_PER_ELEMENT;
  for (let i = from; i < to; i += step) a[i] = 0;
  a[to - 1] = 0;
}
