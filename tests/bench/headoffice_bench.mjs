// headoffice_bench.mjs - head office under load (issue 19): 3 outlet buses,
// each taking RATE orders/s for SECONDS (kb-bench, open loop, the bridge's
// acks timed), a 3-node NATS cluster, PostgreSQL and kb-headoffice, all on
// this machine. Prints one JSON line: orders acked per outlet, head office's
// stored events per second while the load ran and after it, how far behind
// head office was (published - stored, sampled every second), and the delay
// from an event's `at` (the outlet bridge's clock) to its stored_at
// (PostgreSQL's; the same machine's clock). Docs: docs/BENCHMARKS.md.
//
//   node tests/bench/headoffice_bench.mjs [--rate 200] [--seconds 60]
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { kbBench } from './kb_bench.mjs';
import { mqttClient, subscribe, waitFor } from '../lib/harness.mjs';
import { missing, startNats, startPostgres, consumer, outlet } from '../lib/headoffice.mjs';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '200' }, seconds: { type: 'string', default: '60' } } });
const RATE = Number(values.rate), SECONDS = Number(values.seconds);
const why = missing();
if (why) { console.error(`headoffice bench: ${why}`); process.exit(2); }

/** CPU seconds used so far by every process, summed by command name (/proc). */
function cpuByName() {
  const tick = 100; // USER_HZ on Linux
  const out = {};
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[name] = (out[name] || 0) + (Number(f[11]) + Number(f[12])) / tick; // utime, stime
    } catch { /* gone */ }
  }
  return out;
}

const OUTLETS = ['b1', 'b2', 'b3'];
const users = [{ user: 'kb-headoffice', password: 'ho' }, ...OUTLETS.map((o) => ({ user: `kb-outlet-${o}`, password: o }))];
const cluster = await startNats({ n: 3, users });
const pg = await startPostgres();
const ho = consumer({ brokers: cluster.addresses(), pg, user: 'kb-headoffice', password: 'ho' });
const buses = [];
const counters = [];
try {
  await waitFor(() => /connected to broker/.test(ho.log()), { timeout: 20000, what: 'kb-headoffice connected' });
  for (const o of OUTLETS) {
    const bus = await outlet(o, cluster, { password: o });
    buses.push(bus);
    await waitFor(async () => (await bus.health()).body.uplink?.state === 'connected', { timeout: 20000, what: `${o} uplink` });
    const w = await mqttClient(bus, 'admin');
    await subscribe(w, ['outlet/tenant/+/events']);
    w.published = 0;
    w.on('message', () => { w.published += 1; });
    counters.push(w);
  }
  const count = () => Number(pg.query('SELECT count(*) FROM kb_events')[0][0]);
  const samples = [];
  const cpu0 = cpuByName();
  const t0 = Date.now();
  const sampler = setInterval(() => {
    const published = counters.reduce((a, w) => a + w.published, 0);
    samples.push({ t: (Date.now() - t0) / 1000, published, stored: count() });
  }, 1000);
  const results = await Promise.all(buses.map((bus, i) => kbBench(bus, { path: 'bridge', rate: RATE, seconds: SECONDS, kitchens: 1, label: OUTLETS[i] })));
  const loadEnd = (Date.now() - t0) / 1000;
  const cpu1 = cpuByName();
  const cpu = Object.fromEntries(['kb-headoffice', 'postgres', 'nats-server', 'kb-bridge', 'mosquitto', 'kb-bench', 'node']
    .map((n) => [n, Number((((cpu1[n] || 0) - (cpu0[n] || 0)) / loadEnd * 100).toFixed(1))]));
  const total = counters.reduce((a, w) => a + w.published, 0);
  await waitFor(() => count() >= total, { timeout: 300000, interval: 500, what: 'head office to store everything' });
  clearInterval(sampler);
  const drained = (Date.now() - t0) / 1000;
  const lag = samples.map((s) => s.published - s.stored);
  const during = samples.filter((s) => s.t <= loadEnd);
  const rateOf = (a, b) => (b.stored - a.stored) / (b.t - a.t);
  const [p50, p99, max] = pg.query("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), percentile_cont(0.99) WITHIN GROUP (ORDER BY d), max(d) FROM (SELECT extract(epoch FROM stored_at - at) * 1000 AS d FROM kb_events) x")[0].map(Number);
  const dup = Number(pg.query('SELECT count(*) - count(DISTINCT (outlet, tenant, seq)) FROM kb_events')[0][0]);
  console.log(JSON.stringify({
    rate_per_outlet: RATE, seconds: SECONDS, outlets: OUTLETS.length,
    acked: results.map((r) => r.acked), ack_p99_ms: results.map((r) => r.submit_to_ack_ms?.p99), kitchen_p99_ms: results.map((r) => r.submit_to_kitchen_ms?.p99),
    events_published: total, events_stored: count(), duplicates: dup,
    stored_per_s_during_load: during.length > 2 ? Number(rateOf(during[1], during[during.length - 1]).toFixed(1)) : null,
    load_s: Number(loadEnd.toFixed(1)), all_stored_at_s: Number(drained.toFixed(1)),
    max_lag_events: Math.max(...lag), lag_at_load_end: lag[during.length - 1],
    cpu_percent_of_one_core: cpu, cores: (await import('node:os')).cpus().length,
    at_to_stored_ms: { p50: Math.round(p50), p99: Math.round(p99), max: Math.round(max) },
  }));
} finally {
  for (const w of counters) await w.endAsync().catch(() => {});
  for (const b of buses) await b.stop().catch(() => {});
  await ho.destroy();
  await pg.destroy();
  await cluster.stop();
}
