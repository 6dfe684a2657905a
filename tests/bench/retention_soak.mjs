// retention_soak.mjs - the journal's size over a long run with retention
// (docs/BENCHMARKS.md, "Journal size under retention").
//
//   node tests/bench/retention_soak.mjs [--orders 50000] [--retention 20s] [--window 32] [--rate 1000]
//
// Starts its own broker and bridge (tests/lib/harness.mjs) with KB_RETENTION
// and KB_DEDUPE_WINDOW set to --retention; one POS submits --orders orders,
// keeping --window of them in flight and at most --rate new orders a second
// (so that the run outlasts the retention however fast the bridge is: at the
// default 50 s against 20 s), and cancels each once it is acked (an order
// that opens and closes: two journaled changes). Every 5 s it samples
// /metrics: the journal's bytes on disk, its rows, and the rows pruned. The
// size must stop growing once the first orders are older than the
// retention: then pruning deletes as much as arrives, and SQLite reuses the
// freed pages (auto_vacuum=INCREMENTAL hands the rest back).
//
// It fails (exit 1) when the size still grows after the window: the largest
// sample of the run's last third may be at most 1.3 times the first sample
// past the window (the rows inside the window vary with the rate), and when
// the rows are not all pruned at the end. ctest runs it as soak.retention
// (label soak, about two minutes).
import assert from 'node:assert/strict';
import { startBus, mqttClient, submitTopic, ackTopic, subscribe } from '../lib/harness.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
};
const TOTAL = Number(arg('orders', 50000));
const RETENTION = arg('retention', '20s');
const WINDOW = Number(arg('window', 32));
const RATE = Number(arg('rate', 1000));

const bus = await startBus({ env: { KB_RETENTION: RETENTION, KB_DEDUPE_WINDOW: RETENTION } });
const pos = await mqttClient(bus, 'pizza-pos');
await subscribe(pos, [ackTopic('pizza', 'pos', 'pizza-pos')]);
const metric = (text, name) => Number(text.match(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm'))?.[1]);
const t0 = Date.now();
const samples = [];
async function sample() {
  const m = await bus.metrics();
  const s = {
    t_s: Math.round((Date.now() - t0) / 1000), orders_sent: sent,
    bytes: metric(m, 'kb_journal_bytes'), rows_orders: metric(m, 'kb_journal_rows{table="orders"}'),
    rows_events: metric(m, 'kb_journal_rows{table="events"}'), pruned_orders: metric(m, 'kb_journal_pruned_total{table="orders"}'),
  };
  samples.push(s);
  console.log(JSON.stringify(s));
}

let sent = 0;
let closed = 0;
let inFlight = 0;
let resolveDone;
const done = new Promise((r) => { resolveDone = r; });
const body = (n) => JSON.stringify({ order_number: `S-${n}`, tenant_id: 'pizza', created_at: new Date().toISOString(),
  items: [{ name: 'Margherita', qty: 1 + (n % 3), modifiers: ['extra cheese'] }], customer_name: 'Soak', table: String(n % 40) });
let paced = null; // the timer that resumes a pump held back by --rate
function pump() {
  const allowed = Math.min(TOTAL, Math.floor(((Date.now() - t0) / 1000) * RATE) + WINDOW);
  while (inFlight < WINDOW && sent < allowed) {
    const n = sent++;
    inFlight++;
    pos.publish(submitTopic('pizza', 'pizza-pos'), body(n), { qos: 1 });
  }
  if (sent < TOTAL && inFlight < WINDOW && !paced) paced = setTimeout(() => { paced = null; pump(); }, 5);
}
pos.on('message', (topic, payload) => {
  const ack = JSON.parse(payload.toString());
  if (ack.result === 'rejected') throw new Error(`rejected: ${payload}`);
  if (ack.status === 'new') {
    pos.publish(submitTopic('pizza', 'pizza-pos'), JSON.stringify({ order_number: ack.order_number, action: 'cancel' }), { qos: 1 });
  } else if (ack.status === 'cancelled') {
    closed++;
    inFlight--;
    if (closed === TOTAL) resolveDone();
    else pump();
  }
});
const timer = setInterval(() => { sample().catch((e) => console.error(e)); }, 5000);
pump();
await done;
await sample();
// Let retention catch up with the last orders, then one more sample.
const retentionS = Number(RETENTION.replace(/\D/g, '')) * ({ s: 1, m: 60, h: 3600, d: 86400 }[RETENTION.slice(-1)]);
await new Promise((r) => setTimeout(r, (retentionS + 5) * 1000)); // waiting out the retention is the point here
clearInterval(timer);
await sample();
pos.end(true);
await bus.stop();
const afterWindow = samples.filter((s) => s.t_s > retentionS + 5 && s.orders_sent < TOTAL);
const sizes = afterWindow.map((s) => s.bytes);
console.log(`# ${TOTAL} orders (each created and cancelled) in ${samples.at(-2).t_s} s, retention ${RETENTION}`);
if (sizes.length) {
  console.log(`# journal on disk once the retention was reached: ${Math.min(...sizes)} - ${Math.max(...sizes)} bytes over ${sizes.length} samples`);
}
console.log(`# at the end: ${samples.at(-1).bytes} bytes, ${samples.at(-1).rows_orders} orders, ${samples.at(-1).rows_events} events, ${samples.at(-1).pruned_orders} pruned`);
assert.ok(afterWindow.length >= 3, `at least 3 samples past the window (got ${afterWindow.length}): a longer run is needed`);
const lastThird = sizes.slice(Math.floor((sizes.length * 2) / 3));
assert.ok(Math.max(...lastThird) <= sizes[0] * 1.3,
  `the journal still grows past the window: ${sizes[0]} bytes at first, up to ${Math.max(...lastThird)} at the end`);
assert.equal(samples.at(-1).rows_orders, 0, 'every order pruned once the retention has passed');
assert.equal(samples.at(-1).pruned_orders, TOTAL);
