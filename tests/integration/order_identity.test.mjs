// order_identity.test.mjs - order numbers as real POS send them: numbered
// per day (tomorrow's 17 after today's 17 was served), re-sent by an outbox
// (byte for byte), or reused while the first is still open. A submission's
// identity is its tenant, its number and a fingerprint of its content
// (docs/CONTRACT.md, "Order numbers").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startBus, posDevice, kitchenDevice, legacyClient, parse, waitFor, waitMessage, eventsTopic,
} from '../lib/harness.mjs';

let bus;
let pos;
let kitchen;
before(async () => {
  bus = await startBus();
  pos = await posDevice(bus, 'pizza');
  kitchen = await kitchenDevice(bus, 'pizza');
});
after(async () => {
  pos?.client.end(true);
  kitchen?.client.end(true);
  await bus?.stop();
});

let day = 0;
/** The POS's ticket `n` of a day: the number repeats, created_at does not. */
const ticket = (n, dayOf, extra = {}) => ({
  order_number: String(n), tenant_id: 'pizza', created_at: `2026-12-${String(dayOf).padStart(2, '0')}T09:${String(n).padStart(2, '0')}:00Z`,
  items: [{ name: 'Margherita', qty: 1 + (n % 3) }], ...extra,
});
const serve = async (k, number) => {
  for (const s of ['accepted', 'preparing', 'ready', 'served']) {
    const ack = await k.setStatus(number, s);
    assert.equal(ack.result, 'accepted', `${number} -> ${s}: ${JSON.stringify(ack)}`);
  }
};
/** Non-empty retained-state messages for a number, as [created_seq, seq]. */
const states = (k, number) => k.orders(number).filter((m) => m.payload !== '').map(parse).map((d) => [d.created_seq, d.seq]);
/** A marker order: once its event is in, every event published before it is too (one topic, in order). */
async function barrier(tag) {
  const marker = ticket(99, 1, { order_number: `barrier-${tag}-${Date.now()}` });
  assert.equal((await pos.submit(marker)).result, 'accepted');
  await waitFor(() => kitchen.events(marker.order_number).length, { what: `the ${tag} barrier's event` });
}

test('day rollover: tickets 1-20 served, then tickets 1-20 of the next day are new orders, all 40 reach the kitchen', { timeout: 60000 }, async () => {
  day = 1;
  const first = [];
  for (let n = 1; n <= 20; n++) {
    const ack = await pos.submit(ticket(n, day));
    assert.equal(ack.result, 'accepted');
    first.push(ack.seq);
  }
  for (let n = 1; n <= 20; n++) await serve(kitchen, String(n));
  day = 2;
  const second = [];
  for (let n = 1; n <= 20; n++) {
    const ack = await pos.submit(ticket(n, day));
    assert.equal(ack.result, 'accepted', `day 2 ticket ${n}: ${JSON.stringify(ack)}`);
    assert.ok(ack.seq > Math.max(...first), 'a new seq, after every first-day change');
    second.push(ack.seq);
  }
  await waitFor(() => [...Array(20).keys()].every((i) => {
    const created = new Set(states(kitchen, String(i + 1)).map(([c]) => c));
    return created.has(first[i]) && created.has(second[i]);
  }), { what: 'both instances of every ticket at the kitchen' });
  const instances = new Set();
  for (let n = 1; n <= 20; n++) for (const [c] of states(kitchen, String(n))) instances.add(`${n}/${c}`);
  assert.equal(instances.size, 40, 'the kitchen saw 40 orders');
  for (let n = 1; n <= 20; n++) {
    const created = kitchen.events(String(n)).filter((e) => e.event === 'created');
    assert.deepEqual(created.map((e) => e.seq), [first[n - 1], second[n - 1]], `ticket ${n}: two created events`);
  }
  // Status and cancel address the open instance; the served one stays as it was.
  const ack = await kitchen.setStatus('7', 'accepted');
  assert.equal(ack.result, 'accepted');
  const now = parse(kitchen.orders('7').filter((m) => m.payload !== '').at(-1));
  assert.deepEqual([now.created_seq, now.status], [second[6], 'accepted']);
  assert.equal((await pos.submit({ order_number: '7', action: 'cancel' })).result, 'accepted');
  assert.equal((await pos.submit({ order_number: '7', action: 'cancel' })).result, 'duplicate',
    'a second cancel addresses the most recent instance, already cancelled');
  const health = await bus.health();
  assert.equal(health.body.orders_open, 19, 'the day 2 tickets but 7 (cancelled) are open; the first day is closed');
});

