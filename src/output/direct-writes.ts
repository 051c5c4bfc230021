/**
 * Direct writes (O_DIRECT): a publication's large files go from the writer's memory
 * to the disk without passing through the page cache. A night writes ~700 MB at 1M
 * subscribers, every byte of it fsynced before the folder is renamed into place and
 * none of it read again by the run. Through the page cache, each of those pages is a
 * fresh page the kernel must find, fill and write back; on a virtual machine whose
 * free memory goes back to its host that was 3.4 s of system CPU for 1 GB written
 * after a pause, against 0.2 s for the same bytes written directly
 * (docs/performance.md, "Direct writes").
 *
 * A direct write must start at an aligned address, at an aligned file offset, and be
 * a whole number of blocks long. So bytes are staged in a buffer whose start is
 * aligned, written a whole stage at a time, the last block padded with zeros, and the
 * file cut back to its length before its fsync. The buffer's alignment cannot be
 * asked of JavaScript: the stage is a WebAssembly memory's bytes, which start on a
 * page; where there is none, or the kernel refuses it, the start is found by trying
 * one block's write from each 16-byte offset (the allocator's alignment) until the
 * kernel takes one. A file system that takes none (or refuses O_DIRECT at open) gets
 * plain writes instead, with the same bytes in the end.
 */
import { constants as fsConstants, openSync, writeSync } from 'node:fs';

/** O_DIRECT where the platform has it (Linux); 0 elsewhere, and then no file is opened for direct writes. */
export const O_DIRECT: number = fsConstants.O_DIRECT ?? 0;

/** The block every direct write's offset and length are a multiple of (the largest logical block in common use). */
export const DIRECT_BLOCK = 4096;

/** The bytes staged before a write: large enough that the syscalls do not count, small enough to keep a stage per open file. */
export const STAGE_BYTES = 1 << 20;

/** The rounds of directIo.freshPageCost, and the MiB touched in each: ~10 ms in all on an ordinary host. */
const FRESH_PAGE_ROUNDS = 3;
const FRESH_PAGE_MIB = 4;

/**
 * Above this cost of a fresh page (ms per MiB), direct writes pay. A page the kernel
 * takes for a file written through the page cache is a fresh page; on a virtual machine
 * whose free memory has gone back to its host, the host must supply each again: 3.1-3.5
 * s of system CPU for 1,000 MB written after an idle pause (eleventh stop), where
 * direct writes made a 1M night 0.85 x DuckDB's against 0.91 x. On a host whose free
 * pages stay the guest's own, a fresh page costs ~0.5 ms a MiB (zeroing and the fault),
 * a direct write waits for the disk (~3.3 ms a MiB there) where a plain one returns
 * after the copy, and page-cache writes made the night 0.74 x against 0.82 x
 * (docs/performance.md, "Direct writes from a page's start, and only where a fresh page is dear").
 */
export const DIRECT_WHEN_FRESH_PAGE_MS = 1.5;

/** Whether this process should write its publication's large files past the page cache, a fresh page costing `msPerMiB`. */
export function directWritesPay(msPerMiB: number): boolean {
  return O_DIRECT !== 0 && msPerMiB > DIRECT_WHEN_FRESH_PAGE_MS;
}

/** Stages whose aligned start is known, free for the next file of this thread. */
const freeStages: Uint8Array[] = [];
const KEPT_STAGES = 8;

