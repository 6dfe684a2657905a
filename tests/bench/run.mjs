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

/** Bridge memory and journal size as open orders pile up, on a fresh bus. */
async function footprint() {
  const bus = await startBus();
  const pid = bus.bridge.pid;
  const journalBytes = () => statSync(bus.journalPath()).size
    + (statSync(`${bus.journalPath()}-wal`, { throwIfNoEntry: false })?.size || 0);
  try {
    record({ scenario: 'footprint', stage: 'idle', bridge_rss_kb: rssKb(pid), journal_bytes: journalBytes() });
    const before = cpuTicks(pid);
    const a = kbBench(bus, { path: 'bridge', rate: 1000, seconds: 10, kitchens: 1, label: 'footprint-load' });
    record({ scenario: 'footprint', stage: '10k open orders', orders_open: (await bus.health()).body.orders_open,
      lost: a.lost_deliveries + a.lost_acks, bridge_rss_kb: rssKb(pid), journal_bytes: journalBytes(),
      bridge_cpu_ms_per_1000_orders: Number((((cpuTicks(pid) - before) * 10) / 10).toFixed(1)) });
    for (let i = 0; i < 3; i++) kbBench(bus, { path: 'bridge', rate: 1500, seconds: 20, kitchens: 1, label: 'footprint-load' });
    record({ scenario: 'footprint', stage: '100k orders', orders_open: (await bus.health()).body.orders_open,
      bridge_rss_kb: rssKb(pid), journal_bytes: journalBytes() });
  } finally {
    await bus.stop();
  }
}

/** Fan-out: 100 tenants x 10 WebSocket kitchens, one POS per tenant. */
async function fanout({ tenants = 100, perTenant = 10, rate = 100, seconds = 10 } = {}) {
  const id = (t) => `t${String(t).padStart(3, '0')}`;
  const registry = {
    outlet: { id: 'fanout', name: 'Fan-out bench' }, demo: true, admins: [],
    tenants: Array.from({ length: tenants }, (_, t) => ({
      id: id(t), name: `Tenant ${t}`,
      devices: [{ username: `${id(t)}-pos`, role: 'pos' },
        ...Array.from({ length: perTenant }, (_, k) => ({ username: `${id(t)}-k${k}`, role: 'kitchen' }))],
    })),
  };
  const t0 = performance.now();
  const bus = await startBus({ registry });
  try {
    // The broker applies the access commands asynchronously; wait until the
    // last device of the registry can log in and read its topic.
    const last = `${id(tenants - 1)}-k${perTenant - 1}`;
    await waitFor(async () => {
      try {
        const c = await connect(bus, last, last, `probe-${Date.now()}`);
        const ok = (await c.subscribeAsync(`outlet/tenant/${id(tenants - 1)}/orders/+`, { qos: 1 }))[0].qos === 1;
        await c.endAsync();
        return ok;
      } catch { return false; }
    }, { timeout: 300000, interval: 500, what: 'the registry to reach the broker' });
    const syncMs = performance.now() - t0;
    const seen = new Map();
    const tc = performance.now();
    const kitchens = [];
    for (let t = 0; t < tenants; t++) {
      const batch = [];
      for (let k = 0; k < perTenant; k++) {
        const u = `${id(t)}-k${k}`;
        batch.push(connect(bus, u, u, `fan-${u}`).then(async (c) => {
          c.on('message', (topic, payload) => {
            if (!payload.length) return;
            const key = `${u}|${topic}`;
            if (!seen.has(key)) seen.set(key, performance.now());
          });
          await c.subscribeAsync(`outlet/tenant/${id(t)}/orders/+`, { qos: 1 });
          return c;
        }));
      }
      kitchens.push(...(await Promise.all(batch)));
    }
    const connectMs = performance.now() - tc;
    const poses = [];
    for (let t = 0; t < tenants; t++) {
      const u = `${id(t)}-pos`;
      const c = mqtt.connect(`mqtt://127.0.0.1:${bus.mqttPort}`, { username: u, password: u, clientId: `fan-${u}`, reconnectPeriod: 0 });
      await new Promise((r, j) => { c.once('connect', r); c.once('error', j); });
      c.stream.setNoDelay(true);
      poses.push(c);
    }
    const n = rate * seconds;
    const sent = [];
    const start = performance.now() + 10;
    for (let i = 0; i < n; i++) {
      const wait = start + (i * 1000) / rate - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const t = i % tenants;
      const number = `F-${i}`;
      sent[i] = performance.now();
      poses[t].publish(`outlet/tenant/${id(t)}/pos/${id(t)}-pos/submit`,
        JSON.stringify({ order_number: number, tenant_id: id(t), items: [{ name: 'Soto', qty: 1 }] }), { qos: 1 });
    }
    const expected = n * perTenant;
    await waitFor(() => seen.size >= expected, { timeout: 30000, what: 'fan-out deliveries' }).catch(() => {});
    const lat = [];
    for (const [key, at] of seen) {
      const i = Number(key.split('/').pop().slice(2));
      lat.push(at - sent[i]);
    }
    const r = {
      scenario: 'fanout', transport: 'ws', tenants, kitchens: kitchens.length, rate, orders: n,
      delivered: seen.size, lost_deliveries: expected - seen.size, lost_acks: 0,
      registry_sync_s: Number((syncMs / 1000).toFixed(1)), connect_all_s: Number((connectMs / 1000).toFixed(2)),
      submit_to_kitchen_ms: stats(lat), broker_rss_kb: rssKb(bus.broker.pid), bridge_rss_kb: rssKb(bus.bridge.pid),
    };
    await Promise.all([...kitchens, ...poses].map((c) => c.endAsync()));
    return r;
  } finally {
    await bus.stop();
  }
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
      for (const rate of [1000, 2000, 3000, 4000, 6000]) {
        const before = cpuTicks(pid);
        const r = kbBench(bus, { path: 'bridge', rate, seconds: 5, kitchens: 1, label: 'throughput' });
        r.bridge_cpu_ms_per_1000_orders = Number((((cpuTicks(pid) - before) * 10) / (r.orders / 1000)).toFixed(1));
        record(r);
      }
    }
  } finally {
    await bus.stop();
  }
  if (want('footprint') && !smoke) await footprint();
  if (want('fanout') && !smoke) record(await fanout());
  const lost = results.filter((r) => r.lost_deliveries || r.lost_acks);
  console.log('\nscenario     path    transport  rate  kitchen p50/p99/max ms        ack p50/p99/max ms   lost');
  for (const r of results.filter((x) => x.submit_to_kitchen_ms)) {
    const k = r.submit_to_kitchen_ms;
    const a = r.submit_to_ack_ms || r.submit_to_puback_ms || {};
    console.log(`${r.scenario.padEnd(12)} ${(r.path || '-').padEnd(7)} ${r.transport.padEnd(9)} ${String(r.rate).padStart(5)}  `
      + `${`${k.p50}/${k.p99}/${k.max}`.padEnd(28)} ${`${a.p50}/${a.p99}/${a.max}`.padEnd(20)} ${r.lost_deliveries + r.lost_acks}`);
  }
  if (lost.length) {
    console.error(`lost orders in ${lost.length} run(s)`);
    process.exit(1);
  }
}

await main();
