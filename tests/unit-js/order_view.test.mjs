// order_view: the duplicate filter a screen relies on (web-adapter/public/kb/order-view.mjs),
// with no MQTT: retained and live states, seq ordering, closed orders and their
// stale copies, reused order numbers, and the created/status/closed events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OrderView, CLOSE_GRACE_MS } from '../../web-adapter/public/kb/order-view.mjs';
import { FakeTimers } from './adapter.mjs';

function view() {
    const timers = new FakeTimers();
    const events = [];
    const v = new OrderView({ emit: (ev) => events.push(ev), setTimeout: timers.setTimeout, clearTimeout: timers.clearTimeout });
    const take = () => events.splice(0).map((e) => `${e.type} ${e.order_number} ${e.status} ${e.seq}`);
    return { v, timers, events, take };
}
const order = (n, status, seq, created_seq = seq, extra = {}) => ({ order_number: n, status, seq, created_seq, ...extra });

test('a retained state in the first snapshot is initial (no alert); a live one is not', () => {
    const { v, events } = view();
    v.applyState('A-1', order('A-1', 'new', 5), { retained: true, initial: true });
    v.applyState('A-2', order('A-2', 'new', 6), { retained: false, initial: true });     // initial only counts for retained
    v.applyState('A-3', order('A-3', 'new', 7), { retained: true, initial: false });     // a later reconnect's snapshot
    assert.deepEqual(events.map((e) => [e.type, e.order_number, e.retained, e.initial]),
        [['new', 'A-1', true, true], ['new', 'A-2', false, false], ['new', 'A-3', true, false]]);
    assert.deepEqual(events[0].order, order('A-1', 'new', 5));
});

test('the same state twice, or an older one, is dropped; a newer one is an update', () => {
    const { v, take, events } = view();
    v.applyState('A-1', order('A-1', 'accepted', 10, 5), { retained: true });
    v.applyState('A-1', order('A-1', 'accepted', 10, 5), { retained: true });    // QoS 1 delivered it twice
    v.applyState('A-1', order('A-1', 'new', 9, 5));                              // older than what is shown
    v.applyState('A-1', order('A-1', 'new', 5, 5), { retained: true });          // the bridge's re-publish of an old copy
    assert.deepEqual(take(), ['new A-1 accepted 10']);
    v.applyState('A-1', order('A-1', 'preparing', 12, 5));
    assert.deepEqual(events.map((e) => [e.type, e.previous, e.status]), [['update', 'accepted', 'preparing']]);
    assert.equal(v.orders.get('A-1').seq, 12);
    assert.equal(v.orders.get('A-1').status, 'preparing');
});

test('invalid states are ignored: no object, no numeric seq, a retained closed status', () => {
    const { v, take } = view();
    for (const doc of [null, 'x', 42, { order_number: 'A-1', status: 'new' }, { seq: '5', status: 'new' }]) v.applyState('A-1', doc);
    v.applyState('A-1', order('A-1', 'served', 5), { retained: true });
    v.applyState('A-1', order('A-1', 'cancelled', 6), { retained: true });
    assert.deepEqual(take(), []);
    assert.equal(v.orders.size, 0);
});

test('status events move an open order on, once, and only forwards', () => {
    const { v, events } = view();
    v.applyState('A-1', order('A-1', 'new', 5, 5, { updated_at: 'T0', items: [1] }));
    v.applyEvent({ event: 'status', order_number: 'A-1', status: 'accepted', previous: 'new', seq: 6, by: 'pizza-kitchen', at: 'T1' });
    v.applyEvent({ event: 'status', order_number: 'A-1', status: 'accepted', previous: 'new', seq: 6, by: 'pizza-kitchen', at: 'T1' });
    v.applyEvent({ event: 'status', order_number: 'A-1', status: 'new', seq: 4 });
    v.applyEvent({ event: 'status', order_number: 'B-1', status: 'ready', seq: 7 });        // unknown: its retained copy will come
    v.applyEvent({ event: 'status', order_number: 'A-1', status: 'preparing', seq: 8 });   // no `at`: updated_at kept
    assert.deepEqual(events.map((e) => [e.type, e.order_number, e.previous, e.status, e.seq, e.by]),
        [['new', 'A-1', undefined, 'new', 5, undefined], ['update', 'A-1', 'new', 'accepted', 6, 'pizza-kitchen'],
            ['update', 'A-1', 'accepted', 'preparing', 8, undefined]]);
    assert.deepEqual(events[1].order, { order_number: 'A-1', status: 'accepted', seq: 6, created_seq: 5, updated_at: 'T1', items: [1] });
    assert.equal(events[2].order.updated_at, 'T1');
    assert.equal(v.orders.has('B-1'), false);
});

