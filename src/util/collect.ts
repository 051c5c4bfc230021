/**
 * A full garbage collection on demand, for the few points of a large night where a
 * stage has let go of hundreds of MB that the next stage would otherwise allocate on
 * top of: V8 frees an ArrayBuffer's memory only once a collection finds it unreachable,
 * and when that happens is its heuristics' choice, not the run's. The collector is
 * reached without a command-line flag (the CLI's users start `churnwatch`, not node):
 * V8's flag set at run time, and `gc` taken from a fresh context, which is given it.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collector: (() => void) | null | undefined;

/** Collects now, where the runtime allows it; a no-op where it does not. The memory itself is freed on a V8 background thread within milliseconds. */
export function collectGarbage(): void {
  if (collector === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      const gc: unknown = runInNewContext('gc');
      collector = typeof gc === 'function' ? (gc as () => void) : null;
    } catch {
      collector = null;
    }
  }
  collector?.();
}
