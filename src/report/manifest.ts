/**
 * summary.json and manifest.json. The summary says what the run saw and did; the
 * manifest pins what it read and wrote (sizes and sha256), the rule pack it ran and
 * the configuration that said how to read the extracts.
 * Neither carries phone numbers, names or subscriber ids.
 *
 * Reruns: the manifest holds no time and no path of this machine, so two runs with
 * the same inputs, rule pack, configuration and --as-of write the same manifest,
 * except for the size and sha256 of summary.json, whose timings_ms (and per-file ms)
 * are the only values that differ between such runs. Every other output is
 * byte-identical.
 *
 * Input hashes are taken in the one pass that reads each file; the run checks that
 * no input changed from before that pass until the outputs were ready (else it exits
 * 75 and publishes nothing), so they are the hashes of the files as they were before
 * the run read them.
 */
import { basename } from 'node:path';
import type { RulePack } from '../config/rulepack.js';
import type { ConfigSource } from '../config/run-config.js';
import type { OutputRecord } from '../output/publish.js';
import type { TaskProfile } from '../tasks/tasks.js';
import { VERSION } from '../version.js';

export interface InputRecord {
  extract: string;
  file: string;
  bytes: number;
  sha256: string;
}

/**
 * `configuration` is the --config file (its name and sha256: it decides how the
 * extracts were read, so it belongs with their hashes), or null when the run used
 * the defaults.
 */
export function manifestJson(args: {
  asOf: string;
  pack: RulePack;
  packPath: string;
  config?: ConfigSource | null;
  inputs: InputRecord[];
  outputs: OutputRecord[];
  profile?: TaskProfile;
}): string {
  const profile = args.profile ?? { mask: false, dialerFullNumber: true };
  return (
    JSON.stringify(
      {
        tool: 'churnwatch',
        version: VERSION,
        as_of: args.asOf,
        rule_pack: { name: args.pack.name, version: args.pack.version, file: basename(args.packPath), sha256: args.pack.hash },
        configuration: args.config ? { file: args.config.file, sha256: args.config.sha256 } : null,
        tasks_personal_data: { mask: profile.mask, dialer_full_number: profile.dialerFullNumber },
        inputs: args.inputs,
        outputs: args.outputs,
      },
      null,
      2,
    ) + '\n'
  );
}
