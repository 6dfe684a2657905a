// legacy_abuse: every bad input a legacy WebSocket client can send gets an
// error frame, a rejected ack or a close with a reason; a flooding, a slow
// and a vanishing client never slow the others or crash the bridge (a
// flooding device is slowed down, never dropped); an
// acked legacy order survives SIGKILL of the bridge.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  startBus, legacyClient, posDevice, makeOrder, waitFor,
} from '../lib/harness.mjs';

let bus;
before(async () => { bus = await startBus(); });
after(async () => { await bus?.stop(); });

const connected = async (opts) => {
  const c = await legacyClient(bus, opts);
  await c.waitType('connected');
  return c;
};
const errorAfter = (c, from, what) => c.waitFrame((f) => f.type === 'error', { from, what: `an error frame for ${what}` })
  .then((f) => f.payload);
const clientIds = async () => (await (await fetch(bus.url('/clients'))).json()).clients.map((c) => c.id);
/** Round-trip time of a ping, in ms. */
async function pingTime(c) {
  const from = c.frames.length;
  const t0 = performance.now();
  c.send({ type: 'ping' });
  await c.waitType('pong', () => true, { from });
  return performance.now() - t0;
}

test('bad frames get an error frame with a reason, and the connection stays usable', async () => {
  const pos = await connected({ type: 'pos', username: 'pizza-pos' });
  const cases = [
    ['{"type":"new_order",', 'malformed_json'],
    ['not json at all', 'malformed_json'],
    ['[1,2,3]', 'not_an_object'],
    ['"ping"', 'not_an_object'],
    ['{"payload":{}}', 'missing_type'],
    ['{"type":42}', 'missing_type'],
    ['{"type":"drop_all_orders","payload":{}}', 'unknown_type'],
    ['{"type":"order_ack","payload":{"order_number":"X-1"}}', 'forbidden'], // a POS does not acknowledge
    [JSON.stringify({ type: 'new_order', payload: { blob: 'x'.repeat(80 * 1024) } }), 'frame_too_large'],
    [Buffer.from([1, 2, 3]), 'binary_frame'],
  ];
  for (const [frame, code] of cases) {
    const from = pos.frames.length;
    pos.send(frame);
    const err = await errorAfter(pos, from, code);
    assert.equal(err.error, code, `${String(frame).slice(0, 40)} -> ${JSON.stringify(err)}`);
    assert.ok(err.detail, 'a human reason too');
  }
  const kitchen = await connected({ type: 'kitchen', username: 'pizza-kitchen' });
  const from = kitchen.frames.length;
  kitchen.send({ type: 'new_order', payload: makeOrder('pizza') });
  assert.equal((await errorAfter(kitchen, from, 'a kitchen new_order')).error, 'forbidden');
  assert.ok(await pingTime(pos) < 1000);
  await Promise.all([pos.close(), kitchen.close()]);
});

test('bad orders get a rejected ack with the contract\'s error code', async () => {
  const pos = await connected({ type: 'pos', username: 'burger-pos' });
  const base = makeOrder('burger');
  const cases = [
    [{ ...base, order_number: 'B-1', items: [] }, 'B-1', 'invalid_field'],
    [{ order_number: 'B-2', tenant_id: 'burger' }, 'B-2', 'missing_field'],
    [{ ...base, order_number: 'B-3', items: [{ name: 'x', qty: -1 }] }, 'B-3', 'invalid_field'],
    [{ ...base, order_number: 'B-4', priority: 'yesterday' }, 'B-4', 'invalid_field'],
    [{ ...base, order_number: 'B-5', tenant_id: 'pizza' }, 'B-5', 'tenant_mismatch'],
    [{ ...base, order_number: 'bad number!' }, null, 'invalid_field'],
    ['not an object', null, 'not_an_object'],
  ];
  for (const [payload, number, code] of cases) {
    const from = pos.frames.length;
    pos.send({ type: 'new_order', payload });
    const ack = await pos.waitFrame((f) => f.type === 'ack', { from, what: `the rejection ${code}` });
    assert.deepEqual([ack.payload.order_number, ack.payload.result, ack.payload.error], [number, 'rejected', code]);
  }
  for (const [payload, code] of [[{ order_number: base.order_number, status: 'eaten' }, 'unknown_status'],
    [{ order_number: 'NOPE-1', status: 'ready' }, 'unknown_order']]) {
    const from = pos.frames.length;
    pos.send({ type: 'order_update', payload });
    const ack = await pos.waitFrame((f) => f.type === 'ack', { from, what: code });
    assert.equal(ack.payload.error, code);
  }
  await pos.close();
});