test('a created event shows the order once, whether the event or the retained state comes first', () => {
    const { v, take } = view();
    v.applyEvent({ event: 'created', order_number: 'A-1', status: 'new', seq: 5, order: { order_number: 'A-1', created_seq: 5, items: [1] } });
    v.applyState('A-1', order('A-1', 'new', 5));
    v.applyEvent({ event: 'created', order_number: 'A-1', status: 'new', seq: 5, order: { order_number: 'A-1', created_seq: 5 } });
    v.applyState('A-2', order('A-2', 'new', 6), { retained: true });
    v.applyEvent({ event: 'created', order_number: 'A-2', status: 'new', seq: 6, order: { order_number: 'A-2', created_seq: 6 } });
    assert.deepEqual(take(), ['new A-1 new 5', 'new A-2 new 6']);
    // The event's status stands in for an order without one; the event's seq wins.
    assert.deepEqual(v.orders.get('A-1').order, { order_number: 'A-1', created_seq: 5, items: [1], seq: 5, status: 'new' });
    // Events without a number, a seq or an order are ignored.
    v.applyEvent({ event: 'created', order_number: 'A-3', seq: 7 });
    v.applyEvent({ event: 'created', seq: 7, order: {} });
    v.applyEvent({ event: 'created', order_number: 'A-3', seq: '7', order: {} });
    v.applyEvent({ event: 'whatever', order_number: 'A-3', seq: 8 });
    assert.deepEqual(take(), []);
});

test('a closed event closes the order (served, cancelled) and keeps it closed against stale copies', () => {
    const { v, events, take } = view();
    v.applyState('A-1', order('A-1', 'preparing', 9, 5));
    v.applyEvent({ event: 'closed', order_number: 'A-1', status: 'cancelled', previous: 'preparing', seq: 12, by: 'pizza-pos' });
    const closed = events.at(-1);
    assert.deepEqual([closed.type, closed.status, closed.previous, closed.seq, closed.by, closed.cancelled],
        ['closed', 'cancelled', 'preparing', 12, 'pizza-pos', true]);
    assert.equal(closed.order.status, 'cancelled');
    take();
    v.applyEvent({ event: 'closed', order_number: 'A-1', status: 'cancelled', seq: 12 });                 // twice
    v.applyState('A-1', order('A-1', 'preparing', 9, 5), { retained: true });                            // the old retained copy
    v.applyState('A-1', order('A-1', 'ready', 13, 5));                                                   // a later state of the closed instance
    v.applyEvent({ event: 'status', order_number: 'A-1', status: 'ready', seq: 14 });
    assert.deepEqual(take(), []);
    assert.equal(v.orders.get('A-1').open, false);
    assert.deepEqual(v.openOrders(), []);
    v.applyState('A-2', order('A-2', 'ready', 10));
    v.applyEvent({ event: 'closed', order_number: 'A-2', status: 'served', seq: 15 });
    assert.deepEqual(events.map((e) => [e.type, e.status, e.previous, e.cancelled]), [['new', 'ready', undefined, undefined], ['closed', 'served', 'ready', false]]);
});

