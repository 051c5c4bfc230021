/**
 * CSV text for the outputs: RFC 4180 quoting, "\n" line ends, UTF-8 without BOM.
 *
 * Formula injection: a free-text cell that a spreadsheet would read as a formula
 * (starting with =, +, -, @, tab or carriage return, as OWASP lists them; also NUL
 * and the full-width ＝ ＋ － ＠ that East Asian spreadsheet set-ups may convert) is
 * prefixed with a single quote, as OWASP advises. Identifier, number and date
 * columns that churnwatch formats itself are not free text; phone columns are
 * validated (digits, an optional leading +) instead and never altered. The byte
 * writers (util/bytes.ts) give the same text.
 */

import { isFormulaStart } from '../util/bytes.js';

export function neutraliseFormula(cell: string): string {
  return cell.length > 0 && isFormulaStart(cell.charCodeAt(0)) ? `'${cell}` : cell;
}

export function quoteCell(cell: string, delimiter = ','): string {
  if (cell.includes('"') || cell.includes(delimiter) || cell.includes('\n') || cell.includes('\r')) {
    return `"${cell.replaceAll('"', '""')}"`;
  }
  return cell;
}

export function csvLine(cells: readonly string[], freeText?: ReadonlySet<number>): string {
  let s = '';
  for (let j = 0; j < cells.length; j++) {
    if (j > 0) s += ',';
    const c = cells[j]!;
    s += quoteCell(freeText?.has(j) ? neutraliseFormula(c) : c);
  }
  return s + '\n';
}
