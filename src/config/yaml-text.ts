/**
 * YAML text → plain value, for the rule pack and the run configuration. js-yaml
 * parses a calibrated pack several times faster than the `yaml` package, and loads
 * faster too; both are on the single-threaded start of every night. `yaml` stays
 * where packs are written (report/calibrate.ts keeps comments through its Document).
 *
 * The values are YAML 1.2 core's, as `yaml.parse` gives them (a test holds the two
 * together and lists the few differences it accepts): a date stays a text, yes/no
 * are texts, 0o17 and 0x1F are numbers, 1_000 is a text.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as JsYaml from 'js-yaml';

/** What is wrong with the text, and where (1-based, when the parser knows). */
export class YamlTextError extends Error {
  constructor(
    readonly reason: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(line === undefined ? reason : `${reason} (line ${line}, column ${column})`);
  }
}

const DECIMAL = /^[-+]?[0-9]+$/;
const OCTAL = /^0o[0-7]+$/;
const HEX = /^0x[0-9a-fA-F]+$/;
const INF_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const EXPONENT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FRACTION = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

const NULL = /^(?:~|null|Null|NULL)$/;
const BOOL = /^(?:true|True|TRUE|false|False|FALSE)$/;

/** YAML 1.2 core's scalars as `yaml` reads them; js-yaml's own numbers also take 1_000, 0b101 and +0x1F. */
function makeSchema(y: typeof JsYaml): JsYaml.Schema {
  const nul = new y.Type('tag:yaml.org,2002:null', {
    kind: 'scalar',
    resolve: (s: string | null) => s === null || NULL.test(s),
    construct: () => null,
    predicate: (x: unknown) => x === null,
  });
  const bool = new y.Type('tag:yaml.org,2002:bool', {
    kind: 'scalar',
    resolve: (s: string | null) => s !== null && BOOL.test(s),
    construct: (s: string) => s[0] === 't' || s[0] === 'T',
    predicate: (x: unknown) => typeof x === 'boolean',
  });
  const int = new y.Type('tag:yaml.org,2002:int', {
    kind: 'scalar',
    resolve: (s: string | null) => s !== null && (DECIMAL.test(s) || OCTAL.test(s) || HEX.test(s)),
    construct: (s: string) =>
      OCTAL.test(s) ? Number.parseInt(s.slice(2), 8) : HEX.test(s) ? Number.parseInt(s.slice(2), 16) : Number.parseInt(s, 10),
    predicate: Number.isInteger,
  });
  const float = new y.Type('tag:yaml.org,2002:float', {
    kind: 'scalar',
    resolve: (s: string | null) => s !== null && (INF_NAN.test(s) || EXPONENT.test(s) || FRACTION.test(s)),
    construct: (s: string) =>
      INF_NAN.test(s)
        ? s.slice(-3).toLowerCase() === 'nan'
          ? Number.NaN
          : s[0] === '-'
            ? Number.NEGATIVE_INFINITY
            : Number.POSITIVE_INFINITY
        : Number.parseFloat(s),
    predicate: (x: unknown) => typeof x === 'number',
  });
  return y.FAILSAFE_SCHEMA.extend({ implicit: [nul, bool, int, float] });
}

/**
 * The package's one-file build: its index.js requires ~20 files, ~10 ms more CPU on
 * the start of a night. The package as exported if a release ships no such file.
 */
function loadJsYaml(): typeof JsYaml {
  const require = createRequire(import.meta.url);
  try {
    return require(join(dirname(require.resolve('js-yaml/package.json')), 'dist', 'js-yaml.js')) as typeof JsYaml;
  } catch {
    return require('js-yaml') as typeof JsYaml;
  }
}

// Loaded at the first text parsed: a worker thread that renders task rows imports the pack's helpers and never parses one.
let parser: { y: typeof JsYaml; schema: JsYaml.Schema } | undefined;

/**
 * An alias repeats its anchor's node without copying it, so a few lines can stand for a
 * billion values ("billion laughs") that the checks after the parse would walk. Beyond
 * this many values, counted as if every alias were written out, the text is refused,
 * as `yaml` refuses more than 100 uses of an anchor.
 */
function expandedLimit(text: string): number {
  return Math.max(100_000, 4 * text.length);
}

/** The number of values in `value` with every alias written out, or Infinity past `limit` or on a cycle. */
function expandedSize(value: unknown, limit: number, sizes: Map<object, number>): number {
  if (typeof value !== 'object' || value === null) return 1;
  const known = sizes.get(value);
  if (known !== undefined) return known < 0 ? Number.POSITIVE_INFINITY : known;
  sizes.set(value, -1);
  let size = 1;
  for (const item of Array.isArray(value) ? value : Object.values(value)) {
    size += expandedSize(item, limit, sizes);
    if (size > limit) break;
  }
  sizes.set(value, size);
  return size;
}

/** The document's value (null for an empty one), or YamlTextError. */
export function parseYamlText(text: string): unknown {
  parser ??= (() => {
    const y = loadJsYaml();
    return { y, schema: makeSchema(y) };
  })();
  let value: unknown;
  try {
    value = parser.y.load(text, { schema: parser.schema });
  } catch (e) {
    if (e instanceof parser.y.YAMLException) {
      const mark = (e as { mark?: { line: number; column: number } }).mark;
      throw new YamlTextError(e.reason, mark === undefined ? undefined : mark.line + 1, mark === undefined ? undefined : mark.column + 1);
    }
    throw new YamlTextError((e as Error).message);
  }
  if (value === undefined) return null;
  const limit = expandedLimit(text);
  if (expandedSize(value, limit, new Map()) > limit)
    throw new YamlTextError(`its aliases repeat more than ${limit} values, or refer to a node that holds them`);
  return value;
}
