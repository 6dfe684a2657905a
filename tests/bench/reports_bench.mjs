// reports_bench.mjs - issue 16's benchmark: a month's speed-of-service
// report on a month of orders, and what it does to order latency
// (docs/BENCHMARKS.md, "Reports (issue 16)").
//
//   node tests/bench/reports_bench.mjs [--runs 3] [--reps 5] [--rebuild] [--journal DIR]
//        [--days 30] [--per-day 5000] [--step 60] [--rate 200] [--seconds 20] [--report-clients 1]
//        [--no-pizza] [--tenant-timeout 60] [--seed 16]
//   node tests/bench/run.mjs --only reports          (the same, with the defaults)
//   node tests/bench/reports_bench.mjs --smoke       (ctest bench.reports_smoke: one day of 300 orders, ~15 s)
//
// 1. The journal (once; reused while DIR/meta.json matches the options): a
//    bus with KB_TEST_CLOCK=1 and the demo registry, one POS and one kitchen
//    client per tenant (MQTT.js over TCP). --days days from 2026-11-01 of
//    --per-day orders a day across the three tenants, open 10:00-22:00 UTC
//    with a lunch (12:30) and a dinner (19:00) peak, each order new ->
//    accepted -> preparing -> ready -> served, 3 % cancelled, 2 % recalled
//    once (ready -> preparing -> ready). Every time is rounded up to a
//    --step (60 s): the script sets the test clock to a step, sends all of
//    that step's messages at once, waits for every ack, then moves the clock
//    on; an order's changes always fall on different steps. The bridge's own
//    GET /api/reports is then checked against the script's counts, and the
//    journal is copied to DIR (build/bench-reports/ by default).
// 2. --runs measurement runs, each on a fresh bus with a copy of that
//    journal and the clock at 2026-12-01T00:00Z (the month's end: the
//    latency orders fall outside the report), KB_RETENTION=3650d so that the
//    bridge's first retention pass, on the machine's real clock before the
//    test clock is set, cannot prune the month:
//    - report wall times (client side, request to last byte), --reps each,
//      the cases interleaved: the month by hour, by day and by station for
//      every tenant, by hour for burger (one tenant without stations), and
//      the by-hour CSV; with the bridge's CPU per report (/proc, 10 ms ticks);
//    - order latency, kb-bench (C, tests/bench/kb_bench.c): --rate orders/s
//      for --seconds from pizza's POS to 1 kitchen, submit -> durable ack,
//      three phases: quiet, while --report-clients clients request the
//      month's by-hour report for every tenant back to back, quiet again;
//    - a probe of the bridge's loop: GET /health one after another (5 ms
//      apart) in every phase; its slowest answer bounds the longest stall;
//    - last (--no-pizza skips it): the month by hour for pizza, the tenant
//      with stations, with the same latency run and probe beside it. On the
//      month's journal it holds the bridge's loop for many minutes
//      (docs/BENCHMARKS.md), so the client gives up after --tenant-timeout s
//      and the bridge is then killed.
// One JSON line per figure goes to stdout and build/bench-results.jsonl.
import { execFile } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { startBus, seededRandom, waitFor, DEMO_REGISTRY, ROOT } from '../lib/harness.mjs';

const DAY_MS = 86400000;
const FIRST_DAY = Date.parse('2026-11-01T00:00:00Z');
const TENANTS = [{ id: 'pizza', share: 0.4, cook_s: 540 }, { id: 'burger', share: 0.35, cook_s: 360 },
  { id: 'noodle', share: 0.25, cook_s: 420 }];
const BENCH = process.env.KB_BENCH_BIN || path.join(ROOT, 'build/tests/bench/kb-bench');
const OUT = path.join(ROOT, 'build/bench-results.jsonl');
const ENV = { KB_TEST_CLOCK: '1', KB_RETENTION: '3650d' };

