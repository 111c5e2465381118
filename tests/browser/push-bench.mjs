// Live push under load, for scripts/bench.sh: N official clients (@microsoft/signalr over WebSockets) connected to
// a running standalone handler; commands sent one at a time, paced, each for its own item; for every command, the
// time from sending it to each client's stockChanged for that item. Prints one JSON line:
// {clients, commands, samples, p50_ms, p99_ms, max_ms, missed, rss_connected_mb, rss_max_mb}.
//
// usage: node push-bench.mjs <base-url> <handler-pid> [clients=500] [commands=100] [pace-ms=50]
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import * as signalR from '@microsoft/signalr';

const [base, pid, clientsArg = '500', commandsArg = '100', paceArg = '50'] = process.argv.slice(2);
if (!base || !pid) {
  console.error('usage: node push-bench.mjs <base-url> <handler-pid> [clients] [commands] [pace-ms]');
  process.exit(2);
}
const CLIENTS = Number(clientsArg), COMMANDS = Number(commandsArg), PACE = Number(paceArg);

const rssMb = () => {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line.split(/\s+/)[1]) / 1024;
};
const sentAt = new Map();          // sku -> performance.now() when its command was sent
const latencies = [];
let received = 0;

const connections = [];
for (let i = 0; i < CLIENTS; i += 50) {
  const batch = [];
  for (let j = i; j < Math.min(CLIENTS, i + 50); j++) {
    const connection = new signalR.HubConnectionBuilder()
      .withUrl(`${base}/api`, { transport: signalR.HttpTransportType.WebSockets, skipNegotiation: false })
      .configureLogging(signalR.LogLevel.None)
      .build();
    connection.on('stockChanged', (item) => {
      const t0 = sentAt.get(item.sku);
      if (t0 !== undefined) { latencies.push(performance.now() - t0); received += 1; }
    });
    connections.push(connection);
    batch.push(connection.start());
  }
  await Promise.all(batch);
}
const rssConnected = rssMb();
let rssMax = rssConnected;

for (let n = 0; n < COMMANDS; n++) {
  const sku = `push-bench-${n}`;
  const started = performance.now();
  sentAt.set(sku, started);
  const res = await fetch(`${base}/api/commands`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ commandId: randomUUID(), type: 'receive', location: 'bench-store', sku, quantity: 1 }),
  });
  if (res.status !== 200) throw new Error(`command answered ${res.status}`);
  await res.arrayBuffer();
  rssMax = Math.max(rssMax, rssMb());
  const wait = PACE - (performance.now() - started);
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
// Every message is either in or lost: wait (with a deadline) for the last ones, then count the missing.
const deadline = performance.now() + 10000;
while (received < CLIENTS * COMMANDS && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
rssMax = Math.max(rssMax, rssMb());
await Promise.all(connections.map((c) => c.stop()));

latencies.sort((a, b) => a - b);
const pct = (p) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : null;
console.log(JSON.stringify({
  clients: CLIENTS, commands: COMMANDS, samples: latencies.length,
  p50_ms: pct(0.5), p99_ms: pct(0.99), max_ms: latencies.at(-1) ?? null,
  missed: CLIENTS * COMMANDS - received, rss_connected_mb: rssConnected, rss_max_mb: rssMax,
}));
