/** The CLI run in-process, for the analysts' commands (no publication, so no child process is needed). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { main } from '../../src/cli/main.js';

export async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '',
    err = '';
  const code = await main(args, {
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
    // The NDJSON log of a publishing command would go to the test's stderr; tests read out, err and the files.
    log: () => {},
  });
  return { code, out, err };
}

/** The parsed --json output of a command that must succeed without a word on stderr. */
export async function cliJson(args: string[]) {
  const r = await cli([...args, '--json']);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.out);
}

/** A file of this text in a new temporary folder. */
export function tempFile(name: string, text: string): string {
  const p = join(mkdtempSync(join(tmpdir(), 'cw-test-')), name);
  writeFileSync(p, text);
  return p;
}
