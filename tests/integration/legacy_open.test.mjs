// legacy_open: the legacy gateway in open mode behaves like the old sync
// server: anonymous clients, a kitchen may filter by tenant=<id> or get
// every order; /health and the log say the gateway is open.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import {
  startBus, legacyClient, posDevice, kitchenDevice, makeOrder, readJson, DEMO_REGISTRY, waitFor, parse, waitMessage,
  orderTopic,
} from '../lib/harness.mjs';

let bus;
before(async () => {
  bus = await startBus({ registry: { ...readJson(DEMO_REGISTRY), legacy: { mode: 'open' } } });
});
after(async () => { await bus?.stop(); });

const connected = async (opts) => {
  const c = await legacyClient(bus, opts);
  await c.waitType('connected');
  return c;
};

test('open mode is announced loudly and in /health', async () => {
  const { body } = await bus.health();
  assert.equal(body.legacy_mode, 'open');
  assert.match(bus.bridgeLog(), /LEGACY GATEWAY IN OPEN MODE/);
});

test('anonymous clients work as with the old server, in both directions with MQTT', async () => {
  const all = await connected({ type: 'kitchen', id: 'KITCHEN-ALL' });
  const pizzaOnly = await connected({ type: 'kitchen', id: 'KITCHEN-PIZZA', tenant: 'pizza' });
  const pos = await connected({ type: 'pos', id: 'POS-1' });
  const mk = await kitchenDevice(bus, 'burger');

  // The order names its tenant; it goes through the same validation and journal.
  const burger = makeOrder('burger', { legacy_only_field: { x: 1 } });
  pos.send({ type: 'new_order', payload: burger, timestamp: new Date().toISOString() });
  assert.equal((await pos.waitAck(burger.order_number)).result, 'accepted');
  const got = await all.waitType('new_order', (f) => f.payload.order_number === burger.order_number);
  assert.deepEqual(got.payload.legacy_only_field, { x: 1 });
  const retained = parse(await waitMessage(mk.client, (m) => m.topic === orderTopic('burger', burger.order_number)));
  assert.deepEqual(retained, got.payload);
  const created = await waitFor(() => mk.events(burger.order_number).find((e) => e.event === 'created'),
    { what: 'the created event' });
  assert.equal(created.by, 'legacy-pos');

  // An MQTT order of pizza reaches both kitchens; burger's reached only the unfiltered one.
  const mpos = await posDevice(bus, 'pizza');
  const pizza = makeOrder('pizza');
  assert.equal((await mpos.submit(pizza)).result, 'accepted');
  await pizzaOnly.waitType('new_order', (f) => f.payload.order_number === pizza.order_number);
  await all.waitType('new_order', (f) => f.payload.order_number === pizza.order_number);
  assert.ok(!pizzaOnly.frames.some((f) => f.payload?.order_number === burger.order_number), 'tenant filter holds');

  // Status changes by order number alone: the gateway finds the order's tenant.
  all.send({ type: 'order_update', payload: { order_number: pizza.order_number, status: 'accepted' } });
  assert.equal((await all.waitAck(pizza.order_number)).result, 'accepted');
  await pos.waitType('order_status_update', (f) => f.payload.order_number === pizza.order_number);
  pos.send({ type: 'order_update', payload: { order_number: burger.order_number, status: 'cancelled' } });
  assert.equal((await pos.waitAck(burger.order_number)).result, 'accepted');
  await waitMessage(mk.client, (m) => m.topic === orderTopic('burger', burger.order_number) && m.payload === '');

  // An order for no tenant of the outlet, and an unknown order, are refused with reasons.
  const stray = makeOrder('sushi');
  pos.send({ type: 'new_order', payload: stray });
  assert.equal((await pos.waitAck(stray.order_number)).error, 'tenant_mismatch');
  pos.send({ type: 'order_update', payload: { order_number: 'NO-SUCH-1', status: 'ready' } });
  assert.equal((await pos.waitAck('NO-SUCH-1')).error, 'unknown_order');

  const clients = await (await fetch(bus.url('/clients'))).json();
  assert.ok(['KITCHEN-ALL', 'KITCHEN-PIZZA', 'POS-1'].every((id) => clients.clients.some((c) => c.id === id)));
  await Promise.all([all.close(), pizzaOnly.close(), pos.close(), mk.client.endAsync(), mpos.client.endAsync()]);
});

test('a late anonymous kitchen gets the backlog of its declared tenant, or of all', async () => {
  const mpos = await posDevice(bus, 'noodle');
  const o = makeOrder('noodle');
  assert.equal((await mpos.submit(o)).result, 'accepted');
  const noodle = await connected({ type: 'kitchen', tenant: 'noodle' });
  const pizza = await connected({ type: 'kitchen', tenant: 'pizza' });
  const all = await connected({ type: 'kitchen' });
  for (const c of [noodle, pizza, all]) { c.send({ type: 'ping' }); await c.waitType('pong'); }
  const count = (c) => c.frames.filter((f) => f.type === 'new_order' && f.payload.order_number === o.order_number).length;
  assert.equal(count(noodle), 1);
  assert.equal(count(all), 1);
  assert.equal(count(pizza), 0);
  assert.ok(pizza.frames.filter((f) => f.type === 'new_order').every((f) => f.payload.tenant_id === 'pizza'));
  await Promise.all([noodle.close(), pizza.close(), all.close(), mpos.client.endAsync()]);
});

test('open mode still needs a client-type, a known tenant, and honours credentials', async () => {
  for (const [opts, why] of [[{}, /client-type/], [{ type: 'kitchen', tenant: 'sushi' }, /unknown tenant/],
    [{ type: 'kitchen', username: 'pizza-kitchen', password: 'wrong' }, /unauthorized/]]) {
    const c = await legacyClient(bus, opts);
    const closed = await c.waitClose();
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, why);
  }
  // With credentials the device's registry entry decides, as in authenticated mode.
  const dev = await connected({ type: 'kitchen', username: 'burger-kitchen' });
  assert.equal(dev.frames.find((f) => f.type === 'connected').payload.tenant, 'burger');
  await dev.close();
});

test('leaving open mode (registry reload) closes anonymous clients with a reason, devices stay', async () => {
  const anon = await connected({ type: 'kitchen', id: 'ANON-K' });
  const dev = await connected({ type: 'kitchen', id: 'DEV-K', username: 'pizza-kitchen' });
  writeFileSync(bus.registry, JSON.stringify({ ...readJson(DEMO_REGISTRY), legacy: { mode: 'authenticated' } }));
  bus.bridge.kill('SIGHUP');
  const closed = await anon.waitClose();
  assert.equal(closed.code, 1008);
  assert.match(closed.reason, /requires credentials/);
  assert.equal((await bus.health()).body.legacy_mode, 'authenticated');
  const from = dev.frames.length;
  dev.send({ type: 'ping' });
  await dev.waitType('pong', () => true, { from });
  await dev.close();
});
