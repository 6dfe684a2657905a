// run.mjs - the Kitchen Bus benchmark driver (docs/BENCHMARKS.md).
//
//   node tests/bench/run.mjs [--smoke] [--only latency,ws,throughput,footprint]
//
// Starts its own broker and bridge on free ports (tests/lib/harness.mjs),
// runs kb-bench (C, libmosquitto, MQTT/TCP) and an MQTT.js twin for MQTT over
// WebSockets, each through the bridge and straight through the broker (the
// "direct" baseline), and prints one JSON line per run plus a summary table.
// --smoke is the short version in the default ctest run: it checks that
// every order was delivered and acked, never how fast.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import mqtt from 'mqtt';
import { startBus, waitFor, ROOT } from '../lib/harness.mjs';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const only = (args[args.indexOf('--only') + 1] || '').split(',').filter((s) => args.includes('--only') && s);
const want = (name) => !only.length || only.includes(name);
const BENCH = process.env.KB_BENCH_BIN || path.join(ROOT, 'build/tests/bench/kb-bench');
const OUT = path.join(ROOT, 'build/bench-results.jsonl');
const results = [];

function record(r) {
  results.push(r);
  const line = JSON.stringify(r);
  console.log(line);
  if (!smoke) { mkdirSync(path.dirname(OUT), { recursive: true }); appendFileSync(OUT, `${line}\n`); }
}

function kbBench(bus, opts) {
  const argv = ['--port', String(bus.mqttPort), '--path', opts.path, '--rate', String(opts.rate),
    '--seconds', String(opts.seconds), '--kitchens', String(opts.kitchens), '--label', opts.label,
    '--direct-pass-file', path.join(bus.dir, 'broker/bridge.pw')];
  return JSON.parse(execFileSync(BENCH, argv, { encoding: 'utf8', timeout: 120000 }).trim().split('\n').pop());
}

function rssKb(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) : null;
}

function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100/s)
}

function stats(values) {
  const v = [...values].sort((a, b) => a - b);
  if (!v.length) return null;
  const at = (p) => Number(v[Math.floor((v.length - 1) * p)].toFixed(3));
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: Number(v[v.length - 1].toFixed(3)), n: v.length };
}

function connect(bus, username, password, clientId) {
  const c = mqtt.connect(bus.wsUrl(), { username, password, clientId, protocolVersion: 4, reconnectPeriod: 0 });
  return new Promise((resolve, reject) => { c.once('connect', () => resolve(c)); c.once('error', reject); });
}

/** MQTT.js over WebSockets on both legs, the way browsers use the bus. */
async function wsLatency(bus, { path: via, rate, seconds, kitchens, label }) {
  const run = `W${Date.now().toString(36)}`;
  const n = Math.floor(rate * seconds);
  const sent = new Array(n).fill(0);
  const acked = new Array(n).fill(0);
  const seen = Array.from({ length: kitchens }, () => new Array(n).fill(0));
  const index = (num) => (num?.startsWith(`${run}-`) ? Number(num.slice(run.length + 1)) : -1);
  const ks = [];
  for (let k = 0; k < kitchens; k++) {
    const c = await connect(bus, 'pizza-kitchen', 'pizza-kitchen', `${run}-k${k}`);
    c.on('message', (topic, payload) => {
      const i = index(topic.split('/').pop());
      if (i >= 0 && payload.length && !seen[k][i]) seen[k][i] = performance.now();
    });
    await c.subscribeAsync('outlet/tenant/pizza/orders/+', { qos: 1 });
    ks.push(c);
  }
  const direct = via === 'direct';
  const pub = direct
    ? await connect(bus, 'kb-bridge', readFileSync(path.join(bus.dir, 'broker/bridge.pw'), 'utf8').trim(), `${run}-pub`)
    : await connect(bus, 'pizza-pos', 'pizza-pos', `${run}-pos`);
  if (!direct) {
    pub.on('message', (topic, payload) => {
      const i = index(JSON.parse(payload).order_number);
      if (i >= 0 && !acked[i]) acked[i] = performance.now();
    });
    await pub.subscribeAsync('outlet/tenant/pizza/pos/pizza-pos/ack', { qos: 1 });
  }
  const start = performance.now() + 10;
  for (let i = 0; i < n; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const number = `${run}-${i}`;
    const order = JSON.stringify({ order_number: number, tenant_id: 'pizza', customer_name: 'Budi', table: '12',
      items: [{ name: 'Margherita', qty: 2, modifiers: ['extra cheese'], station: 'oven' }, { name: 'Iced tea', qty: 1 }] });
    sent[i] = performance.now();
    if (direct) {
      pub.publish(`outlet/tenant/pizza/orders/${number}`, order, { qos: 1, retain: true }, () => { acked[i] = performance.now(); });
    } else {
      pub.publish('outlet/tenant/pizza/pos/pizza-pos/submit', order, { qos: 1 });
    }
  }
  await waitFor(() => acked.every(Boolean) && seen.every((s) => s.every(Boolean)), { timeout: 15000, what: 'all deliveries' })
    .catch(() => {});
  await Promise.all([...ks, pub].map((c) => c.endAsync()));
  const warm = Math.floor(n / 50);
  const deliv = [];
  for (const s of seen) for (let i = warm; i < n; i++) if (s[i]) deliv.push(s[i] - sent[i]);
  const acks = acked.slice(warm).map((t, j) => t && t - sent[j + warm]).filter(Boolean);
  const delivered = seen.reduce((a, s) => a + s.filter(Boolean).length, 0);
  return {
    scenario: label, path: via, transport: 'ws', rate, orders: n, kitchens, delivered,
    acked: acked.filter(Boolean).length, lost_deliveries: n * kitchens - delivered, lost_acks: n - acked.filter(Boolean).length,
    submit_to_kitchen_ms: stats(deliv), [direct ? 'submit_to_puback_ms' : 'submit_to_ack_ms']: stats(acks),
  };
}

