/**
 * exitCodeOf is the one mapping from a thrown value to an exit status: a
 * ChurnwatchError by its code, anything else is a bug (70), whatever `code` it
 * carries. Commander's errors are turned into CW_USAGE by main() before they get here
 * (test/cli/commands.test.ts and test/hardening/exit-codes.test.ts run those through the CLI).
 */
import { describe, expect, it } from 'vitest';
import { ChurnwatchError, EXIT_CODES, exitCodeOf } from '../src/errors.js';

describe('exitCodeOf', () => {
  it('maps every code of a ChurnwatchError through EXIT_CODES', () => {
    for (const [code, status] of Object.entries(EXIT_CODES))
      expect([code, exitCodeOf(new ChurnwatchError(code as keyof typeof EXIT_CODES, 'x'))]).toEqual([code, status]);
  });

  it('gives 70 for anything else, a library error with its own code included', () => {
    const withCode = (code: string) => Object.assign(new Error('x'), { code });
    for (const e of [new Error('x'), withCode('ENOENT'), withCode('commander.unknownOption'), withCode('commander.version'), 'text', null])
      expect(exitCodeOf(e)).toBe(70);
  });
});
