// order_flow: an order from a POS reaches its tenant's kitchens retained at
// QoS 1, is acked, moves through its lifecycle, and closes cleanly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startBus, mqttClient, subscribe, waitMessage, posDevice, kitchenDevice, makeOrder, parse,
  orderTopic, eventsTopic, waitFor,
} from '../lib/harness.mjs';

let bus;
before(async () => { bus = await startBus(); });
after(async () => { await bus?.stop(); });

test('an order from pizza-pos reaches pizza-kitchen retained at QoS 1 and is acked', async () => {
  const kitchen = await kitchenDevice(bus, 'pizza');
  const pos = await posDevice(bus, 'pizza');
  const order = makeOrder('pizza', { unknown_field: { keep: [1, 'two'] }, notes: 'no onions' });
  const ack = await pos.submit(order);
  assert.equal(ack.result, 'accepted');
  assert.equal(ack.status, 'new');
  assert.ok(Number.isInteger(ack.seq) && ack.seq > 0);

  const msg = await waitMessage(kitchen.client, (m) => m.topic === orderTopic('pizza', order.order_number));
  assert.equal(msg.qos, 1);
  const state = parse(msg);
  for (const [k, v] of Object.entries(order)) assert.deepEqual(state[k], v, `field ${k} preserved`);
  assert.equal(state.status, 'new');
  assert.equal(state.seq, ack.seq);
  assert.ok(state.received_at && state.updated_at);

  const created = await waitFor(() => kitchen.events(order.order_number).find((e) => e.event === 'created'),
    { what: 'the created event' });
  assert.equal(created.seq, ack.seq);
  assert.equal(created.order.unknown_field.keep[1], 'two');

  // A subscriber that comes later gets the open order as a retained message.
  const late = await mqttClient(bus, 'pizza-kitchen');
  await subscribe(late, ['outlet/tenant/pizza/orders/+']);
  const retained = await waitMessage(late, (m) => m.topic === orderTopic('pizza', order.order_number));
  assert.equal(retained.retain, true);
  assert.equal(parse(retained).order_number, order.order_number);
  await Promise.all([kitchen.client.endAsync(), pos.client.endAsync(), late.endAsync()]);
});

test('every ack follows a journal commit, and a burst shares commits (kb_journal_commits_total)', async () => {
  const commits = () => bus.metric('kb_journal_commits_total');
  const pos = await posDevice(bus, 'burger');
  const start = await commits();
  for (let i = 0; i < 3; i++) assert.equal((await pos.submit(makeOrder('burger'))).result, 'accepted');
  const afterSequential = await commits();
  assert.ok(afterSequential - start >= 3, `3 orders acked one after another need 3 commits, saw ${afterSequential - start}`);
  const acks = await Promise.all(Array.from({ length: 30 }, () => pos.submit(makeOrder('burger'))));
  assert.ok(acks.every((a) => a.result === 'accepted'));
  const burst = (await commits()) - afterSequential;
  assert.ok(burst >= 1 && burst <= 30, `30 orders sent at once took ${burst} commits`);
  await pos.client.endAsync();
});

test('a late kitchen receives every open order, and only open ones', async () => {
  const pos = await posDevice(bus, 'noodle');
  const kitchen = await kitchenDevice(bus, 'noodle');
  const orders = [makeOrder('noodle'), makeOrder('noodle'), makeOrder('noodle')];
  for (const o of orders) assert.equal((await pos.submit(o)).result, 'accepted');
  assert.equal((await kitchen.setStatus(orders[1].order_number, 'cancelled')).result, 'accepted');

  const late = await mqttClient(bus, 'noodle-kitchen');
  await subscribe(late, ['outlet/tenant/noodle/orders/+']);
  await waitFor(() => [orders[0], orders[2]].every((o) =>
    late.received.some((m) => m.topic === orderTopic('noodle', o.order_number))), { what: 'both open orders' });
  assert.equal(late.received.filter((m) => m.topic === orderTopic('noodle', orders[1].order_number)).length, 0,
    'the cancelled order is not retained');
  await Promise.all([kitchen.client.endAsync(), pos.client.endAsync(), late.endAsync()]);
});

