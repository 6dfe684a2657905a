// journal_failure: when the journal cannot be written (here: a file-size
// limit on the running bridge, the same errors a full disk gives), the bridge
// stops acking, says why in /health and in rejections, keeps nothing
// half-written, keeps serving, and recovers by itself when writes work again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startBus, posDevice, kitchenDevice, legacyClient, makeOrder, waitFor } from '../lib/harness.mjs';

let bus;
before(async () => { bus = await startBus(); });
after(async () => { await bus?.stop(); });

// Only the soft limit moves, so it can be lifted again.
const limitFileSize = (bytes) => execFileSync('prlimit', [`--pid=${bus.bridge.pid}`, `--fsize=${bytes}:unlimited`]);

test('a journal that cannot be written: rejected with a reason, degraded health, then recovery', async () => {
  const pos = await posDevice(bus, 'pizza');
  const kitchen = await kitchenDevice(bus, 'pizza');
  const before = makeOrder('pizza');
  const first = await pos.submit(before);
  assert.equal(first.result, 'accepted');

  limitFileSize(4096); // every journal file is already larger: all writes fail
  const lost = makeOrder('pizza');
  const ack = await pos.submit(lost);
  assert.equal(ack.result, 'rejected');
  assert.equal(ack.error, 'journal_unavailable');
  assert.match(ack.detail, /journal/);
  const h = await bus.health();
  assert.equal(h.status, 503);
  assert.equal(h.body.journal, 'failing');
  assert.ok(h.body.journal_error.length > 0);
  const second = await pos.submit(makeOrder('pizza'));
  assert.equal(second.error, 'journal_unavailable', 'still refusing, never acking what it cannot keep');
  assert.equal((await kitchen.setStatus(before.order_number, 'accepted')).error, 'journal_unavailable');

  limitFileSize('unlimited');
  await waitFor(async () => (await bus.health()).status === 200, { timeout: 5000, what: 'health to recover' });
  // Nothing of the failed attempt was kept: the same order is new, not a duplicate.
  const retry = await pos.submit(lost);
  assert.equal(retry.result, 'accepted');
  assert.ok(retry.seq > first.seq, 'seq moved on, never reused');
  assert.equal((await pos.submit(before)).result, 'duplicate', 'what was acked before is still there');
  assert.equal((await kitchen.setStatus(before.order_number, 'accepted')).result, 'accepted');
  const metrics = await bus.metrics();
  assert.match(metrics, /kb_journal_failures_total [1-9]/);
  assert.match(metrics, /kb_rejections_total\{reason="journal_unavailable"\} 3/);
  await Promise.all([pos.client.endAsync(), kitchen.client.endAsync()]);
});

test('legacy clients get the same: a rejection while the journal fails, never an early "accepted"', async () => {
  const pos = await legacyClient(bus, { type: 'pos', id: 'POS-JF', username: 'pizza-pos' });
  const kitchen = await legacyClient(bus, { type: 'kitchen', id: 'KITCHEN-JF', username: 'pizza-kitchen' });
  await Promise.all([pos.waitType('connected'), kitchen.waitType('connected')]);
  const kept = makeOrder('pizza');
  pos.send({ type: 'new_order', payload: kept });
  assert.equal((await pos.waitAck(kept.order_number)).result, 'accepted');

  limitFileSize(4096);
  const lost = makeOrder('pizza');
  pos.send({ type: 'new_order', payload: lost });
  const ack = await pos.waitAck(lost.order_number);
  assert.deepEqual([ack.result, ack.error], ['rejected', 'journal_unavailable']);
  // The kitchen's receipt would move the order to accepted: it cannot be kept, so it is refused.
  kitchen.send({ type: 'order_ack', payload: { order_number: kept.order_number } });
  const receipt = await kitchen.waitAck(kept.order_number);
  assert.deepEqual([receipt.result, receipt.error], ['rejected', 'journal_unavailable']);

  limitFileSize('unlimited');
  await waitFor(async () => (await bus.health()).status === 200, { timeout: 5000, what: 'health to recover' });
  const from = kitchen.frames.length;
  kitchen.send({ type: 'order_ack', payload: { order_number: kept.order_number } });
  const again = await kitchen.waitAck(kept.order_number, { from });
  assert.deepEqual([again.result, again.status], ['accepted', 'accepted'], 'the receipt that could not be kept is taken now');
  const from2 = kitchen.frames.length;
  kitchen.send({ type: 'order_ack', payload: { order_number: kept.order_number } });
  const dup = await kitchen.waitAck(kept.order_number, { from: from2 });
  assert.deepEqual([dup.result, dup.status], ['duplicate', 'accepted'], 'a second receipt is a duplicate');
  await Promise.all([pos.close(), kitchen.close()]);
});
