/**
 * summary.json and manifest.json. The summary says what the run saw and did; the
 * manifest pins what it read and wrote (sizes and sha256) and the rule pack it ran.
 * Neither carries phone numbers, names or subscriber ids.
 */
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { RulePack } from '../config/rulepack.js';
import type { OutputRecord } from '../output/publish.js';
import { VERSION } from '../version.js';

export interface InputRecord { extract: string; file: string; bytes: number; sha256: string }

export async function hashFile(path: string): Promise<{ bytes: number; sha256: string }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    h.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, sha256: h.digest('hex') };
}

export async function describeInputs(inputs: { extract: string; path: string }[]): Promise<InputRecord[]> {
  const out: InputRecord[] = [];
  for (const i of inputs) {
    const { sha256 } = await hashFile(i.path);
    out.push({ extract: i.extract, file: basename(i.path), bytes: statSync(i.path).size, sha256 });
  }
  return out;
}

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