test('an identical re-send is a duplicate while open and after close (within the window): nothing re-published', { timeout: 30000 }, async () => {
  const order = ticket(31, 3, { table: '4', notes: 'no basil', extra: { loyalty: 'A7' } });
  const ack = await pos.submit(order);
  assert.equal(ack.result, 'accepted');
  // The same order, keys in another order: same content.
  const resend = Object.fromEntries(Object.entries(order).reverse());
  const dup = await pos.submit(resend);
  assert.deepEqual([dup.result, dup.seq, dup.status], ['duplicate', ack.seq, 'new']);
  await serve(kitchen, '31');
  const late = await pos.submit(order);
  assert.deepEqual([late.result, late.seq, late.status], ['duplicate', ack.seq, 'served'],
    'an outbox re-send after a fast kitchen served it');
  await barrier('resend');
  assert.deepEqual(states(kitchen, '31').map(([c]) => c), [ack.seq, ack.seq, ack.seq, ack.seq],
    'one instance: its creation and three status changes, no re-publish');
  assert.equal(kitchen.events('31').filter((e) => e.event === 'created').length, 1, 'one created event');
});

test('other content under an open number is order_number_in_use, over MQTT and the legacy gateway; the open order is untouched', { timeout: 30000 }, async () => {
  const order = ticket(41, 3);
  const ack = await pos.submit(order);
  assert.equal(ack.result, 'accepted');
  await kitchen.setStatus('41', 'accepted');
  const clash = await pos.submit({ ...order, items: [{ name: 'Calzone', qty: 1 }] });
  assert.equal(clash.result, 'rejected');
  assert.equal(clash.error, 'order_number_in_use');
  assert.match(clash.detail, /^order 41 is open \(accepted, seq \d+\) with other content/);

  const legacy = await legacyClient(bus, { type: 'pos', id: 'POS-ID-1', username: 'pizza-pos' });
  await legacy.waitType('connected');
  legacy.send({ type: 'new_order', payload: { ...order, customer_name: 'Someone else' }, timestamp: new Date().toISOString() });
  const lack = await legacy.waitAck('41');
  assert.equal(lack.result, 'rejected');
  assert.equal(lack.error, 'order_number_in_use');
  const from = legacy.frames.length;
  legacy.send({ type: 'new_order', payload: order, timestamp: new Date().toISOString() });
  assert.equal((await legacy.waitAck('41', { from })).result, 'duplicate', 'the same content from the legacy POS is a re-send');
  await legacy.close();

  await barrier('in-use');
  const last = parse(kitchen.orders('41').filter((m) => m.payload !== '').at(-1));
  assert.deepEqual([last.created_seq, last.status, last.items[0].name], [ack.seq, 'accepted', 'Margherita']);
  const metrics = await bus.metrics();
  assert.match(metrics, /kb_rejections_total\{reason="order_number_in_use"\} 2/);
});

test('after the dedupe window, an identical re-send of a closed order is a new order', { timeout: 30000 }, async () => {
  const short = await startBus({ env: { KB_DEDUPE_WINDOW: '1s' } });
  const p = await posDevice(short, 'pizza');
  const k = await kitchenDevice(short, 'pizza');
  try {
    const order = ticket(51, 4);
    const ack = await p.submit(order);
    await serve(k, '51');
    const closedAt = Date.now();
    assert.equal((await p.submit(order)).result, 'duplicate', 'within the window');
    // The condition is the passing of the window itself.
    await waitFor(() => Date.now() - closedAt > 1200, { timeout: 3000, interval: 50, what: 'the 1 s window to pass' });
    const again = await p.submit(order);
    assert.equal(again.result, 'accepted');
    assert.ok(again.seq > ack.seq);
    await waitMessage(k.client, (m) => m.topic.endsWith('/orders/51') && m.payload !== '' && parse(m).created_seq === again.seq,
      { what: 'the new instance at the kitchen' });
  } finally {
    p.client.end(true);
    k.client.end(true);
    await short.stop();
  }
});

test('a bad KB_DEDUPE_WINDOW stops the bridge with one line naming the setting', { timeout: 30000 }, async () => {
  const b = await startBus({ bridge: false });
  try {
    b.bridgeEnv.KB_DEDUPE_WINDOW = '6 hours';
    await b.startBridge({ waitHealthy: false });
    const exit = await b.bridge.exited;
    assert.equal(exit.code, 2);
    assert.match(b.bridgeLog(), /KB_DEDUPE_WINDOW=6 hours is not a duration: use a whole number and s, m, h or d/);
  } finally {
    await b.stop();
  }
});

test('events of every instance stay on the tenant topic in seq order', async () => {
  const seqs = kitchen.client.received.filter((m) => m.topic === eventsTopic('pizza')).map(parse).map((e) => e.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  assert.ok(seqs.length > 100);
});