test('a station view\'s closing message (live, closed status) closes the order as its closed event; the retained clear after it changes nothing', () => {
    const { v, timers, events, take } = view();
    v.applyState('A-1', order('A-1', 'preparing', 9, 5, { items: ['oven'], stations: { oven: 'preparing', bar: 'new' } }), { retained: true, initial: true });
    take();
    v.applyState('A-1', order('A-1', 'cancelled', 12, 5, { items: ['oven'], stations: { oven: 'preparing', bar: 'new' } }));
    const closed = events.at(-1);
    assert.deepEqual([closed.type, closed.status, closed.previous, closed.seq, closed.cancelled], ['closed', 'cancelled', 'preparing', 12, true]);
    assert.equal(closed.order.status, 'cancelled');
    assert.deepEqual(closed.order.items, ['oven']);
    take();
    v.applyState('A-1', undefined);                                                // the retained clear that follows
    v.applyState('A-1', order('A-1', 'cancelled', 12, 5));                         // delivered twice (QoS 1)
    timers.advance(CLOSE_GRACE_MS * 2);
    assert.deepEqual(take(), [], 'no second close, no grace timer');
    assert.equal(v.orders.get('A-1').open, false);
    // Served leaves the same way, with its own status.
    v.applyState('A-2', order('A-2', 'ready', 13, 13), { retained: true });
    v.applyState('A-2', order('A-2', 'served', 14, 13));
    v.applyState('A-2', undefined);
    timers.advance(CLOSE_GRACE_MS * 2);
    assert.deepEqual(take(), ['new A-2 ready 13', 'closed A-2 served 14']);
    // For an order never shown it only keeps older copies away.
    v.applyState('A-3', order('A-3', 'cancelled', 20, 18));
    v.applyState('A-3', order('A-3', 'new', 18, 18), { retained: true });
    assert.deepEqual(take(), []);
    assert.deepEqual(v.openOrders(), []);
});

test('a closed event for an order never shown keeps its older copies away', () => {
    const { v, take } = view();
    v.applyEvent({ event: 'closed', order_number: 'A-1', status: 'served', seq: 14 });
    v.applyState('A-1', order('A-1', 'ready', 12, 3), { retained: true });
    v.applyState('A-1', order('A-1', 'ready', 15, 3));             // a higher seq, but the same instance
    assert.deepEqual(take(), []);
    assert.equal(v.orders.get('A-1').open, false);
});

test('a reused order number with a higher created_seq is a new order, not an update of the closed one', () => {
    const { v, events, take } = view();
    v.applyState('T-17', order('T-17', 'ready', 9, 5, { items: ['yesterday'] }));
    v.applyEvent({ event: 'closed', order_number: 'T-17', status: 'served', previous: 'ready', seq: 10 });
    take();
    v.applyState('T-17', order('T-17', 'new', 30, 30, { items: ['today'] }));
    assert.deepEqual(events.map((e) => [e.type, e.status, e.seq, e.order.items[0]]), [['new', 'new', 30, 'today']]);
    assert.equal(events[0].previous, undefined);
    assert.deepEqual(v.openOrders().map((o) => o.items[0]), ['today']);
    // Its created event (same seq) is the same order, not a third one.
    v.applyEvent({ event: 'created', order_number: 'T-17', status: 'new', seq: 30, order: { order_number: 'T-17', created_seq: 30 } });
    assert.equal(events.length, 1);
    // The same through a created event (before the retained state).
    v.applyEvent({ event: 'closed', order_number: 'T-17', status: 'cancelled', seq: 31 });
    v.applyEvent({ event: 'created', order_number: 'T-17', status: 'new', seq: 40, order: { order_number: 'T-17', created_seq: 40, items: ['later'] } });
    assert.deepEqual(events.slice(1).map((e) => [e.type, e.status, e.seq]), [['closed', 'cancelled', 31], ['new', 'new', 40]]);
});

