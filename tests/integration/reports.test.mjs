// reports: a scripted day on the bridge's test clock (KB_TEST_CLOCK=1), then
// GET /api/reports as JSON and CSV and the kb_ticket_seconds histogram of
// /metrics, checked against figures this test computes itself from its own
// script (nearest-rank percentiles): every lifecycle, station parts, a
// recall, a cancel, late orders, a reused order number, an order outside the
// period. Then who may ask, and bad input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { startBus, DEMO_REGISTRY, BRIDGE_BIN, posDevice, kitchenDevice, stationDevice } from '../lib/harness.mjs';

const DAY = '2026-11-02';
const at = (hhmm, day = DAY) => `${day}T${hhmm}:00.000Z`;
let bus, session;

async function api(method, path, body) {
  const headers = { 'content-type': 'application/json' };
  if (session) { headers.cookie = session.cookie; headers['x-csrf-token'] = session.csrf; }
  const res = await fetch(bus.url(path), { method, headers, body: body && JSON.stringify(body) });
  const text = await res.text();
  let parsed = text;
  try { parsed = JSON.parse(text); } catch { /* CSV */ }
  return { status: res.status, body: parsed, type: res.headers.get('content-type'), cookie: res.headers.get('set-cookie')?.split(';')[0] };
}

// The script: [time, tenant, order (its key here), action, station?]. Numbers
// repeat (a POS numbering per day): "17" is served, then taken again.
const SCRIPT = [
  [at('23:59', '2026-11-01'), 'pizza', 'early', 'create'], // the day before: outside the report
  [at('00:30'), 'pizza', 'early', 'accepted'], [at('00:31'), 'pizza', 'early', 'preparing'], [at('00:35'), 'pizza', 'early', 'ready'],
  [at('11:00'), 'pizza', '17', 'create'], [at('11:01'), 'pizza', '17', 'accepted'], [at('11:02'), 'pizza', '17', 'preparing'],
  [at('11:08'), 'pizza', '17', 'ready'], [at('11:10'), 'pizza', '17', 'served'],
  [at('11:15'), 'burger', 'B1', 'create'], [at('11:16'), 'burger', 'B1', 'accepted'], [at('11:17'), 'burger', 'B1', 'preparing'],
  [at('11:22'), 'burger', 'B1', 'ready'], [at('11:23'), 'burger', 'B1', 'served'],
  [at('11:30'), 'pizza', 'P2', 'create'], [at('11:33'), 'pizza', 'P2', 'accepted'], [at('11:34'), 'pizza', 'P2', 'preparing'],
  [at('11:45'), 'pizza', 'P2', 'ready'], [at('11:50'), 'pizza', 'P2', 'served'],
  [at('12:05'), 'pizza', 'P3', 'create'], [at('12:07'), 'pizza', 'P3', 'cancelled'],
  [at('12:10'), 'pizza', 'P4', 'create'], [at('12:11'), 'pizza', 'P4', 'accepted'], [at('12:12'), 'pizza', 'P4', 'preparing'],
  [at('12:14'), 'pizza', 'P4', 'ready'], [at('12:15'), 'pizza', 'P4', 'preparing'], [at('12:20'), 'pizza', 'P4', 'ready'],
  [at('13:00'), 'pizza', 'P5', 'create', null, ['oven', 'bar']], [at('13:01'), 'pizza', 'P5', 'accepted'],
  [at('13:03'), 'pizza', 'P5', 'ready', 'bar'], [at('13:04'), 'pizza', 'P5', 'preparing', 'oven'], [at('13:06'), 'pizza', 'P5', 'ready', 'oven'],
  [at('14:00'), 'pizza', '17b', 'create'], [at('14:01'), 'pizza', '17b', 'accepted'], [at('14:02'), 'pizza', '17b', 'preparing'],
  [at('14:05'), 'pizza', '17b', 'ready'],
  [at('23:50'), 'pizza', 'P7', 'create'], // still open at the end of the day
];
const NUMBER = { '17b': '17' }; // the second instance of number 17
const LATE_AFTER = { pizza: 600, burger: 300 }; // burger's registry says "5m"; pizza the default

