// exports: /kitchen-bus.mjs keeps the public API pages and outside POS code
// import (README.md, "Using the adapter from your own POS"): the same names,
// kinds, arities and values as before it was split into kb/.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadAdapter } from './adapter.mjs';

const { mod } = await loadAdapter();
const buses = [];
after(async () => { for (const b of buses) await b.close(); });

// name -> [kind, arity] (kind: function | async | class | store | value)
const EXPECTED = {
    VERSION: ['value', '1.0.0'], LIVE: ['value', 'live'], DEGRADED: ['value', 'degraded'], OFFLINE: ['value', 'offline'],
    nextStatus: ['function', 1], writable: ['function', 1], stableClientId: ['function', 1], newOrderNumber: ['function', 0],
    KitchenBus: ['class', 1], connect: ['async', 1], loadConfig: ['async', 0],
    localSyncStatus: ['store'], kitchenSyncStatus: ['store'], liveOrders: ['store'],
    connectToLocalSync: ['async', 0], connectKitchenToLocalSync: ['async', 0], disconnectFromLocalSync: ['async', 0],
    broadcastOrderToKitchen: ['function', 1], broadcastOrderUpdate: ['function', 2], onNewOrder: ['function', 1],
    acknowledgeOrder: ['function', 1], sharedBus: ['function', 0],
    // Presence (contract 1.3): who is on, and the warnings the pages show.
    presenceTopic: ['function', 3], boardPresenceTopic: ['function', 1], tenantPresenceFilter: ['function', 1],
    presenceSummary: ['function', 2], presenceWarnings: ['function', 2],
};
const METHODS = {
    start: ['async', 0], close: ['async', 0], reconnectNow: ['function', 0], submitOrder: ['function', 1],
    cancelOrder: ['function', 1], setStatus: ['function', 2], onOrder: ['function', 1], onState: ['function', 1],
    onAck: ['function', 1], onOutbox: ['function', 1], onInfo: ['function', 1], openOrders: ['function', 0], pending: ['function', 0],
    onPresence: ['function', 1], reprint: ['function', 1],
};
const kindOf = (v) => {
    if (typeof v === 'function') {
        if (/^class\b/.test(Function.prototype.toString.call(v))) return 'class';
        return v.constructor.name === 'AsyncFunction' ? 'async' : 'function';
    }
    if (v && typeof v === 'object' && typeof v.subscribe === 'function') return 'store';
    return 'value';
};

test('the same exports, no more and no fewer', () => {
    assert.deepEqual(Object.keys(mod).sort(), Object.keys(EXPECTED).sort());
});

test('each export has the same kind and arity (or value)', () => {
    for (const [name, [kind, x]] of Object.entries(EXPECTED)) {
        assert.equal(kindOf(mod[name]), kind, name);
        if (kind === 'value') assert.equal(mod[name], x, name);
        else if (kind !== 'store') assert.equal(mod[name].length, x, `${name}.length`);
    }
    assert.equal(mod.connectKitchenToLocalSync, mod.connectToLocalSync);
});

test('KitchenBus has the same public methods', () => {
    const proto = Object.getOwnPropertyDescriptors(mod.KitchenBus.prototype);
    const methods = Object.entries(proto).filter(([n, d]) => n !== 'constructor' && !n.startsWith('_') && typeof d.value === 'function');
    assert.deepEqual(methods.map(([n]) => n).sort(), Object.keys(METHODS).sort());
    for (const [name, d] of methods) {
        assert.equal(kindOf(d.value), METHODS[name][0], name);
        assert.equal(d.value.length, METHODS[name][1], `${name}.length`);
    }
});

test('a bus has the fields pages and tests read, with their starting values', async () => {
    assert.throws(() => new mod.KitchenBus({ url: 'ws://x' }), /needs url and username/);
    const bus = await mod.connect({ url: 'ws://x', username: 'pizza-kitchen', password: 'p' });
    buses.push(bus);
    assert.equal(bus.username, 'pizza-kitchen');
    assert.match(bus.clientId, /^kb-pizza-kitchen-[0-9a-f]{12}$/);
    assert.equal(bus.info, null);
    assert.equal(bus.health, null);
    assert.equal(bus.connected, false);
    assert.equal(bus.subscribed, false);
    assert.equal(bus.lastError, null);
    assert.deepEqual({ ...bus.state, since: 0 }, { state: 'offline', reason: 'connecting to the broker', since: 0, outbox: 0 });
    assert.ok(bus.orders instanceof Map);
    assert.deepEqual(bus.stats, { orders: 0, cleared: 0, events: 0, acks: 0, created: new Map() });
    assert.deepEqual(bus.queue, []);
    assert.deepEqual(bus.pending(), []);
    assert.deepEqual(bus.openOrders(), []);
    for (const f of ['url', 'password', 'explicitClientId', 'sessionExpiry', 'backoffMinMs', 'backoffMaxMs', 'resendAfterMs', 'keepalive',
        'log', 'epoch', 'attempt', 'closedByUser', 'outbox', 'waiters', 'listeners', 'sync', 'client', 'ownsClientId', 'timer']) {
        assert.ok(f in bus, `bus.${f}`);
    }
    assert.equal(bus.sessionExpiry, 7 * 24 * 3600);
    assert.equal(bus.keepalive, 10);
    assert.equal(bus.resendAfterMs, 8000);
});

test('the stores and the small helpers behave as before', () => {
    assert.deepEqual(mod.localSyncStatus.get(), { connected: false, error: null, lastConnected: null, clientId: null, state: 'offline', outbox: 0 });
    assert.deepEqual(mod.kitchenSyncStatus.get(), { connected: false, error: null, lastOrder: null, state: 'offline', outbox: 0 });
    assert.deepEqual(mod.liveOrders.get(), []);
    const s = mod.writable(1);
    const seen = [];
    const off = s.subscribe((v) => seen.push(v));
    s.set(2);
    s.update((v) => v + 1);
    off();
    s.set(9);
    assert.deepEqual(seen, [1, 2, 3]);
    assert.equal(s.get(), 9);
    assert.deepEqual(['new', 'accepted', 'preparing', 'ready', 'served', 'cancelled', 'x'].map(mod.nextStatus),
        ['accepted', 'preparing', 'ready', 'served', null, null, null]);
    assert.match(mod.newOrderNumber(), /^W-[0-9A-Z]{1,6}[0-9A-F]{3}$/);
    assert.match(mod.newOrderNumber('P'), /^P-/);
    assert.match(mod.stableClientId('pizza-pos'), /^kb-pizza-pos-[0-9a-f]{12}$/);
    assert.equal(mod.sharedBus(), null);
    const warn = console.warn;
    const warnings = [];
    console.warn = (msg) => warnings.push(msg);
    try {
        assert.equal(mod.broadcastOrderToKitchen({ order_number: 'A-1' }), false, 'no shared connection yet');
        assert.equal(mod.broadcastOrderUpdate('A-1', 'ready'), false);
        assert.equal(mod.acknowledgeOrder('A-1'), false);
    } finally {
        console.warn = warn;
    }
    assert.deepEqual(warnings, ['broadcastOrderToKitchen: call connectToLocalSync() first',
        'broadcastOrderUpdate: call connectToLocalSync() first', 'acknowledgeOrder: call connectToLocalSync() first']);
});
