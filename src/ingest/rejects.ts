/**
 * Rows the run refuses: each goes to rejects.csv with file, line, column, code and
 * reason, and the run goes on. Raw values are kept for the analyst, but masked
 * (see maskRaw) so the file carries no phone number, ID number or name.
 * Reasons are fixed texts: they never quote the field.
 */
import { maskRaw } from '../util/mask.js';

export { maskRaw };

export type RejectCode =
  | 'CW_ROW_FIELD_COUNT'
  | 'CW_ROW_EMPTY_FIELD'
  | 'CW_ROW_UNKNOWN_SUBSCRIBER'
  | 'CW_ROW_DUPLICATE_SUBSCRIBER'
  | 'CW_ROW_BAD_DATE'
  | 'CW_ROW_BAD_MONTH'
  | 'CW_ROW_BAD_NUMBER'
  | 'CW_ROW_NEGATIVE'
  | 'CW_ROW_END_BEFORE_START'
  | 'CW_ROW_DUPLICATE_ID'
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

export class RejectLog {
  readonly rows: RejectRow[] = [];
  readonly perFile = new Map<string, number>();

  add(file: string, line: number, column: string, code: RejectCode, reason: string, raw: string): void {
    this.rows.push({ file, line, column, code, reason, raw: maskRaw(column, raw) });
    this.perFile.set(file, (this.perFile.get(file) ?? 0) + 1);
  }

  /** Adds rows whose raw values are masked already (rows another RejectLog or thread made). */
  addRows(rows: readonly RejectRow[]): void {
    for (const r of rows) {
      this.rows.push(r);
      this.perFile.set(r.file, (this.perFile.get(r.file) ?? 0) + 1);
    }
  }

  count(file: string): number {
    return this.perFile.get(file) ?? 0;
  }

  /** Rejected rows per file and code, for logs (codes only, never values). */
  countsByCode(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const r of this.rows) {
      const f = (out[r.file] ??= {});
      f[r.code] = (f[r.code] ?? 0) + 1;
    }
    return out;
  }
}
