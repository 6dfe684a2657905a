// outbox: the outbox state machine (web-adapter/public/kb/outbox.mjs) over an
// in-memory store: queue, send, the bridge's acks (accepted, duplicate,
// rejected, journal_unavailable, order_closed on a re-sent close) and what is
// kept in the store for the next page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Outbox, MemoryStore, JOURNAL_RETRY_MS, persistable, wireMessage } from '../../web-adapter/public/kb/outbox.mjs';
import { deviceTopics } from '../../web-adapter/public/kb/topics.mjs';

/** An outbox with a clock, a connection epoch (null: cannot send) and a log of what it sent. */
function harness({ store = new MemoryStore(), epoch = 1 } = {}) {
    const h = { now: 1_000_000, epoch, sent: [], changes: 0, store, pubacks: [] };
    h.box = new Outbox({
        store,
        now: () => h.now,
        ready: () => h.epoch,
        send: (e, done) => { h.sent.push({ n: e.order_number, kind: e.kind, attempts: e.attempts, epoch: e.sent.epoch }); h.pubacks.push(done); },
        onChange: () => { h.changes++; },
    });
    h.sentNumbers = () => h.sent.splice(0).map((s) => s.n);
    return h;
}
/** A promise's outcome without waiting for it to settle first. */
function outcome(p) {
    const o = { state: 'pending' };
    p.then((v) => { o.state = 'resolved'; o.value = v; }, (e) => { o.state = 'rejected'; o.error = e; });
    return o;
}
const tick = () => new Promise((r) => setImmediate(r));

test('an entry is stored before it is sent, and waits while the connection cannot send', async () => {
    const adds = [];
    const store = new MemoryStore();
    const add = store.add.bind(store);
    store.add = async (e) => { adds.push(e.order_number); return add(e); };
    const h = harness({ store, epoch: null });
    const ack = outcome(h.box.enqueue('submit', 'A-1', { order_number: 'A-1', items: [] }, null));
    await tick();
    assert.deepEqual(adds, ['A-1']);
    assert.deepEqual(h.sent, []);
    assert.equal(h.changes, 1);
    assert.deepEqual(h.box.pending().map((e) => [e.order_number, e.kind, e.attempts, e.inFlight]), [['A-1', 'submit', 0, false]]);
    assert.deepEqual((await store.all()).map((e) => [e.id, e.order_number, e.created_at]), [[1, 'A-1', new Date(h.now).toISOString()]]);
    h.epoch = 1;
    h.box.pump();
    assert.deepEqual(h.sent, [{ n: 'A-1', kind: 'submit', attempts: 1, epoch: 1 }]);
    assert.equal(h.box.pending()[0].inFlight, true);
    assert.equal(ack.state, 'pending');
});

test('one entry in flight per order number, oldest first; the next goes when the first is acked', async () => {
    const h = harness();
    const a1 = outcome(h.box.enqueue('submit', 'A-1', { order_number: 'A-1' }, null));
    const a2 = outcome(h.box.enqueue('submit', 'A-1', { order_number: 'A-1', action: 'cancel' }, 'cancelled'));
    const b1 = outcome(h.box.enqueue('status', 'B-1', { order_number: 'B-1', status: 'ready' }, 'ready'));
    await tick();
    assert.deepEqual(h.sentNumbers(), ['A-1', 'B-1']);
    h.box.pump();                                               // in flight on this connection: not again
    assert.deepEqual(h.sentNumbers(), []);
    assert.equal(h.box.onAck({ order_number: 'A-1', result: 'accepted', seq: 7, status: 'new' }), 'settled');
    assert.deepEqual(h.sent.map((s) => [s.n, s.kind]), [['A-1', 'submit']], 'the cancel goes once the order is in');
    h.sent.length = 0;
    await tick();
    assert.deepEqual(a1, { state: 'resolved', value: { order_number: 'A-1', result: 'accepted', seq: 7, status: 'new' } });
    assert.equal(h.box.onAck({ order_number: 'A-1', result: 'duplicate', seq: 8, status: 'cancelled' }), 'settled');
    assert.equal(h.box.onAck({ order_number: 'B-1', result: 'accepted', seq: 9, status: 'ready' }), 'settled');
    await tick();
    assert.equal(a2.state, 'resolved');
    assert.equal(a2.value.result, 'duplicate');
    assert.equal(b1.state, 'resolved');
    assert.deepEqual(h.box.pending(), []);
    assert.deepEqual(await h.store.all(), [], 'settled entries leave the store');
});

