// legacy_only: the legacy WebSocket gateway (docs/LEGACY.md) on a bus where
// no MQTT client is active apart from the bridge's own connection: no
// submission or status message arrives from the broker to set off a journal
// commit, so a legacy change is committed by the bridge's own means (the
// commit on the next turn of the loop, docs/DESIGN.md "One event loop"; the
// broker's PUBACKs for the bridge's own publishes also wake the group commit)
// and not left to the 100 ms tick. (The same gateway next to MQTT clients:
// legacy_gateway.test.mjs; a failing journal with MQTT and legacy clients:
// journal_failure.test.mjs.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  startBus, legacyClient, mqttClient, subscribe, makeOrder, waitFor, waitMessage, orderTopic,
} from '../lib/harness.mjs';

const N = 30;

let bus;
before(async () => { bus = await startBus(); });
after(async () => { await bus?.stop(); });

// journal_failure.test.mjs's method: a file-size limit on the running bridge
// (the errors a full disk gives); only the soft limit moves, so it can be lifted.
const limitFileSize = (bytes) => execFileSync('prlimit', [`--pid=${bus.bridge.pid}`, `--fsize=${bytes}:unlimited`]);

const newOrder = (order) => ({ type: 'new_order', payload: order, timestamp: new Date().toISOString() });
const kitchenGot = (kitchen, number) => kitchen.frames.filter((f) => f.type === 'new_order' && f.payload.order_number === number);

/**
 * When each ack frame reached `client`, by order number, taken in the
 * socket's own message event: waitAck polls, which would add its interval
 * to every figure. With `result`, only acks with that result count.
 */
function ackArrivals(client, result = null) {
  const at = new Map();
  client.ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    try {
      const f = JSON.parse(data.toString());
      if (f.type === 'ack' && typeof f.payload?.order_number === 'string' && !at.has(f.payload.order_number)
        && (!result || f.payload.result === result)) {
        at.set(f.payload.order_number, performance.now());
      }
    } catch { /* the harness keeps it as unparsable */ }
  });
  return at;
}

/** Resolves once every frame the bridge queued for `c` before a ping has reached it. */
async function pong(c) {
  const from = c.frames.length;
  c.send({ type: 'ping' });
  await c.waitType('pong', () => true, { from });
}

test("a legacy POS's order is acked promptly", async (t) => {
  const kitchen = await legacyClient(bus, { type: 'kitchen', id: 'KITCHEN-LO', username: 'pizza-kitchen' });
  const pos = await legacyClient(bus, { type: 'pos', id: 'POS-LO', username: 'pizza-pos' });
  await Promise.all([kitchen.waitType('connected'), pos.waitType('connected')]);
  const arrived = ackArrivals(pos);
  const orders = Array.from({ length: N }, () => makeOrder('pizza'));
  const times = [];
  for (const order of orders) {
    const sent = performance.now();
    pos.send(newOrder(order));
    const ack = await pos.waitAck(order.order_number);
    assert.equal(ack.result, 'accepted', JSON.stringify(ack));
    assert.equal(ack.error, null);
    assert.ok(Number.isInteger(ack.seq) && ack.seq > 0, `a seq for ${order.order_number}: ${JSON.stringify(ack)}`);
    times.push(arrived.get(order.order_number) - sent);
  }
  assert.equal(new Set(pos.frames.filter((f) => f.type === 'ack').map((f) => f.payload.seq)).size, N, 'a seq of its own each');

  // The fan-out to the kitchen is queued before each ack, on another socket.
  await waitFor(() => orders.every((o) => kitchenGot(kitchen, o.order_number).length > 0),
    { what: `all ${N} orders at the legacy kitchen` });
  await pong(kitchen);
  for (const o of orders) assert.equal(kitchenGot(kitchen, o.order_number).length, 1, `${o.order_number} exactly once`);

  const sorted = [...times].sort((a, b) => a - b);
  const median = (sorted[N / 2 - 1] + sorted[N / 2]) / 2;
  t.diagnostic(`send -> ack over ${N} legacy orders: median ${median.toFixed(2)} ms, max ${sorted[N - 1].toFixed(2)} ms`);
  // Not a speed target (tests/bench measures speed): the bridge's background
  // tick runs every 100 ms, and a legacy change that is only committed at
  // that tick waits 0-100 ms for it (here close to 100, as each order is sent
  // right after the ack that tick released). A median well under the tick
  // shows the commit follows the frame instead of waiting for the tick.
  assert.ok(median < 25, `median send -> ack ${median.toFixed(2)} ms: the commit waits for the 100 ms tick`);
  await Promise.all([kitchen.close(), pos.close()]);
});

