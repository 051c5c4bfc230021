// Loaded with `node --import` into each timed process (both sides of the benchmark):
// at exit it writes the process's own resource usage (peak RSS, CPU time of all its
// threads) as JSON to the file named by CW_BENCH_USAGE_FILE.
import { writeFileSync } from 'node:fs';

const file = process.env.CW_BENCH_USAGE_FILE;
if (file) {
  process.on('exit', (code) => {
    const u = process.resourceUsage();
    try {
      writeFileSync(file, JSON.stringify({ exit_code: code, max_rss_kib: u.maxRSS, user_us: u.userCPUTime, system_us: u.systemCPUTime }));
    } catch {
      // The harness reports the figures as missing; the measured process keeps its own exit code.
    }
  });
}