test('acks that do not settle the head entry are ignored', async () => {
    const h = harness({ epoch: null });
    const p = outcome(h.box.enqueue('status', 'A-1', { order_number: 'A-1', status: 'ready' }, 'ready'));
    await tick();
    assert.equal(h.box.onAck({ order_number: 'A-1', result: 'accepted', status: 'ready' }), 'ignored', 'not sent yet');
    h.epoch = 1;
    h.box.pump();
    assert.equal(h.box.onAck({ order_number: 'A-1', result: 'accepted', status: 'preparing' }), 'ignored', 'an earlier re-send');
    assert.equal(h.box.onAck({ order_number: 'B-1', result: 'accepted', status: 'ready' }), 'ignored', 'another order');
    assert.equal(h.box.onAck({ result: 'rejected', error: 'malformed_json' }), 'ignored', 'no order number');
    assert.equal(h.box.onAck({ order_number: 'A-1', result: 'whatever' }), 'ignored');
    await tick();
    assert.equal(p.state, 'pending');
    assert.equal(h.box.pending().length, 1);
});

test('a rejection rejects with the bridge error code, detail and ack', async () => {
    const h = harness();
    const p = outcome(h.box.enqueue('submit', 'A-1', { order_number: 'A-1' }, null));
    await tick();
    const ack = { order_number: 'A-1', result: 'rejected', error: 'order_number_in_use', detail: 'open order A-1 (new, seq 3)' };
    assert.equal(h.box.onAck(ack), 'rejected');
    await tick();
    assert.equal(p.state, 'rejected');
    assert.equal(p.error.message, 'order_number_in_use: open order A-1 (new, seq 3)');
    assert.equal(p.error.code, 'order_number_in_use');
    assert.equal(p.error.detail, 'open order A-1 (new, seq 3)');
    assert.equal(p.error.ack, ack);
    const q = outcome(h.box.enqueue('submit', 'A-2', { order_number: 'A-2' }, null));
    await tick();
    h.box.onAck({ order_number: 'A-2', result: 'rejected', error: 'missing_field' });
    await tick();
    assert.equal(q.error.message, 'missing_field');
    assert.deepEqual(await h.store.all(), []);
});

test('journal_unavailable keeps the entry and sends it again after JOURNAL_RETRY_MS', async () => {
    const h = harness();
    const p = outcome(h.box.enqueue('submit', 'A-1', { order_number: 'A-1' }, null));
    await tick();
    h.sentNumbers();
    assert.equal(h.box.retrying(), false);
    assert.equal(h.box.onAck({ order_number: 'A-1', result: 'rejected', error: 'journal_unavailable' }), 'retry');
    assert.equal(h.box.retrying(), true);
    assert.deepEqual(h.box.pending().map((e) => [e.inFlight, e.retryAt]), [[false, h.now + JOURNAL_RETRY_MS]]);
    h.box.pump();
    h.now += JOURNAL_RETRY_MS - 1;
    h.box.resendStale(8000);
    assert.deepEqual(h.sentNumbers(), [], 'not before the retry time');
    h.now += 1;
    h.box.resendStale(8000);
    assert.deepEqual(h.sent.map((s) => [s.n, s.attempts]), [['A-1', 2]]);
    assert.equal(h.box.retrying(), false);
    h.box.onAck({ order_number: 'A-1', result: 'accepted', seq: 4, status: 'new' });
    await tick();
    assert.equal(p.state, 'resolved');
});

