/**
 * Rows the run refuses: each goes to rejects.csv with file, line, column, code and
 * reason, and the run goes on. Raw values are kept for the analyst, but anything
 * that looks like a phone or ID number is masked so the file carries no personal data.
 */

export type RejectCode =
  | 'CW_ROW_FIELD_COUNT'
  | 'CW_ROW_EMPTY_FIELD'
  | 'CW_ROW_UNKNOWN_SUBSCRIBER'
  | 'CW_ROW_DUPLICATE_SUBSCRIBER'
  | 'CW_ROW_BAD_DATE'
  | 'CW_ROW_BAD_MONTH'
  | 'CW_ROW_BAD_NUMBER'
  | 'CW_ROW_BAD_ENUM'
  | 'CW_ROW_BAD_PHONE';

export interface RejectRow {
  file: string;
  line: number;
  column: string;
  code: RejectCode;
  reason: string;
  raw: string;
}

const PERSONAL_COLUMNS = new Set(['msisdn', 'name']);

/** Keeps the shape of a value but not a phone or ID number in it. */
export function maskRaw(column: string, raw: string): string {
  const clipped = raw.length > 64 ? `${raw.slice(0, 64)}…` : raw;
  if (PERSONAL_COLUMNS.has(column)) return clipped.length <= 1 ? '*' : `${clipped[0]}${'*'.repeat(Math.min(clipped.length - 1, 16))}`;
  return clipped.replace(/\d{7,}/g, (d) => `${d.slice(0, 3)}${'*'.repeat(d.length - 7)}${d.slice(-4)}`);
}

export class RejectLog {
  readonly rows: RejectRow[] = [];
  readonly perFile = new Map<string, number>();

  add(file: string, line: number, column: string, code: RejectCode, reason: string, raw: string): void {
    this.rows.push({ file, line, column, code, reason, raw: maskRaw(column, raw) });
    this.perFile.set(file, (this.perFile.get(file) ?? 0) + 1);
  }

  count(file: string): number {
    return this.perFile.get(file) ?? 0;
  }
}
