// legacy_gateway: clients of the old sync server, unchanged but for the URL
// (plus credentials), place and receive orders with MQTT clients on the same
// bus through ws://<bridge>:<http port>/ (authenticated mode, the default).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startBus, legacyClient, posDevice, kitchenDevice, makeOrder, parse, waitFor, waitMessage, orderTopic,
} from '../lib/harness.mjs';

let bus;
before(async () => { bus = await startBus(); });
after(async () => { await bus?.stop(); });

const now = () => new Date().toISOString();
/** An order as the old POS built it: numbers, nested and unknown fields. */
const oldOrder = (tenant, extra = {}) => makeOrder(tenant, {
  tenant_name: 'Pizza Paradise', order_type: 'dine_in', total_amount: 125000.5, payment: { method: 'cash', paid: true },
  items: [{ product_name: 'Margherita', quantity: 2, price: 50000, notes: 'no basil', modifiers: [{ name: 'cheese', price: 0 }] }],
  created_at: now(), offline: true, ...extra,
});
const connected = async (opts) => {
  const c = await legacyClient(bus, opts);
  await c.waitType('connected');
  return c;
};
/** Every field the POS sent, unchanged, plus the bridge's own. */
function assertLossless(got, sent) {
  for (const [k, v] of Object.entries(sent)) assert.deepEqual(got[k], v, `field ${k} preserved`);
  for (const k of ['status', 'seq', 'received_at', 'updated_at']) assert.ok(k in got, `bridge adds ${k}`);
}

test('connect: the connected frame, ping/pong, and /clients lists the client', async () => {
  const pos = await legacyClient(bus, { type: 'pos', id: 'POS-1735891234567-abc123def', username: 'pizza-pos' });
  const hello = await pos.waitType('connected');
  assert.deepEqual({ id: hello.payload.clientId, type: hello.payload.clientType },
    { id: 'POS-1735891234567-abc123def', type: 'pos' });
  pos.send({ type: 'ping' });
  await pos.waitType('pong');
  const clients = await (await fetch(bus.url('/clients'))).json();
  const me = clients.clients.find((c) => c.id === 'POS-1735891234567-abc123def');
  assert.equal(clients.total, clients.clients.length);
  assert.equal(me.type, 'pos');
  assert.ok(!Number.isNaN(Date.parse(me.connectedAt)));
  await pos.close();
  await waitFor(async () => !(await (await fetch(bus.url('/clients'))).json()).clients.some((c) => c.id === me.id),
    { what: 'the client to leave /clients' });
});

test('legacy POS -> legacy kitchen and MQTT kitchen, lossless, acked after durability', async () => {
  const lk = await connected({ type: 'kitchen', id: 'KITCHEN-1', username: 'pizza-kitchen' });
  const mk = await kitchenDevice(bus, 'pizza');
  const pos = await connected({ type: 'pos', id: 'POS-1', username: 'pizza-pos' });
  const order = oldOrder('pizza');
  pos.send({ type: 'new_order', payload: order, timestamp: now() });
  const ack = await pos.waitAck(order.order_number);
  assert.equal(ack.result, 'accepted');
  assert.equal(ack.error, null);
  assert.ok(ack.seq > 0);

  const frame = await lk.waitType('new_order', (f) => f.payload.order_number === order.order_number);
  assertLossless(frame.payload, order);
  assert.equal(frame.payload.seq, ack.seq);
  assert.ok(frame.timestamp);
  const retained = parse(await waitMessage(mk.client, (m) => m.topic === orderTopic('pizza', order.order_number)));
  assertLossless(retained, order);
  // The legacy frame carries exactly the document published on MQTT.
  assert.deepEqual(frame.payload, retained);
  // Re-sent (an old client retrying) is a duplicate and is not announced again.
  const [seenK, seenP] = [lk.frames.length, pos.frames.length];
  pos.send({ type: 'new_order', payload: order, timestamp: now() });
  const dup = await pos.waitAck(order.order_number, { from: seenP });
  assert.equal(dup.result, 'duplicate');
  assert.equal(dup.seq, ack.seq);
  lk.send({ type: 'ping' });
  await lk.waitType('pong', () => true, { from: seenK });
  assert.equal(lk.frames.slice(seenK).filter((f) => f.type === 'new_order').length, 0);
  await Promise.all([lk.close(), pos.close(), mk.client.endAsync()]);
});