test('order_closed on a re-sent close is the close we already made; on a first send it is an error', async () => {
    const h = harness();
    const cancel = outcome(h.box.enqueue('submit', 'A-1', { order_number: 'A-1', action: 'cancel' }, 'cancelled'));
    await tick();
    h.box.unsend();                                             // the connection dropped before the ack
    h.epoch = 2;
    h.box.pump();
    assert.deepEqual(h.sent.map((s) => [s.n, s.attempts, s.epoch]), [['A-1', 1, 1], ['A-1', 2, 2]]);
    assert.equal(h.box.onAck({ order_number: 'A-1', result: 'rejected', error: 'order_closed', detail: 'cancelled' }), 'settled');
    await tick();
    assert.deepEqual(cancel.value, { order_number: 'A-1', result: 'duplicate', error: 'order_closed', detail: 'cancelled', status: 'cancelled' });

    const served = outcome(h.box.enqueue('submit', 'B-1', { order_number: 'B-1', action: 'status', status: 'served' }, 'served'));
    await tick();
    h.box.onAck({ order_number: 'B-1', result: 'rejected', error: 'order_closed' });
    await tick();
    assert.equal(served.state, 'rejected', 'sent once: someone else closed it');
    assert.equal(served.error.code, 'order_closed');

    const ready = outcome(h.box.enqueue('status', 'C-1', { order_number: 'C-1', status: 'ready' }, 'ready'));
    await tick();
    h.box.resendAll();
    h.box.onAck({ order_number: 'C-1', result: 'rejected', error: 'order_closed' });
    await tick();
    assert.equal(ready.state, 'rejected', 'not a close: a real error even when re-sent');
});

test('re-sending: a new connection, the bridge coming back, and the stale-ack safety net', async () => {
    const h = harness();
    h.box.enqueue('submit', 'A-1', { order_number: 'A-1' }, null);
    h.box.enqueue('submit', 'B-1', { order_number: 'B-1' }, null);
    await tick();
    assert.deepEqual(h.sentNumbers(), ['A-1', 'B-1']);
    h.box.pump();
    assert.deepEqual(h.sentNumbers(), []);
    h.epoch = 2;                                                // reconnected: in flight on the old connection
    h.box.pump();
    assert.deepEqual(h.sentNumbers(), ['A-1', 'B-1']);
    h.box.resendAll();                                          // bridge health back to ok
    assert.deepEqual(h.sentNumbers(), ['A-1', 'B-1']);
    h.now += 8000;
    h.box.resendStale(8000);
    assert.deepEqual(h.sentNumbers(), [], 'not older than 8 s yet');
    h.now += 1;
    h.box.resendStale(8000);
    assert.deepEqual(h.sent.map((s) => [s.n, s.attempts]), [['A-1', 4], ['B-1', 4]]);
});

test('the PUBACK marks the send; a later re-send is not marked by an earlier PUBACK', async () => {
    const h = harness();
    h.box.enqueue('submit', 'A-1', { order_number: 'A-1' }, null);
    await tick();
    const entry = h.box.queue[0];
    h.pubacks[0](null);
    assert.equal(entry.sent.puback, true);
    h.box.resendAll();
    h.pubacks[0](null);                                         // the first send's PUBACK, late
    assert.equal(entry.sent.puback, false);
    h.pubacks[1](new Error('refused'));
    assert.equal(entry.sent.puback, false);
    h.pubacks[1](null);
    assert.equal(entry.sent.puback, true);
});

