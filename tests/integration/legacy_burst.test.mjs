// legacy_burst: an old POS that was offline flushes its whole queue at once
// when it reconnects, and old clients never retry. For an authenticated
// device the gateway's rate limit slows the connection down (it stops
// reading, TCP pushes back on the sender) instead of dropping frames, so
// every order arrives, once, in order. Anonymous floods (open mode) are
// still dropped and closed. (A flooding device: legacy_abuse.test.mjs.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startBus, legacyClient, kitchenDevice, makeOrder, readJson, DEMO_REGISTRY, waitFor, orderTopic,
} from '../lib/harness.mjs';

// The gateway's limits (legacy_gateway.c, docs/LEGACY.md).
const RATE_BURST = 60;
const RATE_PER_S = 20;
const N = 500;

let bus;
before(async () => { bus = await startBus(); });
after(async () => { await bus?.stop(); });

const connected = async (b, opts) => {
  const c = await legacyClient(b, opts);
  await c.waitType('connected');
  return c;
};
/** Resolves once every frame queued for `c` before the ping has reached it. */
async function pingRoundTrip(c) {
  const from = c.frames.length;
  c.send({ type: 'ping' });
  await c.waitType('pong', () => true, { from, timeout: 10000 });
}

test(`an authenticated POS flushing ${N} orders at once: every one is taken, acked and reaches the kitchens`, async (t) => {
  const lk = await connected(bus, { type: 'kitchen', id: 'K-BURST', username: 'pizza-kitchen' });
  const mk = await kitchenDevice(bus, 'pizza');
  const pos = await connected(bus, { type: 'pos', id: 'POS-BURST', username: 'pizza-pos' });
  const prefix = `BURST-${process.pid}-${Date.now() % 100000}-`;
  // ~1.3 KB each (~650 KB in all), so frames straddle the 4 KiB reads of
  // libwebsockets and some wait in its buffer while reads are paused.
  const orders = Array.from({ length: N }, (_, i) => makeOrder('pizza', {
    order_number: `${prefix}${i}`, note: `queued offline #${i} `.padEnd(1200, '.'), offline: true,
  }));
  const mine = (f) => f.payload?.order_number?.startsWith?.(prefix);

  const t0 = performance.now();
  // All written at once, without waiting for anything, as the old POS does.
  for (const o of orders) pos.send({ type: 'new_order', payload: o, timestamp: new Date().toISOString() });

  const acks = () => pos.frames.filter((f) => f.type === 'ack' && mine(f));
  const kitchenGot = () => lk.frames.filter((f) => f.type === 'new_order' && mine(f));
  const figures = () => `acks ${acks().length}/${N}, legacy kitchen ${kitchenGot().length}/${N}, `
    + `error frames to the POS ${pos.frames.filter((f) => f.type === 'error').length}`;
  // (N - burst) / rate seconds at the limit, plus room for a busy CI box.
  const timeout = ((N - RATE_BURST) / RATE_PER_S) * 1000 * 2 + 15000;
  await waitFor(() => acks().length >= N || pos.closed, { timeout, what: `${N} acks` })
    .catch((err) => { throw new Error(`${err.message} (${figures()})`); });
  const elapsed = performance.now() - t0;
  t.diagnostic(`after ${(elapsed / 1000).toFixed(1)} s: ${figures()}`);

  assert.equal(pos.closed, null, 'the POS is not disconnected');
  assert.deepEqual(pos.frames.filter((f) => f.type === 'error'), [], 'no error frame (no rate_limited) to the POS');
  const ackList = acks();
  assert.equal(ackList.length, N, figures());
  assert.equal(new Set(ackList.map((f) => f.payload.order_number)).size, N, 'one ack per order');
  for (const a of ackList) assert.equal(a.payload.result, 'accepted', JSON.stringify(a.payload));
  // Still a rate limit: slowed down to about RATE_PER_S after the burst.
  const atLimit = ((N - RATE_BURST) / RATE_PER_S) * 1000;
  assert.ok(elapsed > atLimit * 0.8, `slowed to the limit (${elapsed.toFixed(0)} ms, the limit allows ${atLimit} ms)`);

  // The kitchen's fan-out precedes each ack; a ping flushes its queue.
  await pingRoundTrip(lk);
  const got = kitchenGot().map((f) => f.payload.order_number);
  assert.equal(new Set(got).size, N, `every order at the legacy kitchen (${figures()})`);
  assert.equal(got.length, N, 'each exactly once');
  assert.deepEqual(got, orders.map((o) => o.order_number), 'in the order the POS sent them');
  const seqs = kitchenGot().map((f) => f.payload.seq);
  assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]), 'seq grows with each order');
  assert.equal(kitchenGot()[0].payload.note, orders[0].note, 'the payload is passed through');

  const onMqtt = () => new Set(mk.client.received
    .filter((m) => m.topic.startsWith(orderTopic('pizza', prefix)) && m.payload)
    .map((m) => m.topic)).size;
  await waitFor(() => onMqtt() === N, { timeout: 10000, what: `all ${N} at the MQTT kitchen (has ${onMqtt()})` });

  // The connection is still fine and back to normal service.
  await pingRoundTrip(pos);
  assert.equal((await bus.health()).status, 200);
  await Promise.all([lk.close(), pos.close(), mk.client.endAsync()]);
});

test('in open mode an anonymous flood is still dropped with rate_limited, then closed', async () => {
  const open = await startBus({ registry: { ...readJson(DEMO_REGISTRY), legacy: { mode: 'open' } } });
  try {
    const flood = await connected(open, { type: 'pos', id: 'ANON-FLOOD' });
    for (let i = 0; i < 2000 && !flood.closed; i++) flood.send('{"type":"ping"}');
    const closed = await flood.waitClose({ timeout: 10000 });
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /rate limit/);
    assert.ok(flood.frames.some((f) => f.type === 'error' && f.payload.error === 'rate_limited'));
    const pongs = flood.frames.filter((f) => f.type === 'pong').length;
    assert.ok(pongs >= 50 && pongs < 200, `a burst is served, then frames are dropped (${pongs} pongs)`);
    assert.equal((await open.health()).status, 200);
  } finally {
    await open.stop();
  }
});
