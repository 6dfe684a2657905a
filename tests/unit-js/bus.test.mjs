// bus: KitchenBus put together (web-adapter/public/kb/bus.mjs) over a fake
// MQTT.js client (adapter.mjs): the subscribe order and the retained snapshot,
// orders closed while away, the outbox over reconnects, and the state a
// screen shows; plus link.mjs's backoff and state rules on their own.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadAdapter, settle, FakeTimers } from './adapter.mjs';
import { Link, backoffDelay, connectionState, describeError } from '../../web-adapter/public/kb/link.mjs';

const { mod, mqtt } = await loadAdapter();
const buses = [];
after(async () => { for (const b of buses) await b.close(); });

const T = 'outlet/tenant/pizza';
const INFO = { kitchen: { device: 'pizza-kitchen', role: 'kitchen', tenant: 'pizza', tenant_name: 'Pizza' },
    pos: { device: 'pizza-pos', role: 'pos', tenant: 'pizza' } };

async function device(role) {
    const username = `pizza-${role}`;
    const bus = await mod.connect({ url: 'ws://fake:3001', username, password: 'pw' });
    buses.push(bus);
    const client = mqtt.last();
    const rec = { bus, client, orders: [], states: [], acks: [] };
    bus.onOrder((ev) => rec.orders.push(ev));
    bus.onState((s) => rec.states.push(s.state));
    bus.onAck((a) => rec.acks.push(a));
    rec.info = () => client.deliver(`outlet/device/${username}/info`, INFO[role], { retain: true });
    rec.health = (doc = { status: 'ok' }) => client.deliver('outlet/bridge/health', doc, { retain: true });
    /** Connect and go through the whole handshake, with `orders` as the retained snapshot. */
    rec.up = async (orders = [], { health = { status: 'ok' } } = {}) => {
        client.open({ sessionPresent: true });
        await settle();
        if (!client.subscriptions.includes(`${T}/orders/+`) || rec.needInfo) { rec.info(); await settle(); }
        for (const o of orders) client.deliver(`${T}/orders/${o.order_number}`, o, { retain: true });
        await settle();
        if (health) rec.health(health);
        rec.info();
        await settle();
    };
    return rec;
}
const order = (n, status, seq, created_seq = seq) => ({ order_number: n, status, seq, created_seq, items: [{ name: 'x', qty: 1 }] });