test('a reused number whose old order still shows open (its close lost, or in its grace period) closes it and shows the new one', () => {
    const { v, timers, events, take } = view();
    v.applyState('T-17', order('T-17', 'ready', 9, 5, { items: ['yesterday'] }));
    take();
    v.applyState('T-17', undefined);                          // cleared: the grace timer runs
    v.applyState('T-17', order('T-17', 'new', 30, 30, { items: ['today'] }));
    assert.deepEqual(take(), ['closed T-17 closed 9', 'new T-17 new 30']);
    assert.equal(timers.size, 0, 'the old grace timer is stopped');
    timers.advance(CLOSE_GRACE_MS * 2);
    assert.deepEqual(events, [], 'the new order is not closed by the old timer');
    assert.deepEqual(v.openOrders().map((o) => o.items[0]), ['today']);
    // With no clear at all (the broker lost it): the new instance still wins.
    v.applyState('T-18', order('T-18', 'preparing', 40, 35));
    take();
    v.applyState('T-18', order('T-18', 'new', 50, 50));
    assert.deepEqual(take(), ['closed T-18 closed 40', 'new T-18 new 50']);
});

test('a cleared retained state closes the order after a grace period unless the closed event comes', () => {
    const { v, timers, events, take } = view();
    v.applyState('A-1', order('A-1', 'ready', 9));
    v.applyState('A-2', order('A-2', 'ready', 10));
    take();
    v.applyState('A-1', undefined);
    v.applyState('A-1', undefined);                       // twice: one timer
    v.applyState('A-2', undefined);
    v.applyState('Z-9', undefined);                       // unknown: nothing
    assert.equal(timers.size, 2);
    v.applyEvent({ event: 'closed', order_number: 'A-2', status: 'served', previous: 'ready', seq: 11 });
    assert.equal(timers.size, 1, 'the closed event stops its timer');
    timers.advance(CLOSE_GRACE_MS - 1);
    assert.deepEqual(take(), ['closed A-2 served 11']);
    timers.advance(1);
    assert.deepEqual(events.map((e) => [e.type, e.order_number, e.status, e.by, e.previous, e.cancelled]),
        [['closed', 'A-1', 'closed', null, 'ready', false]]);
    assert.deepEqual(v.openOrders(), []);
});

test('closeMissing closes what the snapshot lacked; the same state later brings it back', () => {
    const { v, events, take } = view();
    v.applyState('A-1', order('A-1', 'new', 5));
    v.applyState('A-2', order('A-2', 'preparing', 8, 6));
    v.applyState('A-3', order('A-3', 'new', 7));
    v.applyEvent({ event: 'closed', order_number: 'A-3', status: 'served', seq: 9 });
    take();
    v.closeMissing(new Set(['A-1']));
    assert.deepEqual(events.map((e) => [e.type, e.order_number, e.status, e.seq, e.by]), [['closed', 'A-2', 'closed', 8, null]]);
    assert.equal(v.orders.get('A-2').gone, true);
    take();
    v.applyState('A-2', order('A-2', 'preparing', 7, 6), { retained: true });    // older: still dropped
    assert.deepEqual(take(), []);
    v.applyState('A-2', order('A-2', 'preparing', 8, 6), { retained: true });    // a broker that had it after all
    assert.deepEqual(events.map((e) => [e.type, e.previous, e.status]), [['update', 'closed', 'preparing']]);
    assert.equal(v.orders.get('A-2').open, true);
    assert.equal(v.orders.get('A-2').gone, false);
});

test('replay, openOrders oldest first by created_seq, dispose stops the timers', () => {
    const { v, timers } = view();
    v.applyState('B', order('B', 'ready', 20, 7));
    v.applyState('A', order('A', 'new', 9, 9));
    v.applyState('C', { order_number: 'C', status: 'new', seq: 3 });            // no created_seq: its seq
    v.applyState('D', order('D', 'new', 4));
    v.applyEvent({ event: 'closed', order_number: 'D', status: 'cancelled', seq: 21 });
    assert.deepEqual(v.openOrders().map((o) => o.order_number), ['C', 'B', 'A']);
    const replayed = [];
    v.replay((ev) => replayed.push(ev));
    assert.deepEqual(replayed.map((e) => [e.type, e.order_number, e.status, e.seq, e.retained, e.initial, e.replay]),
        [['new', 'B', 'ready', 20, true, true, true], ['new', 'A', 'new', 9, true, true, true], ['new', 'C', 'new', 3, true, true, true]]);
    v.applyState('A', undefined);
    assert.equal(timers.size, 1);
    v.dispose();
    assert.equal(timers.size, 0);
});
