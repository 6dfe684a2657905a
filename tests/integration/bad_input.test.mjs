// bad_input: every kind of bad message gets a rejection with a reason on the
// sender's ack topic, is logged once, and nothing else is affected.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startBus, mqttClient, posDevice, kitchenDevice, makeOrder, publish, waitFor, submitTopic,
} from '../lib/harness.mjs';

let bus, pos, kitchen;
before(async () => {
  bus = await startBus();
  pos = await posDevice(bus, 'pizza');
  kitchen = await kitchenDevice(bus, 'pizza');
});
after(async () => {
  await Promise.all([pos?.client.endAsync(), kitchen?.client.endAsync()]);
  await bus?.stop();
});

const items = [{ name: 'Margherita', qty: 1 }];
const many = Array.from({ length: 201 }, () => ({ name: 'x', qty: 1 }));
const cases = [
  ['malformed JSON', '{"order_number": "B-1", ', null, 'malformed_json'],
  ['trailing garbage', '{"order_number":"B-1a","tenant_id":"pizza","items":[]} xyz', null, 'malformed_json'],
  ['a JSON array', '[1,2,3]', null, 'not_an_object'],
  ['a JSON string', '"hello"', null, 'not_an_object'],
  ['an empty payload', '', null, 'malformed_json'],
  ['missing order_number', { tenant_id: 'pizza', items }, null, 'missing_field'],
  ['empty order_number', { order_number: '', tenant_id: 'pizza', items }, null, 'invalid_field'],
  ['over-long order_number', { order_number: 'X'.repeat(65), tenant_id: 'pizza', items }, null, 'invalid_field'],
  ['order_number with a slash', { order_number: 'a/b', tenant_id: 'pizza', items }, null, 'invalid_field'],
  ['order_number with a wildcard', { order_number: 'a+#', tenant_id: 'pizza', items }, null, 'invalid_field'],
  ['missing tenant_id', { order_number: 'B-2', items }, 'B-2', 'missing_field'],
  ['another tenant', { order_number: 'B-3', tenant_id: 'burger', items }, 'B-3', 'tenant_mismatch'],
  ['a numeric tenant that is not ours', { order_number: 'B-4', tenant_id: 7, items }, 'B-4', 'tenant_mismatch'],
  ['missing items', { order_number: 'B-5', tenant_id: 'pizza' }, 'B-5', 'missing_field'],
  ['empty items', { order_number: 'B-6', tenant_id: 'pizza', items: [] }, 'B-6', 'invalid_field'],
  ['201 items', { order_number: 'B-7', tenant_id: 'pizza', items: many }, 'B-7', 'invalid_field'],
  ['an item without a name', { order_number: 'B-8', tenant_id: 'pizza', items: [{ qty: 1 }] }, 'B-8', 'missing_field'],
  ['an item with an empty name', { order_number: 'B-8b', tenant_id: 'pizza', items: [{ name: '', qty: 1 }] }, 'B-8b', 'invalid_field'],
  ['qty 0', { order_number: 'B-9', tenant_id: 'pizza', items: [{ name: 'a', qty: 0 }] }, 'B-9', 'invalid_field'],
  ['qty 1.5', { order_number: 'B-10', tenant_id: 'pizza', items: [{ name: 'a', quantity: 1.5 }] }, 'B-10', 'invalid_field'],
  ['qty as text', { order_number: 'B-11', tenant_id: 'pizza', items: [{ name: 'a', qty: '2' }] }, 'B-11', 'invalid_field'],
  ['an unknown priority', { order_number: 'B-12', tenant_id: 'pizza', items, priority: 'asap' }, 'B-12', 'invalid_field'],
  ['over-long notes', { order_number: 'B-13', tenant_id: 'pizza', items, notes: 'n'.repeat(2001) }, 'B-13', 'invalid_field'],
  ['an unknown action', { order_number: 'B-14', action: 'refund' }, 'B-14', 'unknown_action'],
  ['a payload over the 64 KiB order limit', { order_number: 'B-15', tenant_id: 'pizza', items, blob: 'z'.repeat(70000) }, null, 'payload_too_large'],
];

for (const [name, body, number, code] of cases) {
  test(`rejected: ${name}`, async () => {
    const ack = await pos.submit(body, number);
    assert.equal(ack.result, 'rejected');
    assert.equal(ack.error, code, ack.detail);
    assert.ok(ack.detail && ack.detail.length > 5, 'a human reason');
  });
}

test('status changes: unknown status, illegal transition, unknown order, cancel of a closed order', async () => {
  const order = makeOrder('pizza');
  await pos.submit(order);
  const n = order.order_number;
  let ack = await kitchen.setStatus(n, 'cooking');
  assert.equal(ack.error, 'unknown_status');
  ack = await kitchen.setStatus(n, 'ready');
  assert.equal(ack.error, 'illegal_transition');
  assert.match(ack.detail, /new -> ready/);
  ack = await kitchen.setStatus('NO-SUCH-ORDER', 'accepted');
  assert.equal(ack.error, 'unknown_order');
  for (const s of ['accepted', 'preparing', 'ready', 'served']) assert.equal((await kitchen.setStatus(n, s)).result, 'accepted');
  ack = await pos.submit({ order_number: n, action: 'cancel' });
  assert.equal(ack.result, 'rejected');
  assert.equal(ack.error, 'order_closed');
  ack = await kitchen.setStatus(n, 'new');
  assert.equal(ack.error, 'order_closed');
});

test('a message over the broker\'s 256 KiB limit: the broker drops that connection; the bridge carries on', async () => {
  const other = await mqttClient(bus, 'pizza-pos');
  const closed = new Promise((resolve) => other.once('close', resolve));
  const huge = JSON.stringify({ order_number: 'HUGE-1', tenant_id: 'pizza', items, blob: 'z'.repeat(300000) });
  publish(other, submitTopic('pizza', 'pizza-pos'), huge).catch(() => {});
  await closed;
  other.end(true);
  const order = makeOrder('pizza');
  assert.equal((await pos.submit(order)).result, 'accepted');
});

test('after all of that the bridge is healthy, other orders flow, and each rejection was logged once', async () => {
  const order = makeOrder('pizza');
  assert.equal((await pos.submit(order)).result, 'accepted');
  await waitFor(() => kitchen.orders(order.order_number).length === 1, { what: 'a good order after bad ones' });
  const { status, body } = await bus.health();
  assert.equal(status, 200);
  assert.equal(body.status, 'ok');
  const log = bus.bridgeLog();
  assert.equal(log.match(/rejected tenant_mismatch from pizza-pos \(order B-3\)/g)?.length, 1);
  assert.equal(log.match(/rejected malformed_json/g)?.length, 3);
  const metrics = await bus.metrics();
  assert.match(metrics, /kb_rejections_total\{reason="invalid_field"\} 12\n/);
  assert.match(metrics, /kb_rejections_total\{reason="payload_too_large"\} 1\n/);
});
