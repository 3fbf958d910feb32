// Preloaded (node --import) into a CLI child process by measured.ts: at exit, writes the
// process's peak resident set size in bytes (getrusage ru_maxrss) to $DQCODEC_PEAK_RSS_FILE.
import { writeFileSync } from 'node:fs';

const out = process.env.DQCODEC_PEAK_RSS_FILE;
if (out) process.on('exit', () => writeFileSync(out, String(process.resourceUsage().maxRSS * 1024)));
