import { chromium } from 'playwright-core';
import { prepareSamples, startDemoServer, buildDemo } from './demo/server.js';
await buildDemo();
const server = await startDemoServer({ samples: await prepareSamples(), lifetimeMs: 120000 });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--enable-unsafe-webgpu'] });
for (const provider of ['webgpu', 'auto']) {
  const page = await browser.newPage();
  page.on('console', (m) => console.log('console:', m.type(), m.text().slice(0, 200)));
  page.on('pageerror', (e) => console.log('pageerror:', e.message));
  await page.addInitScript(() => { (GPUAdapter.prototype as any).requestDevice = () => Promise.reject(new Error('simulated device failure')); });
  await page.goto(server.url + '?provider=wasm');
  await page.evaluate(() => window.dqcDemo.ready);
  const t0 = Date.now();
  const r = await page.evaluate(async (p) => {
    try { const d = await window.dqcDemo.createDecoder({ model: './model/', provider: p as 'auto', sessionTimeoutMs: 20000 }); return `ok ${d.provider} :: ${d.fallbackReason}`; }
    catch (e) { return `ERR ${(e as any).code}: ${(e as Error).message}`; }
  }, provider);
  console.log(provider, '->', r, Date.now() - t0, 'ms');
  await page.close();
}
await browser.close(); await server.close();