/** What the script makes, computed here: per order instance its times. */
function model() {
  const orders = new Map();
  for (const [time, tenant, key, action, station, stations] of SCRIPT) {
    const t = Date.parse(time);
    if (action === 'create') {
      orders.set(key, { tenant, key, number: NUMBER[key] ?? key, created: t, recalls: 0, parts: {}, stations: stations ?? ['oven'], status: 'new' });
      continue;
    }
    const o = orders.get(key);
    const firstReady = (st) => { if (o.parts[st] === undefined) o.parts[st] = t; };
    if (station) { // a station's part; the last part ready makes the order ready
      if (action === 'ready') firstReady(station);
      if (o.stations.every((st) => o.parts[st] !== undefined) && o.ready === undefined) o.ready = t;
      continue;
    }
    if (action === 'accepted' && o.accepted === undefined) o.accepted = t;
    if (action === 'ready') { if (o.ready === undefined) o.ready = t; o.stations.forEach(firstReady); }
    if (action === 'preparing' && o.status === 'ready') o.recalls++;
    if (action === 'served') o.served = t;
    if (action === 'cancelled') o.cancelled = t;
    o.status = action;
  }
  return [...orders.values()];
}

function stats(values) {
  const v = [...values].sort((a, b) => a - b);
  if (!v.length) return { count: 0, avg_s: null, p50_s: null, p90_s: null, max_s: null };
  const rank = (p) => v[Math.ceil(p * v.length) - 1];
  const round = (x) => Math.round(x * 1000) / 1000;
  return { count: v.length, avg_s: round(v.reduce((a, b) => a + b, 0) / v.length), p50_s: rank(0.5), p90_s: rank(0.9), max_s: v.at(-1) };
}

const inDay = (o, tzMin = 0) => {
  const from = Date.parse(`${DAY}T00:00:00Z`) - tzMin * 60000;
  return o.created >= from && o.created < from + 86400000;
};

before(async () => {
  const registry = JSON.parse(readFileSync(DEMO_REGISTRY, 'utf8'));
  registry.tenants.find((t) => t.id === 'burger').late_after = '5m';
  bus = await startBus({ registry, env: { KB_TEST_CLOCK: '1' } });
  const login = await api('POST', '/api/login', { username: 'admin', password: 'admin' });
  assert.equal(login.status, 200);
  session = { cookie: login.cookie, csrf: login.body.csrf };
  const pos = { pizza: await posDevice(bus, 'pizza'), burger: await posDevice(bus, 'burger') };
  const kitchen = { pizza: await kitchenDevice(bus, 'pizza'), burger: await kitchenDevice(bus, 'burger') };
  const station = { oven: await stationDevice(bus, 'pizza', 'oven'), bar: await stationDevice(bus, 'pizza', 'bar') };
  // Content differs per instance: a reused number with the same content would be a re-send (duplicate).
  const items = (key, stations) => (stations ?? ['oven']).map((st) => ({ name: `${key} at ${st}`, qty: 1, station: st }));
  for (const [time, tenant, key, action, st, stations] of SCRIPT) {
    assert.equal((await api('POST', '/api/test/clock', { now: time })).status, 200);
    const number = NUMBER[key] ?? key;
    let ack;
    if (action === 'create') ack = await pos[tenant].submit({ order_number: number, tenant_id: tenant, items: items(key, stations) });
    else if (st) ack = await station[st].report(number, action);
    else ack = await kitchen[tenant].setStatus(number, action);
    assert.equal(ack.result, 'accepted', `${time} ${key} ${action}: ${JSON.stringify(ack)}`);
  }
  for (const d of [...Object.values(pos), ...Object.values(kitchen), ...Object.values(station)]) d.client.end(true);
});
after(async () => { await bus?.stop(); });

const query = (q) => `/api/reports?${new URLSearchParams(q)}`;

