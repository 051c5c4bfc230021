/**
 * The fact readers' unit tests read small extracts against three subscribers
 * (S1, S2, S3) on the run date 2026-11-23: their id table, the input options, and a
 * scratch folder (removed after the file's tests) to write the extracts into.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { IdTable } from '../../src/ingest/id-table.js';
import { defaultInputOptions } from '../../src/ingest/layout.js';
import { parseDay } from '../../src/util/dates.js';

export function factFixture(name: string) {
  const dir = mkdtempSync(join(tmpdir(), `cw-${name}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const ids = ['S1', 'S2', 'S3'];
  const table = new IdTable(4);
  for (const id of ids) table.insert(Buffer.from(id), 0, Buffer.byteLength(id));
  return {
    ids,
    subs: { n: ids.length, idTable: table },
    D: parseDay('2026-11-23'),
    input: defaultInputOptions(dir),
    /** Writes an extract's lines into the scratch folder; returns its path. */
    write(file: string, lines: string[]): string {
      const path = join(dir, file);
      writeFileSync(path, lines.join('\n') + '\n');
      return path;
    },
  };
}
