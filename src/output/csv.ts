/**
 * CSV text for the outputs: RFC 4180 quoting, "\n" line ends, UTF-8 without BOM.
 * Free-text cells that a spreadsheet would read as a formula (starting with =, +,
 * -, @, tab or carriage return) are prefixed with a single quote, as OWASP advises;
 * identifier and phone columns are never altered.
 */

const FORMULA_START = /^[=+\-@\t\r]/;

export function neutraliseFormula(cell: string): string {
  return FORMULA_START.test(cell) ? `'${cell}` : cell;
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

export function csvText(header: readonly string[], rows: Iterable<readonly string[]>, freeTextColumns: ReadonlySet<string> = new Set()): string {
  const free = new Set(header.map((h, j) => (freeTextColumns.has(h) ? j : -1)).filter((j) => j >= 0));
  const parts = [csvLine(header)];
  for (const r of rows) parts.push(csvLine(r, free));
  return parts.join('');
}