test('the handshake: info first, then the tenant topics, then health + info as the snapshot marker', async () => {
    const k = await device('kitchen');
    const { bus, client } = k;
    assert.equal(client.url, 'ws://fake:3001');
    assert.deepEqual({ ...client.options, clientId: 'x' }, {
        clientId: 'x', username: 'pizza-kitchen', password: 'pw', protocolVersion: 5, clean: false,
        properties: { sessionExpiryInterval: 604800 }, keepalive: 10, reconnectPeriod: 0, connectTimeout: 5000, resubscribe: false,
    });
    assert.equal(bus.state.state, 'offline');
    client.open();
    await settle();
    assert.deepEqual(client.subscriptions, ['outlet/device/pizza-kitchen/info', 'outlet/bridge/health']);
    assert.equal(bus.state.state, 'degraded');
    assert.match(bus.state.reason, /device's info/);
    k.info();
    await settle();
    assert.deepEqual(client.subscriptions.slice(2), [`${T}/kitchen/pizza-kitchen/ack`, `${T}/events`, `${T}/orders/+`,
        'outlet/bridge/health', 'outlet/device/pizza-kitchen/info']);
    assert.equal(bus.state.reason, 'bridge health unknown');
    client.deliver(`${T}/orders/A-1`, order('A-1', 'new', 5), { retain: true });
    k.health();
    k.info();
    await settle();
    assert.equal(bus.state.state, 'live');
    assert.deepEqual(k.orders.map((e) => [e.type, e.order_number, e.retained, e.initial]), [['new', 'A-1', true, true]]);
    // After the snapshot: a live order is not initial (the screen alerts for it).
    client.deliver(`${T}/events`, { event: 'created', order_number: 'A-2', status: 'new', seq: 6, order: order('A-2', 'new', 6) });
    client.deliver(`${T}/orders/A-2`, order('A-2', 'new', 6));
    assert.deepEqual(k.orders.slice(1).map((e) => [e.type, e.order_number, e.retained, e.initial]), [['new', 'A-2', false, false]]);
    assert.deepEqual(bus.openOrders().map((o) => o.order_number), ['A-1', 'A-2']);
    assert.deepEqual([bus.stats.orders, bus.stats.events, [...bus.stats.created]], [2, 1, [['A-2', 1]]]);
    // A late onOrder gets the open orders replayed.
    const late = [];
    bus.onOrder((ev) => late.push([ev.order_number, ev.replay]));
    assert.deepEqual(late, [['A-1', true], ['A-2', true]]);
});

test('orders closed while the screen was away are dropped once the snapshot is complete and the bridge is ok', async () => {
    const k = await device('kitchen');
    await k.up([order('A-1', 'new', 5), order('A-2', 'ready', 8, 6)]);
    assert.deepEqual(k.bus.openOrders().map((o) => o.order_number), ['A-1', 'A-2']);
    k.client.drop();
    await settle();
    assert.equal(k.bus.state.state, 'offline');
    assert.match(k.bus.state.reason, /connection to the broker lost/);
    // Back, but the bridge is not ok yet: nothing is dropped (a restarted broker may not have them back).
    await k.up([order('A-1', 'new', 5)], { health: { status: 'starting' } });
    assert.deepEqual(k.bus.openOrders().map((o) => o.order_number), ['A-1', 'A-2']);
    assert.equal(k.bus.state.state, 'degraded');
    k.client.drop();
    await settle();
    await k.up([order('A-1', 'accepted', 9, 5)]);
    assert.deepEqual(k.bus.openOrders().map((o) => [o.order_number, o.status]), [['A-1', 'accepted']]);
    const closed = k.orders.filter((e) => e.type === 'closed');
    assert.deepEqual(closed.map((e) => [e.order_number, e.status, e.by]), [['A-2', 'closed', null]]);
    // The retained snapshot after a reconnect is not initial: the page was running all along.
    assert.deepEqual(k.orders.filter((e) => e.type === 'new').map((e) => e.initial), [true, true]);
});

test('a POS order goes out once the device is live and settles on its ack', async () => {
    const p = await device('pos');
    const early = p.bus.submitOrder({ order_number: 'P-1', items: [{ name: 'x', qty: 1 }] });
    await settle();
    assert.deepEqual(p.client.published, []);
    assert.equal(p.bus.state.outbox, 1);
    assert.deepEqual(p.bus.pending().map((e) => [e.order_number, e.inFlight]), [['P-1', false]]);
    await p.up();
    // Sent once subscribed, and again when the bridge's health turns ok (it may
    // have missed the first); both are the stored copy, which the bridge dedupes.
    const sends = p.client.sent(`${T}/pos/pizza-pos/submit`);
    assert.deepEqual(sends.map((b) => [b.order_number, b.tenant_id, typeof b.created_at]), [['P-1', 'pizza', 'string'], ['P-1', 'pizza', 'string']]);
    assert.deepEqual(sends[0], sends[1]);
    p.client.deliver(`${T}/pos/pizza-pos/ack`, { order_number: 'P-1', result: 'accepted', seq: 3, status: 'new' });
    assert.deepEqual(await early, { order_number: 'P-1', result: 'accepted', seq: 3, status: 'new' });
    assert.equal(p.bus.state.outbox, 0);
    assert.equal(p.bus.stats.acks, 1);
    // A POS changes status through its submit topic; cancel is its own action.
    const served = p.bus.setStatus('P-1', 'served');
    const cancel = p.bus.setStatus('P-2', 'cancelled');
    await settle();
    assert.deepEqual(p.client.sent(`${T}/pos/pizza-pos/submit`).slice(2),
        [{ order_number: 'P-1', action: 'status', status: 'served' }, { order_number: 'P-2', action: 'cancel' }]);
    p.client.deliver(`${T}/pos/pizza-pos/ack`, { order_number: 'P-1', result: 'accepted', seq: 4, status: 'served' });
    p.client.deliver(`${T}/pos/pizza-pos/ack`, { order_number: 'P-2', result: 'rejected', error: 'unknown_order', detail: 'P-2' });
    assert.equal((await served).status, 'served');
    await assert.rejects(cancel, (err) => err.code === 'unknown_order');
    assert.deepEqual(p.acks.map((a) => a.result), ['accepted', 'accepted', 'rejected']);
});

test('what is in flight when the connection drops is sent again on the next one; journal trouble shows as degraded', async () => {
    const k = await device('kitchen');
    await k.up([order('A-1', 'new', 5)]);
    const moved = k.bus.setStatus('A-1', 'accepted');
    await settle();
    const status = `${T}/kitchen/pizza-kitchen/status`;
    assert.deepEqual(k.client.sent(status), [{ order_number: 'A-1', status: 'accepted' }]);
    k.client.drop();
    await settle();
    assert.equal(k.bus.state.outbox, 1);
    await k.up([order('A-1', 'new', 5)]);
    // Sent again after the reconnect (once subscribed, and once more when the bridge's health turns ok).
    assert.deepEqual(k.client.sent(status), Array(3).fill({ order_number: 'A-1', status: 'accepted' }));
    k.client.deliver(`${T}/kitchen/pizza-kitchen/ack`, { order_number: 'A-1', result: 'rejected', error: 'journal_unavailable' });
    k.bus._tick();
    assert.equal(k.bus.state.state, 'degraded');
    assert.equal(k.bus.state.reason, 'bridge cannot write its journal; orders are queued');
    assert.equal(k.bus.pending()[0].inFlight, false);
    // The bridge goes away and comes back: everything unacked goes again at once.
    k.health({ status: 'offline' });
    await settle();
    assert.match(k.bus.state.reason, /bridge offline: orders are queued/);
    k.health({ status: 'ok' });
    await settle();
    assert.equal(k.client.sent(status).length, 3, 'the journal retry still holds it back');
    k.bus.queue[0].retryAt = Date.now() - 1;                    // its JOURNAL_RETRY_MS are over
    k.bus._tick();
    assert.equal(k.client.sent(status).length, 4);
    k.client.deliver(`${T}/kitchen/pizza-kitchen/ack`, { order_number: 'A-1', result: 'accepted', seq: 6, status: 'accepted' });
    assert.equal((await moved).seq, 6);
});

test('a refused subscription and a refused login are shown with their reason', async () => {
    const k = await device('kitchen');
    k.client.refuse.add(`${T}/orders/+`);
    k.client.open();
    await settle();
    k.info();
    await settle();
    assert.equal(k.bus.state.state, 'degraded');
    assert.equal(k.bus.state.reason, `subscription refused: ${T}/orders/+`);
    const p = await device('pos');
    p.client.fail(Object.assign(new Error('Connection refused: Not authorized'), { code: 135 }));
    assert.equal(p.bus.authRefused, true);
    assert.equal(p.bus.state.state, 'offline');
    assert.match(p.bus.state.reason, /^login refused: not authorized/);
    await p.bus.close();
    assert.deepEqual({ state: p.bus.state.state, reason: p.bus.state.reason }, { state: 'offline', reason: 'closed' });
    assert.equal(p.client.ended, true);
});

test('the cached device info lets a known device subscribe to its tenant at once', async () => {
    const store = new Map();
    globalThis.localStorage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, String(v)), removeItem: (k) => store.delete(k) };
    try {
        const first = await device('kitchen');
        await first.up();
        assert.equal(store.get('kb:info:pizza-kitchen'), JSON.stringify(INFO.kitchen));
        const id = store.get('kb:client-id:pizza-kitchen');
        assert.match(id, /^kb-pizza-kitchen-/);
        const again = await device('kitchen');
        assert.equal(again.client.options.clientId, id, 'the same client id on this browser');
        assert.deepEqual(again.bus.info, INFO.kitchen);
        again.client.open();
        await settle();
        assert.deepEqual(again.client.subscriptions.slice(0, 3), [`${T}/kitchen/pizza-kitchen/ack`, `${T}/events`, `${T}/orders/+`]);
    } finally {
        delete globalThis.localStorage;
    }
});