export function options(argv = []) {
  const arg = (name, fallback) => {
    const i = argv.indexOf(`--${name}`);
    return i < 0 ? fallback : argv[i + 1];
  };
  if (argv.includes('--smoke')) {
    // ctest's bench.reports_smoke: one small day, one short run, in a journal of its own.
    return { smoke: true, runs: 1, reps: 1, rebuild: true, journal: mkdtempSync(path.join(tmpdir(), 'kb-reports-smoke-')),
      days: 1, perDay: 300, step: 60, rate: 50, seconds: 2, reportClients: 1, seed: 16, stationsTenant: true, tenantTimeout: 60 };
  }
  return {
    runs: Number(arg('runs', 3)), reps: Number(arg('reps', 5)), rebuild: argv.includes('--rebuild'),
    journal: path.resolve(arg('journal', path.join(ROOT, 'build/bench-reports'))),
    days: Number(arg('days', 30)), perDay: Number(arg('per-day', 5000)), step: Number(arg('step', 60)),
    rate: Number(arg('rate', 200)), seconds: Number(arg('seconds', 20)), reportClients: Number(arg('report-clients', 1)),
    seed: Number(arg('seed', 16)), stationsTenant: !argv.includes('--no-pizza'), tenantTimeout: Number(arg('tenant-timeout', 60)),
  };
}

// ---- the script of a month -------------------------------------------------

const iso = (ms) => new Date(ms).toISOString();

/** A normal deviate (Box-Muller) from the seeded generator. */
function normal(rng) {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

/** Seconds after midnight (UTC) an order is created: 20 % spread over opening hours, lunch and dinner peaks. */
function createdSecond(rng) {
  const open = 10 * 3600, close = 22 * 3600;
  for (;;) {
    const r = rng();
    const s = r < 0.2 ? open + rng() * (close - open)
      : r < 0.55 ? 12.5 * 3600 + normal(rng) * 40 * 60
        : 19 * 3600 + normal(rng) * 50 * 60;
    if (s >= open && s < close) return Math.floor(s);
  }
}

/** How busy the kitchen is at second s of the day (0 .. ~1): tickets grow at the peaks. */
function peakiness(s) {
  const bump = (at, width) => Math.exp(-(((s - at) / width) ** 2) / 2);
  return Math.max(bump(12.5 * 3600, 40 * 60), bump(19 * 3600, 50 * 60));
}

const ITEMS = {
  pizza: [['Margherita', 'oven'], ['Diavola', 'oven'], ['Caesar salad', 'cold'], ['Tiramisu', 'cold'], ['Iced tea', 'bar'], ['Lemonade', 'bar']],
  burger: [['Cheeseburger'], ['Double smash'], ['Fries'], ['Milkshake']],
  noodle: [['Mie goreng'], ['Ramen'], ['Pho'], ['Es teh']],
};

function items(tenant, rng) {
  const menu = ITEMS[tenant];
  const n = 1 + Math.floor(rng() * 3);
  const out = [];
  for (let i = 0; i < n; i++) {
    const [name, station] = menu[Math.floor(rng() * menu.length)];
    if (out.some((x) => x.name === name)) continue;
    out.push({ name, qty: 1 + Math.floor(rng() * 2), ...(station ? { station } : {}) });
  }
  return out;
}

/**
 * Day d's messages: [{ step, tenant, kind: 'submit'|'status', number, status?, body? }], sorted by step,
 * and the counts the report must show. Steps are --step seconds since FIRST_DAY.
 */
export function planDay(d, { perDay, step }, rng) {
  const msgs = [];
  const counts = Object.fromEntries(TENANTS.map((t) => [t.id, { orders: 0, cancelled: 0, recalls: 0 }]));
  const dayStart = FIRST_DAY + d * DAY_MS;
  const mmdd = iso(dayStart).slice(5, 10).replace('-', '');
  for (let i = 0; i < perDay; i++) {
    let r = rng(), t = 0;
    while (t < TENANTS.length - 1 && r >= TENANTS[t].share) { r -= TENANTS[t].share; t++; }
    const tenant = TENANTS[t];
    const number = `${mmdd}-${String(i + 1).padStart(4, '0')}`;
    const created = createdSecond(rng);
    const c = counts[tenant.id];
    c.orders++;
    // The lifecycle in seconds after midnight; then each on a step of its own, in order.
    const times = [['submit', created]];
    let at = created + 15 + Math.min(600, -Math.log(1 - rng()) * 60);
    const cancel = rng() < 0.03;
    if (cancel && rng() < 0.5) {
      times.push(['cancelled', created + 60 + rng() * 240]);
      c.cancelled++;
    } else {
      times.push(['accepted', at]);
      if (cancel) {
        times.push(['cancelled', at + 60 + rng() * 120]);
        c.cancelled++;
      } else {
        at += rng() * 120;
        times.push(['preparing', at]);
        at += Math.max(120, tenant.cook_s * (1 + 0.6 * peakiness(at)) + normal(rng) * 120);
        times.push(['ready', at]);
        if (rng() < 0.02) {
          times.push(['preparing', at + 60 + rng() * 120]);
          at += 180 + 120 + rng() * 240;
          times.push(['ready', at]);
          c.recalls++;
        }
        times.push(['served', at + 30 + rng() * 270]);
      }
    }
    let last = -1;
    const body = { order_number: number, tenant_id: tenant.id, customer_name: 'Budi', table: String(1 + (i % 30)),
      order_type: 'dine_in', items: items(tenant.id, rng) };
    for (const [what, s] of times) {
      const k = Math.max(last + 1, Math.ceil((d * 86400 + s) / step));
      last = k;
      msgs.push(what === 'submit'
        ? { step: k, tenant: tenant.id, kind: 'submit', number, body: { ...body, created_at: iso(FIRST_DAY + k * step * 1000) } }
        : { step: k, tenant: tenant.id, kind: 'status', number, status: what });
    }
  }
  msgs.sort((a, b) => a.step - b.step);
  return { msgs, counts };
}

// ---- clients ---------------------------------------------------------------

async function adminSession(bus) {
  const res = await fetch(bus.url('/api/login'), { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: 'admin' }) });
  if (res.status !== 200) throw new Error(`admin login: ${res.status} ${await res.text()}`);
  const { csrf } = await res.json();
  const headers = { cookie: res.headers.get('set-cookie').split(';')[0], 'x-csrf-token': csrf };
  return {
    headers,
    async setClock(ms) {
      const r = await fetch(bus.url('/api/test/clock'), { method: 'POST', headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ now: iso(ms) }) });
      if (r.status !== 200) throw new Error(`POST /api/test/clock: ${r.status} ${await r.text()}`);
      await r.arrayBuffer();
    },
  };
}

