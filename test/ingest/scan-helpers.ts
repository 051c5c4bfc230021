import { expect } from 'vitest';
import { CsvScanner, fieldString, type RecordView } from '../../src/ingest/csv-scan.js';

export interface Scanned {
  records: string[][];
  lines: number[];
  physicalLines: number;
}

const enc = new TextEncoder();

export function bytesOf(input: string | Uint8Array): Uint8Array {
  return typeof input === 'string' ? enc.encode(input) : input;
}

/** Scans `input` pushed in pieces cut at `cuts` (sorted byte offsets). */
export function scan(input: string | Uint8Array, delimiter = ',', cuts: number[] = []): Scanned {
  const bytes = bytesOf(input);
  const records: string[][] = [];
  const lines: number[] = [];
  const sc = new CsvScanner({ file: 'test.csv', delimiter: delimiter.charCodeAt(0) }, (rec: RecordView) => {
    const row: string[] = [];
    for (let i = 0; i < rec.count; i++) row.push(fieldString(rec, i));
    records.push(row);
    lines.push(rec.line);
  });
  let from = 0;
  for (const c of cuts) {
    // Push copies so that a scanner keeping references to a chunk would be caught.
    const piece = bytes.slice(from, c);
    sc.push(piece);
    piece.fill(0x58);
    from = c;
  }
  const last = bytes.slice(from);
  sc.push(last);
  last.fill(0x58);
  sc.finish();
  expect(sc.records).toBe(records.length);
  return { records, lines, physicalLines: sc.lines };
}

/** A one-field record view over `s`, padded with digits on both sides to catch reads outside the field. */
export function field(s: string): RecordView {
  const inner = enc.encode(s);
  const buf = new Uint8Array(inner.length + 4);
  buf.set([0x31, 0x32]);
  buf.set(inner, 2);
  buf.set([0x33, 0x34], inner.length + 2);
  return { line: 1, count: 1, buf, start: Int32Array.of(2), end: Int32Array.of(2 + inner.length) };
}

export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** What an async read gave: its value, or its error's code, message and context (to compare two ways of reading). */
export async function outcome(f: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    const err = e as { code?: string; message: string; context?: unknown };
    return { ok: false, error: { code: err.code, message: err.message, context: err.context } };
  }
}
