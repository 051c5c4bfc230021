/** Plain-text tables for analysts' terminals: columns padded to their widest cell. */

/** Lines of the table; a column with right[c] set is right-aligned (numbers). */
export function alignColumns(rows: string[][], right: boolean[]): string[] {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, c) => {
      widths[c] = Math.max(widths[c] ?? 0, cell.length);
    });
  return rows.map((row) =>
    row
      .map((cell, c) => (right[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
}