test('by hour: the JSON matches the figures computed from the script', async () => {
  const r = await api('GET', query({ tenant: 'pizza', from: `${DAY}T00:00:00Z`, to: '2026-11-03T00:00:00Z', by: 'hour' }));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const orders = model().filter((o) => o.tenant === 'pizza' && inDay(o));
  const ticket = (o) => (o.ready - o.created) / 1000;
  const total = r.body.totals.find((t) => t.tenant === 'pizza');
  assert.equal(total.orders, orders.length);
  assert.equal(total.cancelled, orders.filter((o) => o.cancelled).length);
  assert.equal(total.recalls, orders.reduce((n, o) => n + o.recalls, 0));
  assert.equal(total.late, orders.filter((o) => o.ready && ticket(o) > LATE_AFTER.pizza).length);
  assert.deepEqual(total.ticket, stats(orders.filter((o) => o.ready).map(ticket)));
  assert.deepEqual(total.accept, stats(orders.filter((o) => o.accepted).map((o) => (o.accepted - o.created) / 1000)));
  assert.deepEqual(total.serve, stats(orders.filter((o) => o.served).map((o) => (o.served - o.created) / 1000)));
  const hours = [...new Set(orders.map((o) => new Date(o.created).toISOString().slice(11, 13)))].sort();
  assert.deepEqual(r.body.rows.map((x) => x.key), hours);
  for (const row of r.body.rows) {
    const mine = orders.filter((o) => new Date(o.created).toISOString().slice(11, 13) === row.key);
    assert.equal(row.orders, mine.length, `hour ${row.key}`);
    assert.equal(row.late, mine.filter((o) => o.ready && ticket(o) > LATE_AFTER.pizza).length);
    assert.deepEqual(row.ticket, stats(mine.filter((o) => o.ready).map(ticket)), `hour ${row.key}`);
  }
  // Stations: created -> that part first ready.
  for (const st of ['oven', 'bar', 'cold']) {
    const got = r.body.stations.find((x) => x.station === st);
    assert.deepEqual(got.ready, stats(orders.filter((o) => o.parts[st] !== undefined).map((o) => (o.parts[st] - o.created) / 1000)), st);
  }
  // The slowest, longest first; the reused number is two instances.
  const slow = orders.filter((o) => o.ready).sort((a, b) => ticket(b) - ticket(a));
  assert.deepEqual(r.body.slowest.map((s) => [s.order_number, s.ticket_s]), slow.map((o) => [o.number, ticket(o)]));
  assert.equal(r.body.slowest.filter((s) => s.order_number === '17').length, 2);
  assert.equal(r.body.retention_days, 30);
  assert.equal(r.body.oldest_available, at('23:59', '2026-11-01'));
});

test('every tenant, by day, in another time zone; by station; and the CSV has the same rows', async () => {
  const all = await api('GET', query({ tenant: '*', from: `${DAY}T00:00:00Z`, to: '2026-11-03T00:00:00Z', by: 'day', tz: '+07:00' }));
  assert.equal(all.status, 200);
  // In +07:00 the day boundary moves: orders after 17:00Z fall on the 3rd.
  const key = (o) => new Date(o.created + 7 * 3600e3).toISOString().slice(0, 10);
  const period = model().filter((o) => inDay(o));
  for (const tenant of ['pizza', 'burger']) {
    const mine = period.filter((o) => o.tenant === tenant);
    const days = [...new Set(mine.map(key))].sort();
    assert.deepEqual(all.body.rows.filter((x) => x.tenant === tenant).map((x) => x.key), days, tenant);
    for (const row of all.body.rows.filter((x) => x.tenant === tenant)) {
      const inRow = mine.filter((o) => key(o) === row.key);
      assert.equal(row.orders, inRow.length);
      assert.deepEqual(row.ticket, stats(inRow.filter((o) => o.ready).map((o) => (o.ready - o.created) / 1000)));
    }
  }
  const burger = all.body.totals.find((t) => t.tenant === 'burger');
  assert.equal(burger.late_after_s, 300);
  assert.equal(burger.late, 1, 'burger\'s 7-minute ticket is late by its own 5 minutes');
  assert.equal(all.body.totals.find((t) => t.tenant === 'noodle').orders, 0);

  const csv = await api('GET', query({ tenant: '*', from: `${DAY}T00:00:00Z`, to: '2026-11-03T00:00:00Z', by: 'day', tz: '+07:00', format: 'csv' }));
  assert.equal(csv.status, 200);
  assert.match(csv.type, /^text\/csv/);
  const lines = csv.body.trim().split('\n');
  assert.equal(lines[0], 'tenant,key,orders,cancelled,recalls,late,ticket_count,ticket_avg_s,ticket_p50_s,ticket_p90_s,ticket_max_s');
  const fmt = (x) => (x === null ? '' : String(x));
  assert.deepEqual(lines.slice(1), all.body.rows.map((x) => [x.tenant, x.key, x.orders, x.cancelled, x.recalls, x.late,
    x.ticket.count, fmt(x.ticket.avg_s), fmt(x.ticket.p50_s), fmt(x.ticket.p90_s), fmt(x.ticket.max_s)].join(',')));

  const byStation = await api('GET', query({ tenant: 'pizza', from: `${DAY}T00:00:00Z`, to: '2026-11-03T00:00:00Z', by: 'station' }));
  const oven = byStation.body.rows.find((x) => x.key === 'oven');
  const pizza = period.filter((o) => o.tenant === 'pizza' && o.parts.oven !== undefined);
  assert.equal(oven.orders, pizza.length);
  assert.deepEqual(oven.ticket, stats(pizza.map((o) => (o.parts.oven - o.created) / 1000)));
});

