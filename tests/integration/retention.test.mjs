// retention.test.mjs - the journal does not grow forever: with KB_RETENTION
// of seconds, closed orders and their events are deleted (counted in
// /metrics), open orders never are, a tenant's seq never goes back, and with
// the uplink on an event head office has not stored survives until it has.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startBus, posDevice, kitchenDevice, makeOrder, mqttClient, waitFor } from '../lib/harness.mjs';

const buses = [];
after(async () => { for (const b of buses) await b.stop(); });

const ENV = { KB_RETENTION: '2s', KB_DEDUPE_WINDOW: '1s' };
async function bus(env = {}) {
  const b = await startBus({ env: { ...ENV, ...env } });
  buses.push(b);
  return b;
}
const metric = async (b, name) => {
  const m = (await b.metrics()).match(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm'));
  assert.ok(m, `${name} in /metrics`);
  return Number(m[1]);
};
async function serve(k, n) {
  for (const s of ['accepted', 'preparing', 'ready', 'served']) assert.equal((await k.setStatus(n, s)).result, 'accepted');
}

test('closed orders and their events are pruned after KB_RETENTION; open ones stay, seq goes on', { timeout: 30000 }, async () => {
  const b = await bus();
  const pos = await posDevice(b, 'pizza');
  const kitchen = await kitchenDevice(b, 'pizza');
  const orders = Array.from({ length: 10 }, () => makeOrder('pizza'));
  let last = 0;
  for (const o of orders) last = (await pos.submit(o)).seq;
  for (const o of orders.slice(0, 5)) await serve(kitchen, o.order_number);
  assert.equal(await metric(b, 'kb_journal_rows{table="orders"}'), 10);
  assert.equal(await metric(b, 'kb_journal_rows{table="events"}'), 10 + 5 * 4);

  await waitFor(async () => await metric(b, 'kb_journal_pruned_total{table="orders"}') === 5,
    { timeout: 10000, interval: 200, what: 'the 5 closed orders to be pruned' });
  assert.equal(await metric(b, 'kb_journal_pruned_total{table="events"}'), 5 * 5);
  assert.equal(await metric(b, 'kb_journal_rows{table="orders"}'), 5);
  assert.equal(await metric(b, 'kb_journal_rows{table="events"}'), 5);
  assert.equal(await metric(b, 'kb_journal_oldest_closed_age_seconds'), 0, 'no closed order left');
  assert.ok(await metric(b, 'kb_journal_bytes') > 0);
  assert.equal((await b.health()).body.orders_open, 5);

  // The open ones are whole: retained for a late kitchen, and they move on.
  const late = await kitchenDevice(b, 'pizza', 'pizza-kitchen', { clientId: 'late-kitchen' });
  await waitFor(() => orders.slice(5).every((o) => late.orders(o.order_number).some((m) => m.retain && m.payload !== '')),
    { what: 'the open orders retained' });
  assert.equal((await kitchen.setStatus(orders[5].order_number, 'accepted')).result, 'accepted');
  // A pruned number is unknown now: a status for it is refused, a submit is a new order.
  assert.equal((await kitchen.setStatus(orders[0].order_number, 'accepted')).error, 'unknown_order');
  // Seq never goes back, even though the events up to it are gone.
  const next = await pos.submit(makeOrder('pizza'));
  assert.ok(next.seq > last + 5 * 4, `seq ${next.seq} after ${last + 20}`);
  late.client.end(true);
  pos.client.end(true);
  kitchen.client.end(true);

  // After a restart, too.
  await b.stopBridge();
  await b.startBridge();
  const pos2 = await posDevice(b, 'pizza');
  assert.ok((await pos2.submit(makeOrder('pizza'))).seq > next.seq);
  pos2.client.end(true);
});

test('with the uplink on, an order whose events head office lacks is kept until it has them', { timeout: 30000 }, async () => {
  const b = await bus({ KB_UPLINK: '1', KB_UPLINK_GRACE_MS: '600000' });
  const pos = await posDevice(b, 'pizza');
  const kitchen = await kitchenDevice(b, 'pizza');
  const early = makeOrder('pizza');
  const lateOrder = makeOrder('pizza');
  await pos.submit(early);
  await serve(kitchen, early.order_number);
  await pos.submit(lateOrder);
  await serve(kitchen, lateOrder.order_number);
  const earlyLast = kitchen.events(early.order_number).at(-1).seq;

  // Head office (here: the bridge's own account, as the uplink would) has everything up to early's close.
  const headOffice = await mqttClient(b, 'kb-bridge', readFileSync(path.join(b.dir, 'broker/bridge.pw'), 'utf8').trim());
  await headOffice.publishAsync('outlet/uplink/seen/pizza', JSON.stringify({ seq: earlyLast }), { qos: 1, retain: true });
  await waitFor(async () => await metric(b, 'kb_journal_pruned_total{table="orders"}') === 1,
    { timeout: 10000, interval: 200, what: 'the order head office has to be pruned' });
  assert.equal(await metric(b, 'kb_journal_rows{table="orders"}'), 1, 'the other is kept');
  assert.equal(await metric(b, 'kb_journal_rows{table="events"}'), 5);
  // It stays while head office lacks it, well past the retention.
  const keptSince = Date.now();
  await waitFor(() => Date.now() - keptSince > 3000, { timeout: 5000, interval: 100, what: '3 s past the 2 s retention' });
  assert.equal(await metric(b, 'kb_journal_pruned_total{table="orders"}'), 1);

  const lastSeq = kitchen.events(lateOrder.order_number).at(-1).seq;
  await headOffice.publishAsync('outlet/uplink/seen/pizza', JSON.stringify({ seq: lastSeq }), { qos: 1, retain: true });
  await waitFor(async () => await metric(b, 'kb_journal_pruned_total{table="orders"}') === 2,
    { timeout: 10000, interval: 200, what: 'the second order to go once head office has it' });
  assert.equal(await metric(b, 'kb_journal_rows{table="events"}'), 0);
  headOffice.end(true);
  pos.client.end(true);
  kitchen.client.end(true);
});

test('KB_RETENTION shorter than KB_DEDUPE_WINDOW stops the bridge with one line', { timeout: 20000 }, async () => {
  const b = await startBus({ bridge: false });
  buses.push(b);
  Object.assign(b.bridgeEnv, { KB_RETENTION: '1h', KB_DEDUPE_WINDOW: '6h' });
  await b.startBridge({ waitHealthy: false });
  assert.equal((await b.bridge.exited).code, 2);
  assert.match(b.bridgeLog(), /KB_RETENTION is shorter than KB_DEDUPE_WINDOW/);
});