// ---- link.mjs on its own ---------------------------------------------------------
test('backoff doubles from the minimum, is capped, and jitters into its upper half', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 30].map((a) => backoffDelay(a, 500, 10000, () => 1)), [500, 1000, 2000, 4000, 8000, 10000, 10000]);
    assert.deepEqual([0, 1, 5].map((a) => backoffDelay(a, 500, 10000, () => 0)), [250, 500, 5000]);
});

test('the state rules: offline, degraded for each reason, live', () => {
    const up = { connected: true, info: { tenant: 't' }, subscribed: true, health: { status: 'ok' }, lastError: null };
    assert.deepEqual(connectionState({ connected: false }, 0), { state: 'offline', reason: 'connecting to the broker' });
    assert.deepEqual(connectionState({ connected: false, lastError: 'x', nextRetryAt: 2500 }, 1000), { state: 'offline', reason: 'x; retrying in 2 s' });
    assert.deepEqual(connectionState({ connected: false, lastError: 'x', nextRetryAt: 900 }, 1000), { state: 'offline', reason: 'x' });
    assert.equal(connectionState({ ...up, info: null }).reason, 'waiting for the bridge to publish this device\'s info');
    assert.equal(connectionState({ ...up, subscribed: false }).reason, 'subscribing');
    assert.equal(connectionState({ ...up, subscribed: false, lastError: 'refused' }).reason, 'refused');
    assert.equal(connectionState({ ...up, health: null }).reason, 'bridge health unknown');
    assert.equal(connectionState({ ...up, health: { status: 'degraded', broker: 'disconnected' } }).reason,
        'bridge degraded (broker disconnected): orders are queued');
    assert.equal(connectionState({ ...up, health: { status: 'degraded', broker: 'connected' } }).reason, 'bridge degraded: orders are queued');
    assert.deepEqual(connectionState({ ...up, lastError: 'journal', retrying: true }), { state: 'degraded', reason: 'journal' });
    assert.deepEqual(connectionState({ ...up, lastError: 'journal', retrying: false }), { state: 'live', reason: 'broker and bridge up' });
    assert.deepEqual(describeError({ code: 134 }), { message: 'login refused: bad username or password', refused: true });
    assert.deepEqual(describeError(new Error('ECONNREFUSED')), { message: 'ECONNREFUSED', refused: false });
});

