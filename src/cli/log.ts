/**
 * Logs: pino NDJSON on stderr, written synchronously so a short-lived CLI loses
 * nothing at exit. Log records carry counts, stages, files and codes, never field
 * values: those can be phone numbers or names.
 */
import pino, { type Logger } from 'pino';

export function makeLogger(level: string): Logger {
  return pino({ level, base: { app: 'churnwatch' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
}
