/**
 * Phone and ID numbers are masked whatever their written form: random numbers,
 * rendered with random separators, country prefixes and full-width digits, inside
 * random text without digits. After masking, the text holds at most 7 digits (the
 * 3 + 4 that the masked forms show) and no 5 of them in a row once separators are
 * taken out; the text around the number is left as it was.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maskRaw, scrubPersonal } from '../../src/util/mask.js';

const digit = fc.integer({ min: 0, max: 9 }).map(String);
const mobile = fc
  .tuple(fc.constantFrom('3', '4', '5', '6', '7', '8', '9'), fc.array(digit, { minLength: 9, maxLength: 9 }))
  .map(([second, rest]) => `1${second}${rest.join('')}`);
const idNumber = fc
  .tuple(fc.array(digit, { minLength: 17, maxLength: 17 }), fc.constantFrom('0', '7', 'X', 'x'))
  .map(([d, last]) => `${d.join('')}${last}`);

const SEPARATORS = [' ', '-', '.', '/', ' - ', ') ', '\u3000', '\uff0d', '\t'];
const fullWidth = (c: string): string => (c >= '0' && c <= '9' ? String.fromCharCode(0xff10 + Number(c)) : c);

/** A number as an export or a person might write it: groups, separators, digit widths, a country prefix. */
function rendered(number: string, cuts: number[], seps: number[], wide: boolean[], prefix: string): string {
  let s = prefix;
  let from = 0;
  const points = [...new Set(cuts.map((c) => 1 + (c % (number.length - 1))))].sort((a, b) => a - b);
  points.forEach((p, k) => {
    s += number.slice(from, p) + SEPARATORS[seps[k % seps.length]! % SEPARATORS.length]!;
    from = p;
  });
  s += number.slice(from);
  return Array.from(s)
    .map((c, k) => (wide[k % wide.length] ? fullWidth(c) : c))
    .join('');
}

const TEXT_CHARS = ['a', 'Z', 'X', ' ', ',', ':', ';', '!', '号', '码', '李', '电话', '(', ')', '-', '\u3000', '"'];
const text = fc.array(fc.constantFrom(...TEXT_CHARS), { maxLength: 40 }).map((a) => a.join(''));
const boundary = fc.constantFrom(' ', ',', ':', '：', 'a', '号', '"', '\t');

const personal = fc.oneof(
  fc.tuple(mobile, fc.constantFrom('', '+86', '+86 ', '0086', '0086-', '86', '＋８６ ')),
  fc.tuple(idNumber, fc.constant('')),
);

const cases = fc.record({
  personal,
  cuts: fc.array(fc.nat(), { maxLength: 6 }),
  seps: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
  wide: fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }),
  before: text,
  b1: boundary,
  after: text,
  b2: boundary,
});

/** The digits a masked text still shows: at most 7, and not 5 in a row once separators (not masks) are dropped. */
function shown(masked: string): { total: number; longestRun: number } {
  const n = masked.normalize('NFKC');
  const total = (n.match(/\d/g) ?? []).length;
  const joined = n.replace(/(?<=\d)[\s\-./()]+(?=\d)/g, '');
  const longestRun = Math.max(0, ...(joined.match(/\d+/g) ?? []).map((r) => r.length));
  return { total, longestRun };
}

describe('masking numbers in any written form', () => {
  it('scrubPersonal leaves at most 7 digits of a phone or ID number, never 5 in a row, and the text around it unchanged', () => {
    fc.assert(
      fc.property(cases, ({ personal: [number, prefix], cuts, seps, wide, before, b1, after, b2 }) => {
        const head = before + b1,
          tail = b2 + after;
        const out = scrubPersonal(head + rendered(number, cuts, seps, wide, prefix) + tail);
        const { total, longestRun } = shown(out);
        expect(total).toBeLessThanOrEqual(7);
        expect(longestRun).toBeLessThanOrEqual(4);
        expect(out.startsWith(head.replace(/[(+]$/, ''))).toBe(true);
        expect(out.endsWith(tail)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('maskRaw (rejects.csv) does the same, also when the value is clipped', () => {
    fc.assert(
      fc.property(cases, fc.nat({ max: 80 }), ({ personal: [number, prefix], cuts, seps, wide, before, b1, after, b2 }, pad) => {
        const out = maskRaw('amount', 'x'.repeat(pad) + before + b1 + rendered(number, cuts, seps, wide, prefix) + b2 + after);
        const { total, longestRun } = shown(out);
        expect(total).toBeLessThanOrEqual(7);
        expect(longestRun).toBeLessThanOrEqual(4);
      }),
      { numRuns: 1000 },
    );
  });

  it('masks each form of the issue by its canonical masked form, and leaves dates, times and amounts alone', () => {
    const forms: Array<[string, string]> = [
      ['138-1234-5678', '138****5678'],
      ['138 1234 5678', '138****5678'],
      ['１３８１２３４５６７８', '138****5678'],
      ['１３８－１２３４－５６７８', '138****5678'],
      ['138\u30001234\u30005678', '138****5678'],
      ['+86 138 1234 5678', '138****5678'],
      ['0086-138-1234-5678', '138****5678'],
      ['(010) 8888-1234', '010****1234'],
      ['0755-12345678', '075*****5678'],
      ['110101 19900307 123X', '110***********123X'],
      ['id11010119900307123x', 'id110***********123x'],
      ['+44 20 7946 0958', '442*****0958'],
    ];
    for (const [raw, want] of forms) {
      expect([raw, scrubPersonal(raw)]).toEqual([raw, want]);
      expect([raw, maskRaw('amount', raw)]).toEqual([raw, want]);
    }
    for (const keep of ['2026-11-23 13:45:12', '2026/11/23', 'amount 1234.50', 'took 1234567 ms', '20261123'])
      expect(scrubPersonal(keep)).toBe(keep);
    // rejects.csv also hides other long digit runs (account numbers), keeping fewer digits of shorter ones.
    expect(maskRaw('amount', '1234567')).toBe('12***67');
    expect(maskRaw('amount', '12345678901234')).toBe('123*******1234');
    expect(maskRaw('amount', '2026-13-45')).toBe('2026-13-45');
  });
});