test('a device\'s flood is slowed to the rate limit, not dropped; other clients do not notice', async () => {
  // An authenticated device's frames past the limit are no longer dropped
  // (an old POS never retries, issue 12): the gateway stops reading it, so
  // a flood only slows itself down. Anonymous floods (open mode) are still
  // dropped and closed: legacy_burst.test.mjs.
  const calm = await connected({ type: 'kitchen', username: 'noodle-kitchen' });
  const flood = await connected({ type: 'pos', id: 'FLOOD', username: 'noodle-pos' });
  const frame = JSON.stringify({ type: 'ping' });
  const t0 = performance.now();
  for (let i = 0; i < 2000; i++) flood.send(frame);
  const pongs = () => flood.frames.filter((f) => f.type === 'pong').length;
  await waitFor(() => pongs() >= 100, { what: 'the burst, then pongs at the limit' });
  const s = (performance.now() - t0) / 1000;
  assert.ok(pongs() <= 60 + 20 * s + 5, `slowed to 20 frames/s after a burst of 60 (${pongs()} pongs in ${s.toFixed(1)} s)`);
  assert.deepEqual(flood.frames.filter((f) => f.type === 'error'), [], 'nothing dropped (no rate_limited)');
  assert.equal(flood.closed, null);
  assert.ok(await pingTime(calm) < 1000);
  assert.equal((await bus.health()).status, 200);
  // Gone with ~1900 frames unread: what it still had waiting goes with it.
  flood.ws.terminate();
  await waitFor(async () => !(await clientIds()).includes('FLOOD'), { what: 'the flooding client to be gone' });
  assert.ok(await pingTime(calm) < 1000);
  await calm.close();
});

/** Writes a masked client frame header announcing `len` bytes, and `part` of them. */
function partialFrame(len, part, fin = true) {
  const mask = crypto.randomBytes(4);
  const head = Buffer.from([fin ? 0x81 : 0x01, 0x80 | 126, len >> 8, len & 0xff]);
  const body = Buffer.from('{"type":"new_order","payload":{"order_number":"HALF-1"'.padEnd(part, ' ').slice(0, part));
  for (let i = 0; i < body.length; i++) body[i] ^= mask[i % 4];
  return Buffer.concat([head, mask, body]);
}

test('clients that vanish mid-frame, mid-message or before their ack leave nothing behind', async () => {
  const other = await connected({ type: 'kitchen', id: 'K-WATCH', username: 'pizza-kitchen' });
  for (const [id, bytes] of [['HALF-FRAME', partialFrame(1000, 30)], ['HALF-MESSAGE', partialFrame(40, 40, false)]]) {
    const c = await connected({ type: 'pos', id, username: 'pizza-pos' });
    c.ws._socket.write(bytes);
    c.ws._socket.destroy();
    await waitFor(async () => !(await clientIds()).includes(id), { what: `${id} to be gone` });
  }
  // A POS that sends an order and vanishes at once: the order is still
  // taken (it reached the bridge whole), the ack has nowhere to go.
  const gone = await connected({ type: 'pos', id: 'GONE', username: 'pizza-pos' });
  const order = makeOrder('pizza');
  gone.ws.send(JSON.stringify({ type: 'new_order', payload: order }), () => gone.ws._socket.destroy());
  await other.waitType('new_order', (f) => f.payload.order_number === order.order_number);
  assert.ok(await pingTime(other) < 1000);
  assert.equal((await bus.health()).status, 200);
  await other.close();
});

test('a kitchen that stops reading is dropped; the others keep getting every order', async () => {
  const slow = await connected({ type: 'kitchen', id: 'K-SLOW', username: 'burger-kitchen' });
  const fast = await connected({ type: 'kitchen', id: 'K-FAST', username: 'burger-kitchen' });
  slow.ws._socket.pause(); // it still holds the connection, but reads nothing
  const pos = await posDevice(bus, 'burger');
  const blob = 'x'.repeat(60 * 1024);
  let sent = 0;
  const worst = [];
  for (; sent < 600 && (await clientIds()).includes('K-SLOW'); sent++) {
    const o = makeOrder('burger', { blob });
    assert.equal((await pos.submit(o)).result, 'accepted');
    if (sent % 20 === 0) {
      const t0 = performance.now();
      await fast.waitType('new_order', (f) => f.payload.order_number === o.order_number);
      worst.push(performance.now() - t0);
    }
  }
  assert.ok(!(await clientIds()).includes('K-SLOW'), `the slow kitchen was dropped (after ${sent} orders)`);
  assert.ok(Math.max(...worst) < 1000, `the fast kitchen kept up (worst ${Math.max(...worst).toFixed(0)} ms)`);
  await waitFor(() => fast.frames.filter((f) => f.type === 'new_order' && f.payload.blob).length === sent,
    { what: 'every order at the fast kitchen', timeout: 10000 });
  slow.ws._socket.resume();
  const closed = await slow.waitClose({ timeout: 10000 });
  assert.ok([1008, 1006].includes(closed.code), JSON.stringify(closed));
  assert.ok(await pingTime(fast) < 1000);
  await Promise.all([fast.close(), pos.client.endAsync()]);
});

test('an order acked to a legacy POS survives SIGKILL of the bridge and a broker that lost its state', async () => {
  const pos = await connected({ type: 'pos', username: 'noodle-pos' });
  const order = makeOrder('noodle', { from_legacy: true });
  pos.send({ type: 'new_order', payload: order });
  assert.equal((await pos.waitAck(order.order_number)).result, 'accepted');
  await bus.killBridge();
  await bus.killBroker();
  bus.wipeBrokerState();
  await bus.startBroker();
  await bus.startBridge();
  const kitchen = await connected({ type: 'kitchen', username: 'noodle-kitchen' });
  const back = await kitchen.waitType('new_order', (f) => f.payload.order_number === order.order_number);
  assert.equal(back.payload.from_legacy, true);
  await kitchen.close();
});
