import { readFileSync } from 'node:fs';

/** The default rule pack's text with its policy: section replaced by `policy` (YAML, starting with "policy:"). */
export function packWithPolicy(policy: string): string {
  const text = readFileSync('rules/default.yaml', 'utf8');
  const out = text.replace(/^policy:\n(?:[ #].*\n)+/m, policy.endsWith('\n') ? policy : `${policy}\n`);
  if (out === text) throw new Error('rules/default.yaml has no policy: section to replace');
  return out;
}