/** The reopening and the probe, an object's members so that a test can make a file system refuse direct writes. */
export const directIo = {
  /**
   * The file at `path`, just created (and still open plainly), opened again for direct
   * writes; undefined when that fails. The file is created without O_DIRECT first:
   * a file system that refuses O_DIRECT may refuse it only after creating the file.
   */
  reopen(path: string): number | undefined {
    if (O_DIRECT === 0) return undefined;
    try {
      return openSync(path, fsConstants.O_WRONLY | O_DIRECT);
    } catch {
      return undefined;
    }
  },

  /**
   * True when `fd` took one block's direct write from the start of `stage` at offset 0
   * (the block's zeros are overwritten later). Any error counts as no: EINVAL is the
   * usual refusal, but a file system may answer otherwise, and a real fault (a full
   * disk) comes back from the plain writes that follow, with the file's name.
   */
  probe(fd: number, stage: Uint8Array): boolean {
    try {
      stage.fill(0, 0, DIRECT_BLOCK);
      return writeSync(fd, stage, 0, DIRECT_BLOCK, 0) === DIRECT_BLOCK;
    } catch {
      return false;
    }
  },

  /**
   * What a fresh page of memory costs this process, in ms per MiB touched: the least
   * of FRESH_PAGE_ROUNDS rounds over FRESH_PAGE_MIB MiB each, newly allocated.
   */
  freshPageCost(): number {
    let least = Number.POSITIVE_INFINITY;
    for (let r = 0; r < FRESH_PAGE_ROUNDS; r++) {
      const from = performance.now();
      const pages = new Uint8Array(FRESH_PAGE_MIB << 20);
      for (let i = 0; i < pages.length; i += 4096) pages[i] = 1;
      least = Math.min(least, (performance.now() - from) / FRESH_PAGE_MIB);
    }
    return least;
  },
};

/**
 * An aligned stage of STAGE_BYTES for the file `fd` (opened again with
 * directIo.reopen), every other descriptor in `more` checked too; undefined when they
 * do not all take direct writes from it.
 */
export function takeStage(fd: number, more: readonly number[]): Uint8Array | undefined {
  const pooled = freeStages.pop();
  let stage = pooled !== undefined && directIo.probe(fd, pooled) ? pooled : undefined;
  if (stage === undefined) {
    if (pooled !== undefined) giveStage(pooled); // aligned for another device's blocks, maybe: a new one is tried
    const aligned = pageAlignedStage();
    if (aligned !== undefined && directIo.probe(fd, aligned)) stage = aligned;
  }
  if (stage === undefined) {
    const raw = new Uint8Array(STAGE_BYTES + DIRECT_BLOCK);
    for (let k = 0; k < DIRECT_BLOCK && stage === undefined; k += 16) {
      const view = raw.subarray(k, k + STAGE_BYTES);
      if (directIo.probe(fd, view)) stage = view;
    }
    if (stage === undefined) return undefined;
  }
  for (const other of more) {
    if (!directIo.probe(other, stage)) {
      giveStage(stage);
      return undefined;
    }
  }
  return stage;
}

/** The bytes of a WebAssembly page: a memory's size is a whole number of them. */
const WASM_PAGE = 1 << 16;

/** Node's WebAssembly.Memory, which the project's type libraries (ES2022, no DOM) do not declare. */
const wasmMemory = (globalThis as { WebAssembly?: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly
  ?.Memory;

/**
 * A stage that starts on a memory page, or undefined where none can be had. A
 * WebAssembly memory's bytes are mapped by V8 whole pages at a time, where an
 * ArrayBuffer's start is the allocator's (16 bytes past a page with glibc), and the
 * probe takes any start the device's logical block divides: 512 bytes on a virtio
 * disk. From a start 512 bytes past a page, 1 MB direct writes ran at 110 MB/s there,
 * from a page's start at 300 MB/s (docs/performance.md, sixteenth stop).
 */
function pageAlignedStage(): Uint8Array | undefined {
  if (wasmMemory === undefined) return undefined;
  try {
    return new Uint8Array(new wasmMemory({ initial: STAGE_BYTES / WASM_PAGE }).buffer);
  } catch {
    return undefined;
  }
}

/** A stage back to the free list, for the next file. */
export function giveStage(stage: Uint8Array): void {
  if (freeStages.length < KEPT_STAGES) freeStages.push(stage);
}

/** `length` rounded up to a whole number of blocks. */
export function wholeBlocks(length: number): number {
  return Math.ceil(length / DIRECT_BLOCK) * DIRECT_BLOCK;
}
