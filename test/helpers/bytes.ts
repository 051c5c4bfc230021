/**
 * Byte-for-byte equality of two buffers (files, typed arrays' bytes). Vitest's toEqual
 * walks a Buffer element by element, about six milliseconds a kilobyte: over a
 * publication's files that was most of a test's time. Buffer#equals compares them in
 * one call; only buffers that differ are decoded, so that the failure shows where.
 */
import { expect } from 'vitest';

export function expectSameBytes(actual: Uint8Array, expected: Uint8Array, message?: string): void {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  if (a.equals(b)) return;
  // The difference as text, where the text differs; then the bytes, where they decode alike.
  expect(a.toString('utf8'), message).toBe(b.toString('utf8'));
  expect(a.equals(b), message).toBe(true);
}
