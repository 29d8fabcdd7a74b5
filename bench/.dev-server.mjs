import { mkdirSync } from 'node:fs';
import { startOpenBao } from './lib/openbao.mjs';
import { KV_WORKLOADS, seedKv, writeKvWorkload } from './lib/workloads.mjs';
const bao = await startOpenBao();
await seedKv(bao, KV_WORKLOADS.P2);
for (const [n, once] of [
  ['P1', true],
  ['P2', true],
  ['P2run', false],
]) {
  mkdirSync(`/dev/shm/fpdev/${n}`, { recursive: true });
  writeKvWorkload(`/dev/shm/fpdev/${n}`, bao, KV_WORKLOADS[n.slice(0, 2)], { once });
}
console.log('ready', bao.address);
process.on('SIGTERM', () => {
  bao.stop();
  process.exit(0);
});
setInterval(() => {}, 1e6);