test('MQTT POS -> legacy kitchen with the payload preserved field for field', async () => {
  const lk = await connected({ type: 'kitchen', username: 'burger-kitchen' });
  const pos = await posDevice(bus, 'burger');
  const order = oldOrder('burger', { tenant_name: 'Burger Station', 'odd key': ['ü', 1e21, null] });
  const ack = await pos.submit(order);
  assert.equal(ack.result, 'accepted');
  const frame = await lk.waitType('new_order', (f) => f.payload.order_number === order.order_number);
  assertLossless(frame.payload, order);
  assert.equal(frame.payload.seq, ack.seq);
  await Promise.all([lk.close(), pos.client.endAsync()]);
});

test('status updates both ways; a kitchen order_ack accepts a new order', async () => {
  const lpos = await connected({ type: 'pos', username: 'noodle-pos' });
  const lk = await connected({ type: 'kitchen', username: 'noodle-kitchen' });
  const mk = await kitchenDevice(bus, 'noodle');
  const mpos = await posDevice(bus, 'noodle');
  const order = oldOrder('noodle');
  assert.equal((await mpos.submit(order)).result, 'accepted');
  await lk.waitType('new_order', (f) => f.payload.order_number === order.order_number);
  const n = order.order_number;
  const update = (client, status) => client.waitType('order_status_update',
    (f) => f.payload.order_number === n && f.payload.status === status, { what: `${status} for ${n}` });

  // Legacy kitchen receipt -> accepted, seen by MQTT and by every legacy client of the tenant.
  lk.send({ type: 'order_ack', payload: { order_number: n } });
  assert.equal((await lk.waitAck(n)).result, 'accepted');
  await waitFor(() => mk.events(n).find((e) => e.status === 'accepted'), { what: 'the accepted event on MQTT' });
  const up = await update(lpos, 'accepted');
  assert.ok(up.payload.updated_at && up.payload.seq);
  // A second receipt changes nothing.
  lk.send({ type: 'ack', payload: { order_number: n } });
  await lk.waitFrame((f) => f.type === 'ack' && f.payload.result === 'duplicate', { what: 'a duplicate ack' });

  // MQTT kitchen -> legacy clients.
  assert.equal((await mk.setStatus(n, 'preparing')).result, 'accepted');
  await update(lpos, 'preparing');
  await update(lk, 'preparing');

  // Legacy kitchen order_update -> MQTT (retained state and event) and legacy POS.
  lk.send({ type: 'order_update', payload: { order_number: n, status: 'ready', updated_at: now() } });
  await update(lpos, 'ready');
  await waitFor(() => mk.orders(n).some((m) => m.payload && parse(m).status === 'ready'), { what: 'retained ready' });

  // Legacy POS order_update closes it; MQTT sees the retained state cleared.
  lpos.send({ type: 'order_update', payload: { order_number: n, status: 'served', updated_at: now() } });
  const served = await lpos.waitFrame((f) => f.type === 'ack' && f.payload.order_number === n && f.payload.status === 'served',
    { what: 'the served ack' });
  assert.equal(served.payload.result, 'accepted');
  await update(lk, 'served');
  await waitMessage(mk.client, (m) => m.topic === orderTopic('noodle', n) && m.payload === '');

  // An illegal change is rejected with the contract's reason.
  lk.send({ type: 'order_update', payload: { order_number: n, status: 'preparing' } });
  const rej = await lk.waitFrame((f) => f.type === 'ack' && f.payload.result === 'rejected', { what: 'a rejection' });
  assert.equal(rej.payload.error, 'order_closed');
  assert.ok(rej.payload.detail);
  await Promise.all([lpos.close(), lk.close(), mk.client.endAsync(), mpos.client.endAsync()]);
});

test('a late legacy kitchen receives every open order of its tenant once', async () => {
  const pos = await posDevice(bus, 'pizza');
  const mk = await kitchenDevice(bus, 'pizza');
  const orders = [oldOrder('pizza'), oldOrder('pizza'), oldOrder('pizza')];
  for (const o of orders) assert.equal((await pos.submit(o)).result, 'accepted');
  assert.equal((await mk.setStatus(orders[1].order_number, 'cancelled')).result, 'accepted');
  assert.equal((await mk.setStatus(orders[2].order_number, 'accepted')).result, 'accepted');
  const burger = await posDevice(bus, 'burger');
  const other = oldOrder('burger');
  assert.equal((await burger.submit(other)).result, 'accepted');

  const late = await connected({ type: 'kitchen', username: 'pizza-kitchen' });
  late.send({ type: 'ping' });
  await late.waitType('pong'); // frames arrive in order: the backlog came before
  const numbers = late.frames.filter((f) => f.type === 'new_order').map((f) => f.payload.order_number);
  for (const o of [orders[0], orders[2]]) assert.equal(numbers.filter((x) => x === o.order_number).length, 1, `${o.order_number} once`);
  assert.ok(!numbers.includes(orders[1].order_number), 'the cancelled order is not sent');
  assert.ok(!numbers.includes(other.order_number), 'no other tenant\'s order');
  const second = late.frames.find((f) => f.type === 'new_order' && f.payload.order_number === orders[2].order_number);
  assert.equal(second.payload.status, 'accepted', 'the backlog carries the current state');
  assertLossless(late.frames.find((f) => f.payload?.order_number === orders[0].order_number).payload, orders[0]);
  await Promise.all([late.close(), pos.client.endAsync(), mk.client.endAsync(), burger.client.endAsync()]);
});

