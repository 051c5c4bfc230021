/**
 * summary.json and manifest.json. The summary says what the run saw and did; the
 * manifest pins what it read and wrote (sizes and sha256) and the rule pack it ran.
 * Neither carries phone numbers, names or subscriber ids.
 */
import { basename } from 'node:path';
import type { RulePack } from '../config/rulepack.js';
import type { OutputRecord } from '../output/publish.js';
import { VERSION } from '../version.js';

export interface InputRecord { extract: string; file: string; bytes: number; sha256: string }

export function manifestJson(args: { asOf: string; pack: RulePack; packPath: string; inputs: InputRecord[]; outputs: OutputRecord[] }): string {
  return JSON.stringify({
    tool: 'churnwatch',
    version: VERSION,
    as_of: args.asOf,
    rule_pack: { name: args.pack.name, version: args.pack.version, file: basename(args.packPath), sha256: args.pack.hash },
    inputs: args.inputs,
    outputs: args.outputs,
  }, null, 2) + '\n';
}
