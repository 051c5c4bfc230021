/**
 * A night's collection on demand (util/collect.ts): reached without a command-line
 * flag, it collects what nothing refers to any more, and calling it again is harmless.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { collectGarbage } from '../../src/util/collect.js';

describe('collectGarbage', () => {
  it('when an object is let go of then a collection clears the weak reference to it', async () => {
    let held: Float64Array | null = new Float64Array(1 << 16);
    const ref = new WeakRef(held);
    held = null;
    // A weak reference's target lives to the end of the job that made or read it.
    await sleep(0);
    collectGarbage();
    collectGarbage();
    expect(ref.deref()).toBeUndefined();
  });

  it('when an object is still referred to then a collection keeps it', async () => {
    const held = new Float64Array(16).fill(7);
    const ref = new WeakRef(held);
    await sleep(0);
    collectGarbage();
    expect(ref.deref()).toBe(held);
    expect(held[15]).toBe(7);
  });
});
