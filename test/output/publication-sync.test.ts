/**
 * A publication's files are fsynced on the thread pool after they are closed, while
 * the writer goes on with its next file; the publication is committed only once
 * every one of them is synced.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Publication } from '../../src/output/publish.js';

const root = mkdtempSync(join(tmpdir(), 'cw-publication-sync-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('publication of files synced on the thread pool', () => {
  it('refuses to commit while a closed file is still being synced, and commits once synced() has waited for all', async () => {
    const p = new Publication(root, '2026-11-23', { force: false, fileMode: 0o600, dirMode: 0o700 });
    for (const name of ['a.csv', 'b.csv']) {
      const f = p.open(name);
      f.writeBytes(Buffer.from(`${name}\n`));
      p.add(f.close());
    }
    expect(() => p.commit()).toThrow(expect.objectContaining({ code: 'CW_INTERNAL' }));
    await p.synced();
    const target = p.commit((outputs) => `${JSON.stringify(outputs.map((o) => o.file))}\n`);
    expect(readdirSync(target).sort()).toEqual(['a.csv', 'b.csv', 'manifest.json']);
    expect(readFileSync(join(target, 'b.csv'), 'utf8')).toBe('b.csv\n');
    expect(readFileSync(join(target, 'manifest.json'), 'utf8')).toBe('["a.csv","b.csv"]\n');
  });
});
