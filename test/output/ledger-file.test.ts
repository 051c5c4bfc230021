/**
 * readLedger takes off exactly the formula guard the writer puts on a subscriber id
 * (putCell: a "'" before a cell that starts like a formula, full-width signs and NUL
 * included), so last night's subscribers are found again whatever their ids.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readLedger } from '../../src/output/ledger-file.js';
import { LEDGER_COLUMNS } from '../../src/tasks/ledger.js';
import { cellBytes } from '../../src/util/bytes.js';
import { parseDay } from '../../src/util/dates.js';

const root = mkdtempSync(join(tmpdir(), 'cw-ledger-file-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('readLedger: subscriber ids', () => {
  it('when the writer guarded an id against formulas then the id is read back as it was, and no other id loses a quote', () => {
    const ids = ['=S1', '\uff1dS2', '\uff20S3', '+8613800000000', 'S5', "'S6", "'"];
    const cells = ids.map((id) => Buffer.from(cellBytes(id, true)).toString('utf8'));
    // The writer's guard is on the formula-like ids only.
    expect(cells.slice(0, 4).every((c) => c.startsWith("'"))).toBe(true);
    mkdirSync(join(root, '2026-11-21'));
    const rows = cells.map((c, i) => `RT${i},${c},high,2026-11-21,2026-11-21,r1,0,open,`);
    writeFileSync(join(root, '2026-11-21', 'ledger.csv'), [LEDGER_COLUMNS.join(','), ...rows].join('\n') + '\n');
    const ledger = readLedger(root, parseDay('2026-11-22'))!;
    const b = ledger.cellBytes;
    const read = ids.map((_, r) => Buffer.from(b.subarray(ledger.subscriberStart(r), ledger.subscriberEnd(r))).toString('utf8'));
    expect(read).toEqual(ids);
  });
});
