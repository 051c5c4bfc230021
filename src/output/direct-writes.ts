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
 * from a page's start at 300 MB/s (docs/performance.md, "Direct writes from a page's start").
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