test('tenant isolation: a device sees and touches only its own tenant', async () => {
  const pizzaK = await connected({ type: 'kitchen', username: 'pizza-kitchen' });
  const burgerK = await connected({ type: 'kitchen', username: 'burger-kitchen' });
  const burgerP = await connected({ type: 'pos', username: 'burger-pos' });
  const pos = await connected({ type: 'pos', username: 'pizza-pos' });
  const order = oldOrder('pizza');
  pos.send({ type: 'new_order', payload: order });
  assert.equal((await pos.waitAck(order.order_number)).result, 'accepted');
  await pizzaK.waitType('new_order', (f) => f.payload.order_number === order.order_number);

  // burger-pos cannot place an order for pizza, nor change pizza's order.
  const forged = oldOrder('pizza');
  burgerP.send({ type: 'new_order', payload: forged });
  const rej = await burgerP.waitAck(forged.order_number);
  assert.equal(rej.result, 'rejected');
  assert.equal(rej.error, 'tenant_mismatch');
  burgerK.send({ type: 'order_update', payload: { order_number: order.order_number, status: 'cancelled' } });
  assert.equal((await burgerK.waitAck(order.order_number)).error, 'unknown_order');
  burgerK.send({ type: 'ping' });
  await burgerK.waitType('pong');
  assert.ok(!burgerK.frames.some((f) => f.payload?.order_number === order.order_number && f.type !== 'ack'),
    'burger-kitchen never sees pizza\'s order');
  assert.ok(!burgerK.frames.some((f) => f.payload?.tenant_id === 'pizza'));
  await Promise.all([pizzaK.close(), burgerK.close(), burgerP.close(), pos.close()]);
});

test('authentication: credentials by query, HTTP Basic or headers; wrong ones are refused', async () => {
  const basic = await legacyClient(bus, { type: 'kitchen', username: 'pizza-kitchen', basic: true });
  assert.equal((await basic.waitType('connected')).payload.tenant, 'pizza');
  await basic.close();
  // Non-browser old clients sent client-type and client-id as headers.
  const hdr = await legacyClient(bus, { username: 'pizza-kitchen', headers: { 'client-type': 'kitchen', 'client-id': 'KITCHEN-H' } });
  assert.equal((await hdr.waitType('connected')).payload.clientId, 'KITCHEN-H');
  await hdr.close();

  const refusals = [
    [{ type: 'kitchen' }, /unauthorized/],
    [{ type: 'kitchen', username: 'pizza-kitchen', password: 'wrong' }, /unauthorized/],
    [{ type: 'kitchen', username: 'pizza-kitchen', password: 'wrong', basic: true }, /unauthorized/],
    [{ type: 'kitchen', username: 'nobody' }, /unauthorized/],
    [{ type: 'kitchen', username: 'admin' }, /unauthorized/],
    [{ type: 'pos', username: 'pizza-kitchen' }, /role/],
    [{ type: 'waiter', username: 'pizza-kitchen' }, /client-type/],
    [{ type: 'kitchen', id: 'bad id <script>', username: 'pizza-kitchen' }, /client-id/],
  ];
  for (const [opts, why] of refusals) {
    const c = await legacyClient(bus, opts);
    const closed = await c.waitClose();
    assert.equal(closed.code, 1008, JSON.stringify(opts));
    assert.match(closed.reason, why);
    assert.ok(!c.frames.some((f) => f.type === 'connected'), 'never identified');
  }
  // Only / upgrades.
  await assert.rejects(legacyClient(bus, { type: 'kitchen', username: 'pizza-kitchen', path: '/other' }));
  assert.equal((await bus.health()).status, 200);
});