/** A plain MQTT.js device that keeps nothing but the acks it waits for. */
function device(bus, username, ackTopic, onAck) {
  const c = mqtt.connect(`mqtt://127.0.0.1:${bus.mqttPort}`, { username, password: username, protocolVersion: 4,
    reconnectPeriod: 0, clientId: `rb-${username}-${Date.now().toString(36)}` });
  c.on('message', (topic, payload) => onAck(JSON.parse(payload.toString())));
  return new Promise((resolve, reject) => {
    c.once('connect', async () => {
      c.stream.setNoDelay(true);
      try { await c.subscribeAsync(ackTopic, { qos: 1 }); resolve(c); } catch (e) { reject(e); }
    });
    c.once('error', reject);
  });
}

// ---- building the journal --------------------------------------------------

async function buildJournal(o, log) {
  const t0 = performance.now();
  const bus = await startBus({ registry: DEMO_REGISTRY, env: ENV });
  let stopped = false;
  try {
    const admin = await adminSession(bus);
    const pending = new Map(); // `${tenant}|${role}|${number}` -> 1
    let waiting = null;
    let refused = [];
    const onAck = (tenant, role) => (ack) => {
      const key = `${tenant}|${role}|${ack.order_number}`;
      if (!pending.delete(key)) return;
      if (ack.result !== 'accepted') refused.push({ key, ack });
      if (!pending.size && waiting) waiting();
    };
    const pos = {}, kitchen = {};
    for (const t of TENANTS) {
      pos[t.id] = await device(bus, `${t.id}-pos`, `outlet/tenant/${t.id}/pos/${t.id}-pos/ack`, onAck(t.id, 'pos'));
      kitchen[t.id] = await device(bus, `${t.id}-kitchen`, `outlet/tenant/${t.id}/kitchen/${t.id}-kitchen/ack`, onAck(t.id, 'kitchen'));
    }
    const rng = seededRandom(o.seed);
    const expected = Object.fromEntries(TENANTS.map((t) => [t.id, { orders: 0, cancelled: 0, recalls: 0 }]));
    let messages = 0, steps = 0;
    for (let d = 0; d < o.days; d++) {
      const td = performance.now();
      const { msgs, counts } = planDay(d, o, rng);
      for (const t of TENANTS) for (const k of Object.keys(counts[t.id])) expected[t.id][k] += counts[t.id][k];
      for (let i = 0; i < msgs.length;) {
        const k = msgs[i].step;
        await admin.setClock(FIRST_DAY + k * o.step * 1000);
        const done = new Promise((r) => { waiting = r; });
        for (; i < msgs.length && msgs[i].step === k; i++) {
          const m = msgs[i];
          if (m.kind === 'submit') {
            pending.set(`${m.tenant}|pos|${m.number}`, 1);
            pos[m.tenant].publish(`outlet/tenant/${m.tenant}/pos/${m.tenant}-pos/submit`, JSON.stringify(m.body), { qos: 1 });
          } else {
            pending.set(`${m.tenant}|kitchen|${m.number}`, 1);
            kitchen[m.tenant].publish(`outlet/tenant/${m.tenant}/kitchen/${m.tenant}-kitchen/status`,
              JSON.stringify({ order_number: m.number, status: m.status }), { qos: 1 });
          }
          messages++;
        }
        steps++;
        let timer;
        await Promise.race([done, new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no ack within 30 s for ${[...pending.keys()].slice(0, 5)}`)), 30000);
        })]);
        clearTimeout(timer);
        waiting = null;
        if (refused.length) throw new Error(`refused: ${JSON.stringify(refused.slice(0, 3))}`);
      }
      log(`day ${d + 1}/${o.days}: ${msgs.length} messages in ${((performance.now() - td) / 1000).toFixed(1)} s`);
    }
    await Promise.all([...Object.values(pos), ...Object.values(kitchen)].map((c) => c.endAsync()));
    const buildS = (performance.now() - t0) / 1000;
    // The bridge's own figures against the script's.
    const to = FIRST_DAY + o.days * DAY_MS;
    const report = await (await fetch(bus.url(`/api/reports?tenant=*&from=${iso(FIRST_DAY)}&to=${iso(to)}&by=day`),
      { headers: admin.headers })).json();
    for (const t of TENANTS) {
      const got = report.totals.find((x) => x.tenant === t.id);
      for (const k of ['orders', 'cancelled', 'recalls']) {
        if (got[k] !== expected[t.id][k]) throw new Error(`report ${t.id} ${k}: ${got[k]}, the script made ${expected[t.id][k]}`);
      }
    }
    const metrics = await bus.metrics();
    const rows = (table) => Number(metrics.match(new RegExp(`^kb_journal_rows\\{table="${table}"\\} (\\d+)$`, 'm'))?.[1]);
    await bus.stopBridge();
    stopped = true;
    const exit = await bus.bridge.exited;
    if (exit?.code !== 0) throw new Error(`kb-bridge exited with ${JSON.stringify(exit)}`);
    mkdirSync(o.journal, { recursive: true });
    for (const f of ['journal.db', 'journal.db-wal', 'meta.json']) rmSync(path.join(o.journal, f), { force: true });
    for (const f of ['journal.db', 'journal.db-wal']) {
      const src = path.join(bus.dir, 'bridge', f);
      if (existsSync(src)) copyFileSync(src, path.join(o.journal, f));
    }
    const meta = { key: journalKey(o), orders: o.days * o.perDay, messages, steps, build_s: Number(buildS.toFixed(1)),
      expected, rows_orders: rows('orders'), rows_events: rows('events'), journal_bytes: journalBytes(o.journal),
      built_at: new Date().toISOString() };
    writeFileSync(path.join(o.journal, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
    return meta;
  } finally {
    if (!stopped) await bus.stopBridge().catch(() => {});
    await bus.stop();
  }
}

const journalKey = (o) => `days=${o.days} per-day=${o.perDay} step=${o.step} seed=${o.seed}`;

function journalBytes(dir) {
  return ['journal.db', 'journal.db-wal'].reduce((a, f) => a + (statSync(path.join(dir, f), { throwIfNoEntry: false })?.size || 0), 0);
}

// ---- measuring -------------------------------------------------------------

function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
}

function rssKb(pid) {
  return Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)?.[1]);
}

/** min / median / max / mean of a list, rounded. */
function spread(v) {
  const s = [...v].sort((a, b) => a - b);
  const r = (x) => Number(x.toFixed(1));
  return { n: s.length, min: r(s[0]), median: r(s[Math.floor((s.length - 1) / 2)]), max: r(s.at(-1)),
    mean: r(s.reduce((a, b) => a + b, 0) / s.length) };
}

function pct(values) {
  const v = [...values].sort((a, b) => a - b);
  if (!v.length) return null;
  const at = (p) => Number(v[Math.floor((v.length - 1) * p)].toFixed(3));
  return { p50: at(0.5), p99: at(0.99), max: Number(v.at(-1).toFixed(3)), n: v.length,
    over_100ms: v.filter((x) => x > 100).length, over_1s: v.filter((x) => x > 1000).length };
}

/**
 * GET /health one after another, 5 ms apart, until stop(): the loop's answer
 * times. A request the bridge drops counts as an error, its time as a sample.
 */
function healthProbe(bus) {
  const times = [];
  const errors = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const t = performance.now();
      try {
        const res = await fetch(bus.url('/health'), { signal: AbortSignal.timeout(120000) });
        await res.arrayBuffer();
      } catch (e) {
        errors.push(String(e.cause?.code || e.cause?.message || e.name));
      }
      times.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return { ...pct(times), errors: errors.length, ...(errors.length ? { error: errors[0] } : {}) };
    },
  };
}

async function measureRun(o, run, record, log) {
  const bus = await startBus({ registry: DEMO_REGISTRY, env: ENV, bridge: false });
  try {
    mkdirSync(path.join(bus.dir, 'bridge'), { recursive: true });
    for (const f of ['journal.db', 'journal.db-wal']) {
      if (existsSync(path.join(o.journal, f))) copyFileSync(path.join(o.journal, f), path.join(bus.dir, 'bridge', f));
    }
    const ts = performance.now();
    await bus.startBridge();
    const startS = (performance.now() - ts) / 1000;
    const pid = bus.bridge.pid;
    const admin = await adminSession(bus);
    const end = FIRST_DAY + o.days * DAY_MS;
    await admin.setClock(end);
    const q = (extra) => `/api/reports?${new URLSearchParams({ from: iso(FIRST_DAY), to: iso(end), ...extra })}`;
    const CASES = {
      month_by_hour_all: q({ tenant: '*', by: 'hour' }),
      month_by_day_all: q({ tenant: '*', by: 'day' }),
      month_by_station_all: q({ tenant: '*', by: 'station' }),
      month_by_hour_burger: q({ tenant: 'burger', by: 'hour' }),
      month_by_hour_all_csv: q({ tenant: '*', by: 'hour', format: 'csv' }),
    };
    const get = async (p) => {
      const t = performance.now();
      const res = await fetch(bus.url(p), { headers: admin.headers });
      const body = await res.text();
      if (res.status !== 200) throw new Error(`${p}: ${res.status} ${body}`);
      return { ms: performance.now() - t, bytes: body.length, body };
    };
    const rssBefore = rssKb(pid);
    const first = await get(CASES.month_by_hour_all);
    const orders = JSON.parse(first.body).totals.reduce((a, t) => a + t.orders, 0);
    record({ scenario: 'reports-setup', run, journal_bytes: journalBytes(o.journal), orders_in_report: orders,
      bridge_rss_kb_before: rssBefore, bridge_rss_kb_after_first: rssKb(pid), bridge_start_s: Number(startS.toFixed(2)),
      first_report_ms: Number(first.ms.toFixed(1)), loadavg_1m: loadavg()[0] });

    // Report wall times, the cases interleaved.
    const times = Object.fromEntries(Object.keys(CASES).map((k) => [k, []]));
    const cpu = Object.fromEntries(Object.keys(CASES).map((k) => [k, 0]));
    const bytes = {};
    for (let rep = 0; rep < o.reps; rep++) {
      for (const [name, p] of Object.entries(CASES)) {
        const c0 = cpuTicks(pid);
        const r = await get(p);
        cpu[name] += cpuTicks(pid) - c0;
        times[name].push(r.ms);
        bytes[name] = r.bytes;
      }
    }
    for (const name of Object.keys(CASES)) {
      record({ scenario: 'reports-time', run, case: name, bytes: bytes[name], wall_ms: spread(times[name]),
        bridge_cpu_ms_per_report: Number(((cpu[name] * 10) / o.reps).toFixed(0)) });
    }

    // Order latency: quiet, with reports back to back, quiet.
    const kbArgs = ['--port', String(bus.mqttPort), '--path', 'bridge', '--rate', String(o.rate), '--seconds', String(o.seconds),
      '--kitchens', '1', '--tenant', 'pizza', '--pos-user', 'pizza-pos', '--pos-pass', 'pizza-pos',
      '--kitchen-user', 'pizza-kitchen', '--kitchen-pass', 'pizza-kitchen',
      '--direct-pass-file', bus.bridgeEnv.KB_BRIDGE_PASSWORD_FILE];
    for (const phase of ['quiet', 'reports', 'quiet-after']) {
      const probe = healthProbe(bus);
      let looping = phase === 'reports';
      const loopTimes = [];
      let rssMax = rssKb(pid);
      const sampler = setInterval(() => { rssMax = Math.max(rssMax, rssKb(pid)); }, 100);
      const loops = Array.from({ length: looping ? o.reportClients : 0 }, async () => {
        while (looping) loopTimes.push((await get(CASES.month_by_hour_all)).ms);
      });
      if (looping) await waitFor(() => loopTimes.length >= 1, { timeout: 30000, what: 'a first report' });
      const c0 = cpuTicks(pid);
      const tp = performance.now();
      const { stdout } = await promisify(execFile)(BENCH, [...kbArgs, '--label', `reports-${phase}`], { encoding: 'utf8', timeout: 120000 });
      const phaseS = (performance.now() - tp) / 1000;
      const bridgeCpu = cpuTicks(pid) - c0;
      const reportsDone = loopTimes.length;
      looping = false;
      await Promise.all(loops);
      clearInterval(sampler);
      const health = await probe.stop();
      const k = JSON.parse(stdout.trim().split('\n').pop());
      record({ scenario: 'reports-latency', path: 'bridge', transport: 'tcp', run, phase, rate: o.rate, seconds: o.seconds, orders: k.orders, acked: k.acked,
        lost_acks: k.lost_acks, lost_deliveries: k.lost_deliveries, submit_to_ack_ms: k.submit_to_ack_ms,
        submit_to_kitchen_ms: k.submit_to_kitchen_ms, health_ms: health,
        report_clients: phase === 'reports' ? o.reportClients : 0,
        reports_during: phase === 'reports' ? reportsDone : 0,
        report_wall_ms: loopTimes.length ? spread(loopTimes) : null,
        bridge_cpu_share: Number(((bridgeCpu * 10) / (phaseS * 1000)).toFixed(2)), bridge_rss_max_kb: rssMax,
        loadavg_1m: loadavg()[0] });
    }

    // Last, since it does not end in reasonable time (docs/BENCHMARKS.md): one
    // tenant that has stations (pizza). While it runs, the same order latency
    // and probe; then the bridge is killed, as a SIGTERM would wait for it.
    if (o.stationsTenant) {
      const probe = healthProbe(bus);
      const t = performance.now();
      const pending = fetch(bus.url(q({ tenant: 'pizza', by: 'hour' })), { headers: admin.headers,
        signal: AbortSignal.timeout(o.tenantTimeout * 1000) })
        .then(async (r) => ({ status: r.status, bytes: (await r.text()).length, ms: performance.now() - t }))
        .catch((e) => ({ error: String(e.cause?.code || e.cause?.message || e.name), ms: performance.now() - t }));
      await new Promise((r) => setTimeout(r, 1000));
      const c0 = cpuTicks(pid);
      const { stdout } = await promisify(execFile)(BENCH, [...kbArgs, '--label', 'reports-pizza'], { encoding: 'utf8', timeout: 120000 });
      const bridgeCpuS = ((cpuTicks(pid) - c0) * 10) / 1000;
      const outcome = await pending;
      const health = await probe.stop();
      const k = JSON.parse(stdout.trim().split('\n').pop());
      record({ scenario: 'reports-latency', path: 'bridge', transport: 'tcp', run, phase: 'pizza-report', rate: o.rate, seconds: o.seconds, orders: k.orders,
        acked: k.acked, not_acked_15s_after_last_send: k.lost_acks, not_delivered_15s_after_last_send: k.lost_deliveries,
        // Not submit_to_ack_ms / submit_to_kitchen_ms: run.mjs's table and its "lost" check are for the other phases.
        ack_ms: k.submit_to_ack_ms, kitchen_ms: k.submit_to_kitchen_ms, health_ms: health, report: { case: 'month_by_hour_pizza', ...outcome,
          ms: Number(outcome.ms.toFixed(0)) }, bridge_cpu_s: bridgeCpuS, loadavg_1m: loadavg()[0] });
      bus.bridge.kill('SIGKILL');
      await bus.bridge.exited;
    }
    log(`run ${run}: done`);
  } catch (e) {
    log(`run ${run} failed: ${e.stack}`);
    throw e;
  } finally {
    await bus.stop();
  }
}

/** The whole scenario: the journal (built or reused), then o.runs measurement runs. */
export async function reportsScenario(o, record, log = (s) => console.error(`[reports] ${s}`)) {
  record({ scenario: 'reports-machine', cpus: cpus().length, model: cpus()[0].model, options: journalKey(o),
    bridge: process.env.KB_BRIDGE_BIN || 'build/bridge/kb-bridge' });
  const metaFile = path.join(o.journal, 'meta.json');
  let meta = existsSync(metaFile) ? JSON.parse(readFileSync(metaFile, 'utf8')) : null;
  if (o.rebuild || meta?.key !== journalKey(o) || !existsSync(path.join(o.journal, 'journal.db'))) {
    log(`building the journal (${journalKey(o)}) into ${o.journal}`);
    meta = await buildJournal(o, log);
    record({ scenario: 'reports-build', ...meta });
  } else {
    log(`reusing the journal in ${o.journal} (${meta.key}, built ${meta.built_at})`);
    record({ scenario: 'reports-build', reused: true, ...meta });
  }
  const mine = [];
  const keep = (r) => { mine.push(r); record(r); };
  for (let run = 1; run <= o.runs; run++) await measureRun(o, run, keep, log);
  summary(mine);
}

/** The figures of every run side by side (stderr; the JSON lines are the record). */
function summary(rs) {
  if (!rs.length) return;
  const range = (v) => (v.length ? `${Math.min(...v)}-${Math.max(...v)}` : '-');
  const out = ['', 'report (the whole period)        wall ms: medians per run (min-max of all reps)   bridge CPU ms/report'];
  const cases = [...new Set(rs.filter((r) => r.scenario === 'reports-time').map((r) => r.case))];
  for (const c of cases) {
    const x = rs.filter((r) => r.case === c);
    out.push(`${c.padEnd(32)} ${x.map((r) => r.wall_ms.median).join(' / ').padEnd(22)} (${range(x.flatMap((r) => [r.wall_ms.min, r.wall_ms.max]))})`.padEnd(84)
      + ` ${x.map((r) => r.bridge_cpu_ms_per_report).join(' / ')}`);
  }
  out.push('', 'order latency (kb-bench)   ack p50 / p99 / max ms, per run              /health max ms   reports done');
  for (const phase of ['quiet', 'reports', 'quiet-after', 'pizza-report']) {
    const x = rs.filter((r) => r.scenario === 'reports-latency' && r.phase === phase);
    if (!x.length) continue;
    const a = x.map((r) => (r.submit_to_ack_ms ? `${r.submit_to_ack_ms.p50}/${r.submit_to_ack_ms.p99}/${r.submit_to_ack_ms.max}` : `${r.acked} of ${r.orders} acked`));
    // (pizza-report: acks within kb-bench's 15 s wait after its last send)
    out.push(`${phase.padEnd(26)} ${a.join('  ').padEnd(46)} ${x.map((r) => Math.round(r.health_ms.max)).join(' / ').padEnd(16)} ${x.map((r) => r.reports_during ?? (r.report?.error || r.report?.status)).join(' / ')}`);
  }
  console.error(out.join('\n'));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const o = options(process.argv.slice(2));
  const seen = [];
  const record = (r) => {
    seen.push(r);
    const line = JSON.stringify(r);
    console.log(line);
    if (o.smoke) return;
    mkdirSync(path.dirname(OUT), { recursive: true });
    appendFileSync(OUT, `${line}\n`);
  };
  try {
    await reportsScenario(o, record);
  } finally {
    if (o.smoke) rmSync(o.journal, { recursive: true, force: true }); // its own mkdtemp directory
  }
  // The smoke checks that the scenario works: every order acked, the one-tenant report answered; never how fast.
  if (o.smoke) {
    const latency = seen.filter((r) => r.scenario === 'reports-latency');
    const bad = latency.filter((r) => (r.phase === 'pizza-report' ? r.not_acked_15s_after_last_send || r.report.status !== 200 : r.lost_acks));
    if (latency.length !== 4 || bad.length) {
      console.error(`reports smoke failed: ${JSON.stringify(bad.length ? bad : latency)}`);
      process.exit(1);
    }
  }
}