test('a re-sent legacy order is answered duplicate promptly, not at the tick', async (t) => {
  // A duplicate changes nothing, so no journal batch is open; its ack is held
  // only until the pipeline's next flush. Before the fix the legacy path asked
  // for a flush only when a batch was open, and a re-send waited for the tick.
  const pos = await legacyClient(bus, { type: 'pos', id: 'POS-LO-DUP', username: 'pizza-pos' });
  await pos.waitType('connected');
  const arrived = ackArrivals(pos, 'duplicate');
  const times = [];
  for (let i = 0; i < 10; i++) {
    const order = makeOrder('pizza');
    pos.send(newOrder(order));
    const first = await pos.waitAck(order.order_number);
    assert.equal(first.result, 'accepted', JSON.stringify(first));
    const from = pos.frames.length;
    const sent = performance.now();
    pos.send(newOrder(order));
    const again = await pos.waitAck(order.order_number, { from });
    times.push(arrived.get(order.order_number) - sent);
    assert.equal(again.result, 'duplicate', JSON.stringify(again));
    assert.equal(again.seq, first.seq, 'the duplicate names the seq of the order it repeats');
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = (sorted[4] + sorted[5]) / 2;
  t.diagnostic(`re-send -> duplicate ack over 10 orders: median ${median.toFixed(2)} ms, max ${sorted[9].toFixed(2)} ms`);
  assert.ok(median < 25, `median re-send -> duplicate ack ${median.toFixed(2)} ms: the ack waits for the 100 ms tick`);
  await pos.close();
});

test('a journal failure gives legacy clients a rejection, never an early accepted', async (t) => {
  const kitchen = await legacyClient(bus, { type: 'kitchen', id: 'KITCHEN-LOJ', username: 'pizza-kitchen' });
  const pos = await legacyClient(bus, { type: 'pos', id: 'POS-LOJ', username: 'pizza-pos' });
  await Promise.all([kitchen.waitType('connected'), pos.waitType('connected')]);

  // Accepted before the failure: its retained state shows the check below sees what is there.
  const earlier = makeOrder('pizza');
  pos.send(newOrder(earlier));
  assert.equal((await pos.waitAck(earlier.order_number)).result, 'accepted');

  const rejected = Array.from({ length: 5 }, () => makeOrder('pizza'));
  limitFileSize(4096); // every journal file is already larger: all writes fail
  t.after(() => limitFileSize('unlimited')); // even if an assertion fails, so the bus stops cleanly
  for (const order of rejected) {
    pos.send(newOrder(order));
    const ack = await pos.waitAck(order.order_number);
    assert.deepEqual([ack.result, ack.error], ['rejected', 'journal_unavailable'], JSON.stringify(ack));
  }
  await pong(pos);
  for (const order of rejected) {
    const acks = pos.frames.filter((f) => f.type === 'ack' && f.payload.order_number === order.order_number);
    assert.deepEqual(acks.map((f) => f.payload.result), ['rejected'], `one ack for ${order.order_number}, a rejection`);
  }

  limitFileSize('unlimited');
  await waitFor(async () => (await bus.health()).status === 200, { what: 'health to recover' });
  const kept = makeOrder('pizza');
  pos.send(newOrder(kept));
  const ack = await pos.waitAck(kept.order_number);
  assert.equal(ack.result, 'accepted', JSON.stringify(ack));
  assert.ok(ack.seq > 0);
  await waitFor(() => kitchenGot(kitchen, kept.order_number).length === 1, { what: 'the kept order at the kitchen' });

  // Wanted, but not what the bridge does today: it publishes first (the
  // retained state, then the legacy fan-out) and journals after (docs/DESIGN.md
  // "Publish first", docs/LEGACY.md "Known limit"), so a change whose journal
  // write fails has already reached the kitchens and stays retained on the
  // broker until the bridge reconnects (its reconcile) or the POS sends the
  // order again. Kept as a todo so it reports without failing; drop the todo
  // if the bridge comes to hold changes back until they are durable.
  await t.test('none of the rejected orders reach the kitchen or stay retained', {
    todo: 'deliver first: kitchens and the retained state see a change before the journal fails it',
  }, async (st) => {
    await pong(kitchen);
    const atKitchen = rejected.filter((o) => kitchenGot(kitchen, o.order_number).length > 0);

    // Read only now, so that no MQTT client was active above. The broker
    // sends a subscription's retained messages right after its SUBACK, in
    // order, so once the kept order's state (asked for second) has come, the
    // states asked for first have come if the broker holds them.
    const mqtt = await mqttClient(bus, 'pizza-kitchen');
    try {
      const granted = await subscribe(mqtt, [earlier, ...rejected].map((o) => orderTopic('pizza', o.order_number)));
      assert.ok(granted.every((g) => g < 128), `granted ${granted}`);
      assert.ok((await subscribe(mqtt, [orderTopic('pizza', kept.order_number)]))[0] < 128);
      await waitMessage(mqtt, (m) => m.topic === orderTopic('pizza', kept.order_number) && m.retain && m.payload,
        { what: 'the kept order\'s retained state' });
      assert.ok(mqtt.received.some((m) => m.topic === orderTopic('pizza', earlier.order_number) && m.retain && m.payload),
        'the order accepted before the failure is retained (asked for with the rejected ones)');
      const retained = rejected.filter((o) => mqtt.received.some((m) => m.topic === orderTopic('pizza', o.order_number) && m.payload));
      st.diagnostic(`of ${rejected.length} rejected orders: ${atKitchen.length} reached the legacy kitchen, ${retained.length} are retained`);
      assert.deepEqual(atKitchen.map((o) => o.order_number), [], 'rejected orders the legacy kitchen received');
      assert.deepEqual(retained.map((o) => o.order_number), [], 'rejected orders with a retained state');
    } finally {
      await mqtt.endAsync();
    }
  });
  await Promise.all([kitchen.close(), pos.close()]);
});
