/**
 * Logs: pino NDJSON on stderr, written synchronously so a short-lived CLI loses
 * nothing at exit. Log records carry counts, stages, files and codes, never field
 * values: those can be phone numbers or names. As a last line of defence every line
 * passes through scrubJsonLine, which masks mobile and ID numbers inside strings,
 * at every level.
 */
import pino, { type Logger } from 'pino';
import { scrubJsonLine } from '../output/mask.js';

/** `sink` receives each line instead of stderr (for tests and embedding). */
export function makeLogger(level: string, sink?: (line: string) => void): Logger {
  const dest = sink ? { write: (s: string) => { sink(s); } } : pino.destination({ dest: 2, sync: true });
  return pino({
    level,
    base: { app: 'churnwatch' },
    timestamp: pino.stdTimeFunctions.isoTime,
    hooks: { streamWrite: scrubJsonLine },
  }, dest);
}
