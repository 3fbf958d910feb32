/**
 * `npm run demo -w packages/web` — build the demo with Vite, encode the sample photos with the
 * model, and serve everything on http://127.0.0.1:5173/ until Ctrl-C.
 *
 *   tsx packages/web/demo/serve.ts [--port 5173] [--host 127.0.0.1] [--model models/default] [--no-build]
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildDemo, defaultModelDir, demoDir, prepareSamples, startDemoServer } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '5173' },
    host: { type: 'string', default: '127.0.0.1' },
    model: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
  },
});

const modelDir = values.model ? resolve(values.model) : defaultModelDir;
if (!values['no-build'] || !existsSync(join(demoDir, 'dist/index.html'))) {
  process.stdout.write('building the demo (vite)… ');
  await buildDemo();
  console.log('done');
}
process.stdout.write('encoding the samples… ');
const samples = await prepareSamples(modelDir);
console.log(samples.map((s) => `${s.name}.dqc ${s.bytes} B`).join(', ') || 'none');
const server = await startDemoServer({ port: Number(values.port), host: values.host, modelDir, samples });
console.log(`dqcodec web demo on ${server.url}  (Ctrl-C to stop)`);
process.on('SIGINT', () => void server.close().then(() => process.exit(0)));