test('the link reconnects after its backoff, and at once when asked', () => {
    const timers = new FakeTimers();
    let client;
    const retries = [];
    const link = new Link({
        connect: (url, opts) => { client = { url, opts, connected: false, reconnects: 0, handlers: {}, on(e, f) { this.handlers[e] = f; }, reconnect() { this.reconnects++; } }; return client; },
        url: 'ws://x', options: { clientId: 'c' }, backoffMinMs: 100, backoffMaxMs: 400, on: { retry: () => retries.push(link.nextRetryAt) },
        setTimeout: timers.setTimeout, clearTimeout: timers.clearTimeout, now: () => timers.now, random: () => 1,
    }).start();
    client.handlers.close();
    assert.deepEqual(retries, [100]);
    timers.advance(99);
    assert.equal(client.reconnects, 0);
    timers.advance(1);
    assert.equal(client.reconnects, 1);
    client.handlers.close();
    client.handlers.close();                                    // one timer at a time
    assert.equal(timers.size, 1);
    timers.advance(200);
    assert.equal(client.reconnects, 2);
    client.handlers.close();
    assert.equal(link.attempt, 3);
    link.reconnectNow();
    assert.equal(client.reconnects, 3);
    assert.equal(link.attempt, 0);
    client.handlers.connect({});
    assert.deepEqual([link.connected, link.epoch], [true, 1]);
    link.stop();
    client.handlers.close();
    assert.equal(timers.size, 0, 'stopped: no more reconnects');
});