async function main() {
  const bus = await startBus();
  const pid = bus.bridge.pid;
  const machine = { cpus: (await import('node:os')).cpus().length, model: (await import('node:os')).cpus()[0].model };
  try {
    if (want('footprint')) record({ scenario: 'footprint', stage: 'idle', bridge_rss_kb: rssKb(pid), machine });
    const base = smoke ? { rate: 50, seconds: 1, kitchens: 2 } : { rate: 200, seconds: 10, kitchens: 4 };
    if (want('latency')) {
      for (const p of ['direct', 'bridge']) record(kbBench(bus, { ...base, path: p, label: 'latency' }));
    }
    if (want('ws')) {
      const ws = smoke ? { rate: 20, seconds: 1, kitchens: 2 } : base;
      for (const p of ['direct', 'bridge']) record(await wsLatency(bus, { ...ws, path: p, label: 'latency' }));
    }
    if (want('throughput') && !smoke) {
      for (const rate of [1000, 2000, 5000, 10000, 15000]) {
        const before = cpuTicks(pid);
        const r = kbBench(bus, { path: 'bridge', rate, seconds: 5, kitchens: 1, label: 'throughput' });
        r.bridge_cpu_ms_per_1000_orders = Number((((cpuTicks(pid) - before) * 10) / (r.orders / 1000)).toFixed(1));
        record(r);
      }
      record({ scenario: 'footprint', stage: 'after throughput', bridge_rss_kb: rssKb(pid),
        orders_open: (await bus.health()).body.orders_open,
        journal_bytes: statSync(bus.journalPath()).size + (statSync(`${bus.journalPath()}-wal`, { throwIfNoEntry: false })?.size || 0) });
    }
  } finally {
    await bus.stop();
  }
  const lost = results.filter((r) => r.lost_deliveries || r.lost_acks);
  console.log('\nscenario     path    transport  rate  kitchen p50/p99/max ms        ack p50/p99/max ms   lost');
  for (const r of results.filter((x) => x.submit_to_kitchen_ms)) {
    const k = r.submit_to_kitchen_ms;
    const a = r.submit_to_ack_ms || r.submit_to_puback_ms || {};
    console.log(`${r.scenario.padEnd(12)} ${r.path.padEnd(7)} ${r.transport.padEnd(9)} ${String(r.rate).padStart(5)}  `
      + `${`${k.p50}/${k.p99}/${k.max}`.padEnd(28)} ${`${a.p50}/${a.p99}/${a.max}`.padEnd(20)} ${r.lost_deliveries + r.lost_acks}`);
  }
  if (lost.length) {
    console.error(`lost orders in ${lost.length} run(s)`);
    process.exit(1);
  }
}

await main();
