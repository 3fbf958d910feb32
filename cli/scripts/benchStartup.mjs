// `npm run bench:startup [-- --runs 20]`: how long `dqcodec --help` takes to start, side by side
// with `node -e 0` (Node's own start-up), in wall-clock milliseconds over alternating runs. The CLI
// runs from its built JavaScript (cli/dist, as installed from the package; `npm run bench:startup`
// builds first); for reference also from the TypeScript sources through tsx (the repository's
// development mode). Children get no NODE_OPTIONS, so npm's settings do not leak into them.
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const runs = Number(values.runs);
const bin = fileURLToPath(new URL('../bin/dqcodec.js', import.meta.url));
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS'));

const cases = [
  { name: 'node -e 0', args: ['-e', '0'], env },
  { name: 'dqcodec --help (built JS, as installed)', args: [bin, '--help'], env: { ...env, DQCODEC_BIN: 'dist' } },
  { name: 'dqcodec --help (TypeScript via tsx, repository dev mode)', args: [bin, '--help'], env },
];

const times = cases.map(() => []);
for (let i = 0; i < runs + 1; i++) {
  cases.forEach((c, j) => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, c.args, { env: c.env, encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${c.name} failed (exit ${r.status}): ${r.stderr}`);
    if (i > 0) times[j].push(ms); // the first round warms the file cache
  });
}

const q = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))];
};
const training = spawnSync('pgrep', ['-fc', 'train'], { encoding: 'utf8' }).stdout.trim();
console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}, processes matching 'train': ${training || 0}`);
console.log(`${runs} alternating runs each (after one warm-up round), wall clock per process:`);
console.log('| command | median | min | p90 |');
console.log('|---|---:|---:|---:|');
cases.forEach((c, j) => console.log(`| \`${c.name}\` | ${q(times[j], 0.5).toFixed(0)} ms | ${Math.min(...times[j]).toFixed(0)} ms | ${q(times[j], 0.9).toFixed(0)} ms |`));
const overhead = q(times[1], 0.5) - q(times[0], 0.5);
console.log(`dqcodec --help (built) minus node -e 0, medians: ${overhead.toFixed(0)} ms`);
