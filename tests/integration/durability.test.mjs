// durability: an acked order survives a SIGKILL of the bridge and a broker
// that lost its state; orders sent while the bridge is down wait for it; a
// broker restored from an old snapshot is corrected from the journal.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startBus, mqttClient, subscribe, posDevice, kitchenDevice, makeOrder, publish, waitFor, waitMessage,
  orderTopic, submitTopic, ackTopic, parse,
} from '../lib/harness.mjs';

let bus;
const clients = [];
beforeEach(async () => { bus = await startBus(); });
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  await bus?.stop();
});

async function openOrdersSeenBy(device, tenant) {
  const c = await mqttClient(bus, device);
  clients.push(c);
  await subscribe(c, [`outlet/tenant/${tenant}/orders/+`]);
  return c;
}

test('acked orders come back after SIGKILL of the bridge and a broker that lost its state', async () => {
  const pos = await posDevice(bus, 'pizza');
  clients.push(pos.client);
  const orders = [makeOrder('pizza'), makeOrder('pizza'), makeOrder('pizza')];
  for (const o of orders) assert.equal((await pos.submit(o)).result, 'accepted');
  const kitchen = await kitchenDevice(bus, 'pizza');
  clients.push(kitchen.client);
  assert.equal((await kitchen.setStatus(orders[0].order_number, 'cancelled')).result, 'accepted');

  await bus.killBridge();
  await bus.killBroker();
  bus.wipeBrokerState();
  await bus.startBroker();
  await bus.startBridge();

  const late = await openOrdersSeenBy('pizza-kitchen', 'pizza');
  await waitFor(() => [orders[1], orders[2]].every((o) =>
    late.received.some((m) => m.topic === orderTopic('pizza', o.order_number) && m.payload !== '')),
  { what: 'the open orders re-published from the journal' });
  assert.equal(late.received.filter((m) => m.topic === orderTopic('pizza', orders[0].order_number)).length, 0,
    'the cancelled order stays closed');
  const state = parse(late.received.find((m) => m.topic === orderTopic('pizza', orders[1].order_number)));
  assert.equal(state.customer_name, 'Budi', 'the full document came back');

  // The journal still knows them: a re-send is a duplicate with the same seq.
  const pos2 = await posDevice(bus, 'pizza');
  clients.push(pos2.client);
  const dup = await pos2.submit(orders[1]);
  assert.equal(dup.result, 'duplicate');
  assert.equal(dup.seq, state.created_seq);
  // And seq never goes backwards after the restart.
  const next = await pos2.submit(makeOrder('pizza'));
  assert.ok(next.seq > state.seq, `seq ${next.seq} after ${state.seq}`);
});

test('orders submitted while the bridge is down wait in the broker and are acked when it returns', async () => {
  await bus.stopBridge();
  const pos = await mqttClient(bus, 'pizza-pos');
  clients.push(pos);
  await subscribe(pos, [ackTopic('pizza', 'pos', 'pizza-pos')]);
  const orders = [makeOrder('pizza'), makeOrder('pizza')];
  for (const o of orders) await publish(pos, submitTopic('pizza', 'pizza-pos'), o);
  assert.equal(pos.received.length, 0, 'no ack while the bridge is down');
  await bus.startBridge();
  const acks = await waitFor(() => {
    const a = pos.received.map(parse);
    return a.length === 2 && a;
  }, { what: 'both acks' });
  assert.deepEqual(acks.map((a) => a.result), ['accepted', 'accepted']);
  assert.deepEqual(acks.map((a) => a.order_number), orders.map((o) => o.order_number));
});

test('a broker restored from an old snapshot is corrected: closed orders are cleared', async () => {
  const pos = await posDevice(bus, 'burger');
  clients.push(pos.client);
  const order = makeOrder('burger');
  await pos.submit(order);
  // A clean stop writes the snapshot while the order is open.
  await bus.stopBroker();
  await bus.startBroker();
  await bus.waitHealthy();
  const kitchen = await kitchenDevice(bus, 'burger');
  clients.push(kitchen.client);
  await waitMessage(kitchen.client, (m) => m.topic === orderTopic('burger', order.order_number));
  assert.equal((await kitchen.setStatus(order.order_number, 'cancelled')).result, 'accepted');
  // SIGKILL before the next autosave: on restart the broker holds the stale open order.
  await bus.killBroker();
  await bus.startBroker();
  await bus.waitHealthy();
  await waitFor(() => bus.bridgeLog().includes(`clearing stale retained order burger/${order.order_number}`),
    { what: 'the bridge to clear the stale order' });
  // An open marker order: once a late subscriber has its retained copy, the
  // broker has sent every retained order it holds for that subscription.
  const marker = makeOrder('burger');
  const pos2 = await posDevice(bus, 'burger');
  clients.push(pos2.client);
  await pos2.submit(marker);
  const late = await openOrdersSeenBy('burger-kitchen', 'burger');
  await waitMessage(late, (m) => m.topic === orderTopic('burger', marker.order_number), { what: 'the marker' });
  assert.equal(late.received.filter((m) => m.topic === orderTopic('burger', order.order_number) && m.payload !== '').length, 0);
});

test('health is 503 while the broker is down and 200 again after it returns', async () => {
  assert.equal((await bus.health()).status, 200);
  await bus.stopBroker();
  const down = await waitFor(async () => {
    const h = await bus.health();
    return h.status === 503 && h;
  }, { what: '/health 503' });
  assert.equal(down.body.status, 'degraded');
  assert.equal(down.body.broker, 'unreachable');
  assert.ok(down.body.timestamp);
  await bus.startBroker();
  await bus.waitHealthy();
  const up = await bus.health();
  assert.equal(up.status, 200);
  assert.equal(up.body.broker, 'connected');
  const metrics = await bus.metrics();
  assert.match(metrics, /kb_broker_reconnects_total [1-9]/);

  // Devices see the bridge state retained on outlet/bridge/health.
  const k = await mqttClient(bus, 'noodle-kitchen');
  clients.push(k);
  await subscribe(k, ['outlet/bridge/health']);
  const h = await waitMessage(k, (m) => m.topic === 'outlet/bridge/health');
  assert.equal(parse(h).status, 'ok');
  await bus.killBridge();
  await waitMessage(k, (m) => m.topic === 'outlet/bridge/health' && parse(m).status === 'offline',
    { timeout: 60000, what: 'the last will' });
});
