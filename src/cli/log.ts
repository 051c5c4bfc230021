/**
 * Logs: pino NDJSON, on stderr or appended to a --log-file, written synchronously so
 * a short-lived CLI loses nothing at exit. Log records carry counts, stages, files
 * and codes, never field values: those can be phone numbers or names. As a last
 * line of defence every line passes through scrubJsonLine, which masks mobile and
 * ID numbers inside strings, at every level.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import { ChurnwatchError } from '../errors.js';
import { scrubJsonLine } from '../util/mask.js';

/** `sink` receives each line instead of stderr (a log file, tests, embedding). */
export function makeLogger(level: string, sink?: (line: string) => void): Logger {
  const dest = sink
    ? {
        write: (s: string) => {
          sink(s);
        },
      }
    : pino.destination({ dest: 2, sync: true });
  return pino(
    {
      level,
      base: { app: 'churnwatch' },
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: { streamWrite: scrubJsonLine },
    },
    dest,
  );
}

export interface LogFile {
  write(line: string): void;
  close(): void;
}

/**
 * A log file opened for appending, so that it holds nothing but NDJSON records
 * whatever stdout and stderr are sent to. Created owner-only, as churnwatch creates
 * its other files by default; an existing file keeps its mode. Each record is one
 * write(2) of a whole line, so runs appending to one file do not cut each other's lines.
 */
export function openLogFile(path: string): LogFile {
  if (path === '') throw new ChurnwatchError('CW_USAGE', '--log-file needs a file name');
  let fd: number;
  try {
    fd = openSync(path, 'a', 0o600);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new ChurnwatchError(
      'CW_OUTPUT_UNWRITABLE',
      `cannot open the log file ${path} for appending (${why}); check --log-file and the folder's permissions`,
      { file: path },
    );
  }
  return {
    write: (line) => {
      writeSync(fd, line);
    },
    close: () => {
      closeSync(fd);
    },
  };
}
