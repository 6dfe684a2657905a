// access_control: the broker itself keeps tenants apart. A device cannot
// subscribe to another tenant's topics, cannot publish outside its own submit
// or status topic, and nobody gets in without a registry identity.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startBus, mqttClient, subscribe, posDevice, kitchenDevice, makeOrder, publish, waitFor,
  orderTopic, submitTopic, statusTopic,
} from '../lib/harness.mjs';

let bus;
before(async () => { bus = await startBus(); });
after(async () => { await bus?.stop(); });

const REFUSED_V5 = 0x87;
const REFUSED_V311 = 0x80;

test('burger-kitchen can neither subscribe to nor receive pizza orders', async () => {
  const spy = await mqttClient(bus, 'burger-kitchen');
  const filters = ['outlet/tenant/pizza/orders/+', 'outlet/tenant/pizza/events', 'outlet/#', '#',
    'outlet/tenant/+/orders/+', 'outlet/tenant/pizza/#', '$SYS/#', '$CONTROL/#',
    'outlet/tenant/pizza/pos/pizza-pos/ack'];
  const granted = await subscribe(spy, filters);
  assert.deepEqual(granted, filters.map(() => REFUSED_V5), 'every foreign filter refused with 0x87');

  // MQTT 3.1.1 gets 0x80 for the same refusal.
  const old = await mqttClient(bus, 'burger-kitchen', 'burger-kitchen', { protocolVersion: 4 });
  assert.deepEqual(await subscribe(old, ['outlet/tenant/pizza/orders/+']), [REFUSED_V311]);

  // Its own tenant's filter is granted, and a pizza order never shows up there.
  assert.deepEqual(await subscribe(spy, ['outlet/tenant/burger/orders/+']), [1]);
  const kitchen = await kitchenDevice(bus, 'pizza');
  const pos = await posDevice(bus, 'pizza');
  const order = makeOrder('pizza');
  await pos.submit(order);
  await waitFor(() => kitchen.orders(order.order_number).length === 1, { what: 'the pizza kitchen to see it' });
  assert.equal(spy.received.length + old.received.length, 0, 'nothing crossed tenants');
  await Promise.all([spy.endAsync(), old.endAsync(), kitchen.client.endAsync(), pos.client.endAsync()]);
});

test('pizza-pos cannot publish into burger topics nor onto orders directly', async () => {
  const pos = await mqttClient(bus, 'pizza-pos');
  const burgerKitchen = await kitchenDevice(bus, 'burger');
  const order = makeOrder('burger');
  const forbidden = [
    submitTopic('burger', 'burger-pos'),
    submitTopic('burger', 'pizza-pos'),
    orderTopic('pizza', 'FORGED-1'),
    orderTopic('burger', order.order_number),
    statusTopic('pizza', 'pizza-kitchen'),
    'outlet/tenant/burger/events',
    'outlet/bridge/health',
  ];
  for (const topic of forbidden) {
    const packet = await publish(pos, topic, order);
    assert.equal(packet?.reasonCode, REFUSED_V5, `publish to ${topic} refused`);
  }
  // A kitchen may not submit orders either.
  const kitchenAsPos = await mqttClient(bus, 'pizza-kitchen');
  assert.equal((await publish(kitchenAsPos, submitTopic('pizza', 'pizza-pos'), makeOrder('pizza')))?.reasonCode, REFUSED_V5);
  // Control round: a legitimate burger order arrives, the forged one never did.
  const burgerPos = await posDevice(bus, 'burger');
  const real = makeOrder('burger');
  await burgerPos.submit(real);
  await waitFor(() => burgerKitchen.orders(real.order_number).length === 1, { what: 'the real order' });
  assert.equal(burgerKitchen.orders(order.order_number).length, 0);
  await Promise.all([pos.endAsync(), kitchenAsPos.endAsync(), burgerKitchen.client.endAsync(), burgerPos.client.endAsync()]);
});

test('anonymous, unknown and wrong-password connections are refused', async () => {
  const attempts = [
    { username: undefined, password: undefined },
    { username: 'pizza-pos', password: 'wrong' },
    { username: 'nobody', password: 'nobody' },
    { username: 'kb-bridge', password: 'kb-bridge' },
  ];
  for (const a of attempts) {
    await assert.rejects(mqttClient(bus, a.username, a.password), /Not authorized|Bad User Name or Password|not authori/i,
      `refused: ${a.username}`);
    await assert.rejects(mqttClient(bus, a.username, a.password, { transport: 'ws' }), /Not authorized|Bad User Name or Password|not authori/i,
      `refused over WebSockets: ${a.username}`);
  }
});

test('each device learns its identity from its own info topic only', async () => {
  const c = await mqttClient(bus, 'noodle-kitchen');
  assert.deepEqual(await subscribe(c, ['outlet/device/noodle-kitchen/info', 'outlet/device/pizza-kitchen/info']), [1, REFUSED_V5]);
  const info = await waitFor(() => c.received.find((m) => m.topic === 'outlet/device/noodle-kitchen/info'), { what: 'device info' });
  assert.deepEqual(
    (({ device, role, tenant, tenant_name }) => ({ device, role, tenant, tenant_name }))(JSON.parse(info.payload)),
    { device: 'noodle-kitchen', role: 'kitchen', tenant: 'noodle', tenant_name: 'Noodle House' });
  await c.endAsync();
});

test('admin reads everything and writes nothing', async () => {
  const admin = await mqttClient(bus, 'admin');
  assert.deepEqual(await subscribe(admin, ['outlet/#']), [1]);
  const pos = await posDevice(bus, 'noodle');
  const order = makeOrder('noodle');
  await pos.submit(order);
  await waitFor(() => admin.received.some((m) => m.topic === orderTopic('noodle', order.order_number)), { what: 'admin to see it' });
  assert.equal((await publish(admin, submitTopic('noodle', 'noodle-pos'), makeOrder('noodle')))?.reasonCode, REFUSED_V5);
  await Promise.all([admin.endAsync(), pos.client.endAsync()]);
});