test('status lifecycle: every step is acked, announced, and closing clears the retained state', async () => {
  const pos = await posDevice(bus, 'burger');
  const kitchen = await kitchenDevice(bus, 'burger');
  const order = makeOrder('burger');
  const created = await pos.submit(order);
  let lastSeq = created.seq;
  for (const status of ['accepted', 'preparing', 'ready', 'preparing', 'ready', 'served']) {
    const ack = await kitchen.setStatus(order.order_number, status);
    assert.equal(ack.result, 'accepted', `${status}: ${JSON.stringify(ack)}`);
    assert.equal(ack.status, status);
    assert.ok(ack.seq > lastSeq, 'seq increases with every change');
    lastSeq = ack.seq;
  }
  // Served: the retained message is cleared (an empty retained publish).
  await waitMessage(kitchen.client, (m) => m.topic === orderTopic('burger', order.order_number) && m.payload === '');
  const events = await waitFor(() => {
    const e = kitchen.events(order.order_number);
    return e.length === 7 && e;
  }, { what: 'seven events' });
  assert.deepEqual(events.map((e) => e.event), ['created', 'status', 'status', 'status', 'status', 'status', 'closed']);
  assert.deepEqual(events.map((e) => e.seq), [...events.map((e) => e.seq)].sort((a, b) => a - b));

  const again = await kitchen.setStatus(order.order_number, 'preparing');
  assert.equal(again.result, 'rejected');
  assert.equal(again.error, 'order_closed');
  await Promise.all([kitchen.client.endAsync(), pos.client.endAsync()]);
});

test('a POS may cancel its order; the kitchen is told at once', async () => {
  const pos = await posDevice(bus, 'pizza');
  const kitchen = await kitchenDevice(bus, 'pizza');
  const order = makeOrder('pizza');
  await pos.submit(order);
  const ack = await pos.submit({ order_number: order.order_number, action: 'cancel' });
  assert.equal(ack.result, 'accepted');
  assert.equal(ack.status, 'cancelled');
  const closed = await waitFor(() => kitchen.events(order.order_number).find((e) => e.event === 'closed'),
    { what: 'the closed event' });
  assert.equal(closed.status, 'cancelled');
  assert.equal(closed.previous, 'new');
  const again = await pos.submit({ order_number: order.order_number, action: 'cancel' });
  assert.equal(again.result, 'duplicate', 'a re-sent cancel is harmless');
  await Promise.all([kitchen.client.endAsync(), pos.client.endAsync()]);
});

test('a re-sent order is a duplicate with the same seq and is not announced again', async () => {
  const pos = await posDevice(bus, 'pizza');
  const kitchen = await kitchenDevice(bus, 'pizza');
  const order = makeOrder('pizza');
  const first = await pos.submit(order);
  // An outbox re-send is the same order, byte for byte (other content under an
  // open number is order_number_in_use: integration.order_identity).
  const second = await pos.submit(order);
  assert.equal(second.result, 'duplicate');
  assert.equal(second.seq, first.seq);
  // A marker order sent after the duplicate: once it has arrived, anything
  // the duplicate caused would have arrived before it.
  const marker = makeOrder('pizza');
  await pos.submit(marker);
  await waitFor(() => kitchen.events(marker.order_number).length === 1, { what: 'the marker event' });
  assert.equal(kitchen.events(order.order_number).length, 1, 'one created event only');
  assert.equal(kitchen.orders(order.order_number).length, 1, 'one retained state publish only');
  await Promise.all([kitchen.client.endAsync(), pos.client.endAsync()]);
});

test('the same order over MQTT over WebSockets (what browsers use)', async () => {
  const kitchen = await kitchenDevice(bus, 'pizza', 'pizza-kitchen', { transport: 'ws' });
  const pos = await posDevice(bus, 'pizza', 'pizza-pos', { transport: 'ws' });
  const order = makeOrder('pizza');
  assert.equal((await pos.submit(order)).result, 'accepted');
  await waitMessage(kitchen.client, (m) => m.topic === orderTopic('pizza', order.order_number));
  await Promise.all([kitchen.client.endAsync(), pos.client.endAsync()]);
});

test('events topic carries only the tenant\'s own changes', async () => {
  const kitchen = await kitchenDevice(bus, 'noodle');
  const pizzaPos = await posDevice(bus, 'pizza');
  const noodlePos = await posDevice(bus, 'noodle');
  const p = makeOrder('pizza');
  const n = makeOrder('noodle');
  await pizzaPos.submit(p);
  await noodlePos.submit(n);
  await waitFor(() => kitchen.events(n.order_number).length === 1, { what: 'the noodle event' });
  assert.equal(kitchen.client.received.filter((m) => m.payload.includes(p.order_number)).length, 0);
  assert.ok(kitchen.client.received.every((m) => m.topic.startsWith('outlet/tenant/noodle/') || m.topic === eventsTopic('noodle')));
  await Promise.all([kitchen.client.endAsync(), pizzaPos.client.endAsync(), noodlePos.client.endAsync()]);
});
