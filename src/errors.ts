/**
 * The one error class of churnwatch. Every failure the user can act on carries a
 * stable code; the exit status follows from the code through EXIT_CODES alone, so
 * cron wrappers and tests can rely on both.
 *
 * Messages say what went wrong, where (file, line, column) and what to do. They
 * never contain field values from the extracts: those may be personal data.
 */

/** sysexits(3) values used by the CLI. */
export const EXIT = {
  ok: 0,
  software: 70,
  usage: 64,
  data: 65,
  noInput: 66,
  cantCreate: 73,
  tempFail: 75,
  config: 78,
} as const;

export const EXIT_CODES = {
  CW_USAGE: EXIT.usage,
  CW_INPUT_MISSING: EXIT.noInput,
  CW_EXTRACT_MISSING_FILE: EXIT.noInput,
  CW_INPUT_NOT_FILE: EXIT.noInput,
  CW_INPUT_AMBIGUOUS: EXIT.config,
  CW_EXTRACT_MISSING_COLUMN: EXIT.data,
  CW_EXTRACT_DUPLICATE_COLUMN: EXIT.data,
  CW_EXTRACT_EMPTY: EXIT.data,
  CW_CSV_MALFORMED: EXIT.data,
  CW_ENCODING: EXIT.data,
  CW_GATE_USAGE_DAY: EXIT.data,
  CW_GATE_BILLING_MONTH: EXIT.data,
  CW_GATE_REJECT_SHARE: EXIT.data,
  CW_GATE_BILLING_COMPLETE: EXIT.data,
  CW_GATE_USAGE_ACTIVE: EXIT.data,
  CW_GATE_DUPLICATES: EXIT.data,
  CW_RULEPACK_INVALID: EXIT.config,
  CW_RULE_EXPRESSION: EXIT.config,
  CW_SQL_UNSUPPORTED: EXIT.config,
  // 78, not 69: the project's exits are sysexits' config family for "the configuration asks for what this installation or input cannot do"; the fix is a flag.
  CW_ENGINE_UNAVAILABLE: EXIT.config,
  CW_ENGINE_UNSUPPORTED: EXIT.config,
  /** --engine duckdb: DuckDB ran out of memory within --memory-limit. */
  CW_ENGINE_MEMORY: EXIT.config,
  /** --engine duckdb: the disk of its temp folder (in the output root) filled up. */
  CW_ENGINE_DISK_FULL: EXIT.cantCreate,
  CW_CONFIG_INVALID: EXIT.config,
  CW_REPORT_INPUT: EXIT.data,
  CW_SCORES_INVALID: EXIT.data,
  /** calibrate: the labels leave too little to fit on or to judge by. */
  CW_CALIBRATE_DATA: EXIT.data,
  /** calibrate: the fitted pack is worse than the old one on the held-out part (--force writes it anyway). */
  CW_CALIBRATE_WORSE: EXIT.data,
  CW_OUTPUT_UNWRITABLE: EXIT.cantCreate,
  CW_OUTPUT_EXISTS: EXIT.cantCreate,
  CW_OUTPUT_ENCODING: EXIT.data,
  CW_LOCK_HELD: EXIT.tempFail,
  CW_INPUT_CHANGED: EXIT.tempFail,
  CW_INTERNAL: EXIT.software,
} as const;

export type ErrorCode = keyof typeof EXIT_CODES;

export interface ErrorContext {
  file?: string;
  line?: number;
  column?: string | number;
  rule?: string;
  gate?: string;
  [key: string]: unknown;
}

export class ChurnwatchError extends Error {
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}) {
    super(message);
    this.name = 'ChurnwatchError';
    this.code = code;
    this.context = context;
  }

  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}

/**
 * Exit status for anything thrown: known errors map by code, the rest are bugs.
 * Commander's errors never get here: main() answers help and the version with 0 and
 * turns every other one into a CW_USAGE error first.
 */
export function exitCodeOf(err: unknown): number {
  return err instanceof ChurnwatchError ? err.exitCode : EXIT.software;
}

/** "file:line:column" for messages, leaving out what is unknown. */
export function where(ctx: ErrorContext): string {
  let s = ctx.file ?? '';
  if (ctx.line !== undefined) s += `:${ctx.line}`;
  if (ctx.column !== undefined) s += ` (column ${ctx.column})`;
  return s;
}

/** An error as plain data, to cross from a worker thread to the main thread. */
export interface SerializedError {
  churnwatch: boolean;
  name: string;
  message: string;
  code?: string;
  context?: ErrorContext;
  stack?: string;
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof ChurnwatchError) {
    return { churnwatch: true, name: e.name, message: e.message, code: e.code, context: { ...e.context }, stack: e.stack };
  }
  if (e instanceof Error) return { churnwatch: false, name: e.name, message: e.message, stack: e.stack };
  return { churnwatch: false, name: 'Error', message: String(e) };
}

/** The error as it was thrown in the worker: a ChurnwatchError keeps its code, message and context. */
export function deserializeError(s: SerializedError): Error {
  if (s.churnwatch) {
    const e = new ChurnwatchError(s.code as ErrorCode, s.message, s.context ?? {});
    if (s.stack) e.stack = s.stack;
    return e;
  }
  const e = new Error(s.message);
  e.name = s.name;
  if (s.stack) e.stack = s.stack;
  return e;
}
