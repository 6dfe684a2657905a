// station_parts: a station's part of an order in the browser modules, in plain
// Node: the part lifecycle (kb/status.mjs, against the bridge's
// order_stations.c rules), and the outbox settling a station's report on the
// bridge's ack, which names the whole order's status (kb/outbox.mjs), and an
// expo's order view keeping each part's status from the events when an event
// comes before its retained state (kb/order-view.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextPartStatus, recallPartStatus, isPartDone, isPartStatus, orderStatusesAfterPart, PART_LIFECYCLE } from '../../web-adapter/public/kb/status.mjs';
import { Outbox, MemoryStore, ackMatches, wireMessage } from '../../web-adapter/public/kb/outbox.mjs';
import { partsFollow } from '../../web-adapter/public/kb/status.mjs';
import { OrderView } from '../../web-adapter/public/kb/order-view.mjs';

test('a part goes new -> preparing -> ready, and a recall sends a ready part back to preparing', () => {
    assert.deepEqual(PART_LIFECYCLE, ['new', 'preparing', 'ready']);
    assert.equal(nextPartStatus('new'), 'preparing');
    assert.equal(nextPartStatus('preparing'), 'ready');
    assert.equal(nextPartStatus('ready'), null);
    assert.equal(nextPartStatus('accepted'), null, 'accepted is a whole order\'s status, not a part\'s');
    assert.equal(recallPartStatus('ready'), 'preparing');
    assert.equal(recallPartStatus('preparing'), null);
    assert.deepEqual(PART_LIFECYCLE.map(isPartDone), [false, false, true]);
    assert.deepEqual(['new', 'preparing', 'ready', 'served'].map(isPartStatus), [false, true, true, false]);
});

test('the order statuses a part move leaves the order in', () => {
    assert.deepEqual(orderStatusesAfterPart('ready'), ['preparing', 'ready']);
    assert.deepEqual(orderStatusesAfterPart('preparing'), ['preparing']);
    assert.deepEqual(orderStatusesAfterPart('new'), []);
});

test('ackMatches: whole-order changes by status, station reports by the order status the part leaves', () => {
    const whole = { kind: 'status', payload: { order_number: 'A', status: 'ready' }, expect: 'ready' };
    assert.equal(ackMatches(whole, { status: 'ready' }), true);
    assert.equal(ackMatches(whole, { status: 'preparing' }), false);
    const part = { kind: 'status', payload: { order_number: 'A', station: 'oven', status: 'ready' }, expect: 'ready' };
    assert.equal(ackMatches(part, { status: 'preparing' }), true, 'oven ready, bar still going');
    assert.equal(ackMatches(part, { status: 'ready' }), true, 'oven was the last part');
    assert.equal(ackMatches(part, { status: 'accepted' }), false);
    const start = { kind: 'status', payload: { order_number: 'A', station: 'oven', status: 'preparing' }, expect: 'preparing' };
    assert.equal(ackMatches(start, { status: 'preparing' }), true);
    assert.equal(ackMatches(start, { status: 'ready' }), false);
    // An ack that names the part is matched on it.
    assert.equal(ackMatches(part, { status: 'preparing', station: 'oven', station_status: 'ready' }), true);
    assert.equal(ackMatches(part, { status: 'preparing', station: 'oven', station_status: 'preparing' }), false);
    assert.equal(ackMatches(part, { status: 'preparing', station: 'bar', station_status: 'ready' }), false);
    assert.equal(ackMatches({ kind: 'submit', payload: {}, expect: null }, { status: 'new' }), true);
});