test('the store keeps every unacked entry for the next page, without its per-connection state', async () => {
    const store = new MemoryStore();
    const first = harness({ store });
    first.box.enqueue('submit', 'A-1', { order_number: 'A-1', items: [1] }, null);
    first.box.enqueue('status', 'B-1', { order_number: 'B-1', status: 'ready' }, 'ready');
    first.box.enqueue('submit', 'C-1', { order_number: 'C-1' }, null);
    await tick();
    first.box.onAck({ order_number: 'C-1', result: 'accepted', status: 'new' });
    await tick();
    const stored = await store.all();
    assert.deepEqual(stored.map((e) => [e.id, e.order_number, e.kind, e.attempts, e.expect, 'sent' in e]),
        [[1, 'A-1', 'submit', 1, null, false], [2, 'B-1', 'status', 1, 'ready', false]]);
    // The page is reloaded: a new outbox on the same store.
    const second = harness({ store, epoch: null });
    await second.box.load();
    assert.deepEqual(second.box.pending().map((e) => [e.order_number, e.attempts, e.inFlight]), [['A-1', 1, false], ['B-1', 1, false]]);
    const later = outcome(second.box.enqueue('submit', 'D-1', { order_number: 'D-1' }, null));
    await tick();
    second.epoch = 1;
    second.box.pump();
    assert.deepEqual(second.sent.map((s) => [s.n, s.attempts]), [['A-1', 2], ['B-1', 2], ['D-1', 1]]);
    assert.equal((await store.all()).find((e) => e.order_number === 'A-1').attempts, 2);
    // Loaded entries have no waiter (their page is gone); an ack still clears them.
    second.box.onAck({ order_number: 'A-1', result: 'duplicate', status: 'new' });
    second.box.onAck({ order_number: 'D-1', result: 'accepted', status: 'new' });
    await tick();
    assert.equal(later.state, 'resolved');
    assert.deepEqual((await store.all()).map((e) => e.order_number), ['B-1']);
});

test('persistable and wireMessage: what is stored and what goes on the wire', () => {
    assert.deepEqual(persistable({ id: 1, kind: 'submit', sent: { epoch: 1 }, attempts: 2 }), { id: 1, kind: 'submit', attempts: 2 });
    const pos = deviceTopics({ tenant: 'pizza', role: 'pos' }, 'pizza-pos');
    const kitchen = deviceTopics({ tenant: 'pizza', role: 'kitchen' }, 'pizza-kitchen');
    const e = (kind, payload) => ({ kind, payload, order_number: payload.order_number });
    assert.deepEqual(wireMessage(e('submit', { order_number: 'A-1', items: [] }), pos, 'pizza'),
        { topic: 'outlet/tenant/pizza/pos/pizza-pos/submit', body: '{"order_number":"A-1","items":[],"tenant_id":"pizza"}' });
    assert.deepEqual(wireMessage(e('submit', { order_number: 'A-1', tenant_id: 'x' }), pos, 'pizza').body, '{"order_number":"A-1","tenant_id":"x"}');
    assert.deepEqual(wireMessage(e('submit', { order_number: 'A-1', action: 'cancel' }), pos, 'pizza').body, '{"order_number":"A-1","action":"cancel"}');
    assert.deepEqual(wireMessage(e('status', { order_number: 'A-1', status: 'ready' }), kitchen, 'pizza'),
        { topic: 'outlet/tenant/pizza/kitchen/pizza-kitchen/status', body: '{"order_number":"A-1","status":"ready"}' });
    const entry = e('submit', { order_number: 'A-1' });
    wireMessage(entry, pos, 'pizza');
    assert.deepEqual(entry.payload, { order_number: 'A-1' }, 'the stored payload is not changed');
});

test('a store that cannot add makes enqueue reject; put and delete failures are not fatal', async () => {
    const store = new MemoryStore();
    store.add = async () => { throw new Error('QuotaExceededError'); };
    const h = harness({ store });
    await assert.rejects(h.box.enqueue('submit', 'A-1', {}, null), /QuotaExceededError/);
    assert.deepEqual(h.box.pending(), []);
    const ok = new MemoryStore();
    ok.put = async () => { throw new Error('put failed'); };
    ok.delete = async () => { throw new Error('delete failed'); };
    const g = harness({ store: ok });
    const p = outcome(g.box.enqueue('submit', 'A-1', {}, null));
    await tick();
    g.box.onAck({ order_number: 'A-1', result: 'accepted', status: 'new' });
    await tick();
    assert.equal(p.state, 'resolved');
});
