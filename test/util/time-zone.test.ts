/**
 * isTimeZone answers from Intl's list of canonical names before it makes a formatter
 * (the first costs ~15 ms of the night's start); it must answer as the formatter does.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTimeZone } from '../../src/util/dates.js';

function formatterTakes(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone });
    return true;
  } catch {
    return false;
  }
}

describe('isTimeZone, as a formatter takes the name', () => {
  it('every listed name, and names outside the list (links, UTC, other cases, mistakes)', () => {
    const names = [
      ...Intl.supportedValuesOf('timeZone'),
      'UTC',
      'Etc/UTC',
      'GMT',
      'Asia/Kolkata',
      'asia/shanghai',
      'ASIA/SHANGHAI',
      'US/Eastern',
      'Etc/GMT+5',
      '+08:00',
      'Asia/Shangai',
      'Mars/Olympus',
      '',
      ' Asia/Shanghai',
    ];
    for (const name of names) expect(isTimeZone(name), name).toBe(formatterTakes(name));
  });

  it('random texts', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.constantFrom(...Intl.supportedValuesOf('timeZone')).map((z) => z.toLowerCase()),
        ),
        (name) => {
          expect(isTimeZone(name)).toBe(formatterTakes(name));
        },
      ),
      { numRuns: 300 },
    );
  });
});