test('/metrics: kb_ticket_seconds per tenant, with every ticket made since the start', async () => {
  const text = await bus.metrics();
  for (const tenant of ['pizza', 'burger']) {
    const tickets = model().filter((o) => o.tenant === tenant && o.ready).map((o) => (o.ready - o.created) / 1000);
    for (const le of [60, 120, 300, 600, 900, 1200, 1800, 3600]) {
      const m = text.match(new RegExp(`^kb_ticket_seconds_bucket\\{tenant="${tenant}",le="${le}"\\} (\\d+)$`, 'm'));
      assert.ok(m, `${tenant} le=${le}`);
      assert.equal(Number(m[1]), tickets.filter((x) => x <= le).length, `${tenant} le=${le}`);
    }
    assert.match(text, new RegExp(`^kb_ticket_seconds_count\\{tenant="${tenant}"\\} ${tickets.length}$`, 'm'));
    const sum = Number(text.match(new RegExp(`^kb_ticket_seconds_sum\\{tenant="${tenant}"\\} (\\S+)$`, 'm'))[1]);
    assert.equal(sum, tickets.reduce((a, b) => a + b, 0));
  }
});

test('only admins; bad ranges, unknown tenants and from after to are 400 with a reason', async () => {
  const saved = session;
  session = null;
  assert.equal((await api('GET', query({ tenant: 'pizza', from: `${DAY}T00:00:00Z`, to: '2026-11-03T00:00:00Z' }))).status, 401);
  session = saved;
  const bad = [
    [{ tenant: 'pizza', to: '2026-11-03T00:00:00Z' }, /send tenant/],
    [{ tenant: 'pizza', from: 'yesterday', to: '2026-11-03T00:00:00Z' }, /ISO times/],
    [{ tenant: 'pizza', from: '2026-11-03T00:00:00Z', to: '2026-11-02T00:00:00Z' }, /"from" must be before "to"/],
    [{ tenant: 'pizza', from: '2025-01-01T00:00:00Z', to: '2026-11-02T00:00:00Z' }, /at most 366 days/],
    [{ tenant: 'tacos', from: `${DAY}T00:00:00Z`, to: '2026-11-03T00:00:00Z' }, /no tenant tacos/],
    [{ tenant: 'pizza', from: `${DAY}T00:00:00Z`, to: '2026-11-03T00:00:00Z', by: 'week' }, /by must be/],
    [{ tenant: 'pizza', from: `${DAY}T00:00:00Z`, to: '2026-11-03T00:00:00Z', tz: 'WIB' }, /tz must be/],
  ];
  for (const [q, why] of bad) {
    const r = await api('GET', query(q));
    assert.equal(r.status, 400, JSON.stringify(q));
    assert.match(r.body.message, why);
  }
});

test('KB_TEST_CLOCK=1 is refused with a production registry, in one line', () => {
  const registry = JSON.parse(readFileSync(DEMO_REGISTRY, 'utf8'));
  registry.demo = false;
  const file = `${bus.dir}/production.json`;
  writeFileSync(file, JSON.stringify(registry));
  const run = spawnSync(BRIDGE_BIN, [], { env: { ...bus.bridgeEnv, KB_REGISTRY: file, KB_TEST_CLOCK: '1' }, encoding: 'utf8', timeout: 5000 });
  assert.equal(run.status, 2);
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0], /KB_TEST_CLOCK=1 .* refused with a production registry/);
});