test('the outbox settles a station report on the ack the bridge sends for it', async () => {
    const sent = [];
    const box = new Outbox({ store: new MemoryStore(), send: (e, done) => { sent.push(wireMessage(e, { status: 'S', submit: 'P' }, 'pizza')); done(); }, ready: () => 1 });
    const p = box.enqueue('status', 'A-1', { order_number: 'A-1', station: 'oven', status: 'ready' }, 'ready');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(sent, [{ topic: 'S', body: JSON.stringify({ order_number: 'A-1', station: 'oven', status: 'ready' }) }]);
    // The bridge answers with the order's status: still preparing (the bar is not done).
    assert.equal(box.onAck({ order_number: 'A-1', result: 'accepted', seq: 4, status: 'preparing' }), 'settled');
    assert.equal((await p).status, 'preparing');
    assert.equal(box.queue.length, 0);
    // A whole-order status still needs its own status in the ack.
    const q = box.enqueue('status', 'A-2', { order_number: 'A-2', status: 'ready' }, 'ready');
    await new Promise((r) => setImmediate(r));
    assert.equal(box.onAck({ order_number: 'A-2', result: 'duplicate', seq: 4, status: 'preparing' }), 'ignored');
    assert.equal(box.onAck({ order_number: 'A-2', result: 'accepted', seq: 5, status: 'ready' }), 'settled');
    await q;
});

test('partsFollow: a whole-order ready marks every part ready, a whole-order recall every part preparing', () => {
    const parts = { oven: 'ready', bar: 'new' };
    assert.deepEqual(partsFollow(parts, 'preparing', 'ready'), { oven: 'ready', bar: 'ready' });
    assert.deepEqual(partsFollow({ oven: 'ready', bar: 'ready' }, 'ready', 'preparing'), { oven: 'preparing', bar: 'preparing' });
    assert.equal(partsFollow(parts, 'new', 'accepted'), null);
    assert.equal(partsFollow(parts, 'accepted', 'preparing'), null);
    assert.equal(partsFollow(parts, 'ready', 'served'), null);
    assert.equal(partsFollow(undefined, 'preparing', 'ready'), null);
});

test('the order view: station and status events move the parts when they come before the retained state', () => {
    const events = [];
    const v = new OrderView({ emit: (e) => events.push(e), setTimeout: () => 0, clearTimeout: () => {} });
    const doc = { order_number: 'A-1', status: 'new', seq: 1, created_seq: 1, stations: { oven: 'new', bar: 'new' } };
    v.applyState('A-1', doc, { retained: true, initial: true });
    v.applyEvent({ event: 'status', order_number: 'A-1', status: 'preparing', previous: 'new', station: 'oven', station_status: 'preparing', seq: 2 });
    assert.deepEqual(v.orders.get('A-1').order.stations, { oven: 'preparing', bar: 'new' });
    v.applyEvent({ event: 'station', order_number: 'A-1', status: 'preparing', station: 'oven', station_status: 'ready', seq: 3 });
    assert.deepEqual(v.orders.get('A-1').order.stations, { oven: 'ready', bar: 'new' });
    assert.equal(v.orders.get('A-1').status, 'preparing');
    // The retained state of seq 3 comes after: a duplicate, dropped; the view already agrees with it.
    v.applyState('A-1', { ...doc, status: 'preparing', seq: 3, stations: { oven: 'ready', bar: 'new' } }, { retained: false });
    // The expo marks it ready (no station in the event): every part is ready.
    v.applyEvent({ event: 'status', order_number: 'A-1', status: 'ready', previous: 'preparing', seq: 4 });
    assert.deepEqual(v.orders.get('A-1').order.stations, { oven: 'ready', bar: 'ready' });
    assert.deepEqual(events.map((e) => `${e.type} ${e.status} ${e.seq}`), ['new new 1', 'update preparing 2', 'update preparing 3', 'update ready 4']);
    // An event naming a station the order has no part at leaves the parts alone.
    v.applyEvent({ event: 'station', order_number: 'A-1', status: 'ready', station: 'cold', station_status: 'ready', seq: 5 });
    assert.deepEqual(v.orders.get('A-1').order.stations, { oven: 'ready', bar: 'ready' });
});
