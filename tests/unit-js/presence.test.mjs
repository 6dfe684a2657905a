// presence: which screens are on (web-adapter/public/kb/presence.mjs, docs/CONTRACT.md
// "Presence"). The topic builders against the bridge's topic_presence() and
// topic_tenant_presence() (bridge/src/model/topics.c, read as text), the
// documents, the warnings a POS and a kitchen page show, and how a KitchenBus
// (kb/bus.mjs over a fake MQTT.js, adapter.mjs) announces itself: its will,
// the reconnect that sets it once the info is known, its goodbye, a refused
// will, and its tenant's presence for onPresence().
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as presence from '../../web-adapter/public/kb/presence.mjs';
import { loadAdapter, settle } from './adapter.mjs';
import { compileFunction, parseEnum, readSource } from './c-source.mjs';

const {
    presenceTopic, boardPresenceTopic, tenantPresenceFilter, devicePresenceTopic, parsePresenceTopic,
    onlineDoc, offlineDoc, isOnline, presenceSummary, presenceWarnings,
} = presence;

// ---- the C side ------------------------------------------------------------------
const roleIds = parseEnum(readSource('bridge/src/model/registry.h'), 'device_role');
const roleConstants = new Map([...roleIds.keys()].map((id) => [id, id]));       // DEVICE_POS -> 'DEVICE_POS'
const roleName = compileFunction(readSource('bridge/src/model/registry.c'), 'device_role_name', { constants: roleConstants });
const topicsC = readSource('bridge/src/model/topics.c');
// The builders are `return fits(snprintf(buf, len, "fmt", ...), len);` (topic_presence has two):
// run them with snprintf formatting the string and fits passing it on.
const cFunctions = {
    device_role_name: roleName, fits: (s) => s,
    snprintf: (buf, len, fmt, ...args) => fmt.replace(/%s/g, () => String(args.shift())),
};
const cPresence = compileFunction(topicsC, 'topic_presence', { constants: roleConstants, functions: cFunctions });
const cTenantPresence = compileFunction(topicsC, 'topic_tenant_presence', { constants: roleConstants, functions: cFunctions });
const C_ROLE = { pos: 'DEVICE_POS', kitchen: 'DEVICE_KITCHEN', expo: 'DEVICE_EXPO', board: 'DEVICE_BOARD' };
const T = 'tenant_t', D = 'device-d';

test('the presence topics are the ones the bridge builds (and grants)', () => {
    for (const role of ['pos', 'kitchen', 'expo']) {
        assert.equal(presenceTopic(T, role, D), cPresence(null, 0, T, C_ROLE[role], D), role);
        assert.equal(devicePresenceTopic({ tenant: T, role }, D), cPresence(null, 0, T, C_ROLE[role], D), `${role} from its info`);
    }
    assert.equal(boardPresenceTopic(D), cPresence(null, 0, null, C_ROLE.board, D));
    assert.equal(devicePresenceTopic({ role: 'board', tenants: [] }, D), cPresence(null, 0, null, C_ROLE.board, D));
    assert.equal(tenantPresenceFilter(T), cTenantPresence(null, 0, T));
    // The literal layout, for the record (docs/CONTRACT.md).
    assert.equal(presenceTopic('pizza', 'kitchen', 'pizza-oven'), 'outlet/tenant/pizza/kitchen/pizza-oven/presence');
    assert.equal(boardPresenceTopic('court-board'), 'outlet/board/court-board/presence');
    assert.equal(tenantPresenceFilter('pizza'), 'outlet/tenant/pizza/+/+/presence');
    // A device whose topic cannot be known has none.
    assert.equal(devicePresenceTopic(null, D), null);
    assert.equal(devicePresenceTopic({ role: 'pos' }, D), null, 'no tenant');
    assert.equal(devicePresenceTopic({ role: 'admin', tenant: T }, D), null);
    assert.equal(devicePresenceTopic({ role: 'pos', tenant: T }, ''), null);
});

test('a presence topic of the tenant is told apart from anything else', () => {
    assert.deepEqual(parsePresenceTopic(presenceTopic(T, 'expo', D), T), { role: 'expo', device: D });
    assert.deepEqual(parsePresenceTopic(cPresence(null, 0, T, C_ROLE.kitchen, D), T), { role: 'kitchen', device: D });
    for (const other of [presenceTopic('other', 'pos', D), `outlet/tenant/${T}/kitchen/${D}/ack`, `outlet/tenant/${T}/orders/A-1`,
        `outlet/tenant/${T}/board/${D}/presence`, `outlet/tenant/${T}/pos/${D}/presence/x`, `outlet/tenant/${T}/pos//presence`,
        boardPresenceTopic(D), '', null]) {
        assert.equal(parsePresenceTopic(other, T), null, String(other));
    }
});

test('the documents: online with what is known, offline (a station screen names its station)', () => {
    assert.deepEqual(onlineDoc({ since: '2026-12-01T10:00:00.000Z', page: '/kitchen', version: '0.9.0', userAgent: 'UA', station: 'oven' }),
        { online: true, since: '2026-12-01T10:00:00.000Z', page: '/kitchen', version: '0.9.0', user_agent: 'UA', station: 'oven' });
    assert.deepEqual(onlineDoc({ since: 'x' }), { online: true, since: 'x' }, 'unknown fields omitted');
    assert.deepEqual(offlineDoc({ role: 'kitchen', tenant: T }), { online: false });
    assert.deepEqual(offlineDoc({ role: 'kitchen', tenant: T, station: 'oven' }), { online: false, station: 'oven' });
    assert.deepEqual(offlineDoc(null), { online: false });
    assert.deepEqual([{ online: true }, { online: false }, { online: 'yes' }, {}, null, undefined, 'x'].map(isOnline),
        [true, false, false, false, false, false, false]);
});

// ---- the warnings -----------------------------------------------------------------
const P = (role, device) => presenceTopic('pizza', role, device);
const on = (extra = {}) => ({ online: true, since: '2026-12-01T10:00:00.000Z', ...extra });
const off = (extra = {}) => ({ online: false, ...extra });
const POS = { device: 'pizza-pos', role: 'pos', tenant: 'pizza', tenant_name: 'Pizza Paradise', stations: ['oven', 'cold', 'bar'] };
const KITCHEN = { device: 'pizza-kitchen', role: 'kitchen', tenant: 'pizza', tenant_name: 'Pizza Paradise', stations: ['oven', 'cold', 'bar'] };
const EXPO = { ...KITCHEN, device: 'pizza-expo', role: 'expo' };
const OVEN = { ...KITCHEN, device: 'pizza-oven', station: 'oven' };
const texts = (docs, info) => presenceWarnings(docs, info).map((w) => w.text);

test('a POS warns while no kitchen or expo screen of its tenant is on', () => {
    const noKitchen = ['No kitchen screen is on for Pizza Paradise'];
    assert.deepEqual(texts(new Map(), POS), noKitchen, 'nothing known: no kitchen');
    assert.deepEqual(presenceWarnings(new Map(), POS), [{ key: 'kitchen', text: noKitchen[0] }]);
    const docs = new Map([[P('pos', 'pizza-pos'), on()], [P('kitchen', 'pizza-kitchen'), off()]]);
    assert.deepEqual(texts(docs, POS), noKitchen, 'a POS is not a kitchen; an offline kitchen does not count');
    docs.set(P('kitchen', 'pizza-kitchen'), on());
    assert.deepEqual(texts(docs, POS), []);
    docs.set(P('kitchen', 'pizza-kitchen'), undefined);                     // cleared
    assert.deepEqual(texts(docs, POS), noKitchen);
    assert.deepEqual(texts(new Map([[P('expo', 'pizza-expo'), on()]]), POS), [], 'the expo counts');
    assert.deepEqual(texts(new Map([[P('kitchen', 'pizza-oven'), on({ station: 'oven' })]]), POS), [], 'a station screen counts');
    // Another tenant's kitchen, or a kitchen saying something odd, does not.
    assert.deepEqual(texts(new Map([[presenceTopic('burger', 'kitchen', 'burger-kitchen'), on()]]), POS), noKitchen);
    assert.deepEqual(texts(new Map([[P('kitchen', 'pizza-kitchen'), { online: 'true' }], [P('kitchen', 'k2'), null]]), POS), noKitchen);
    // Plain objects work too; a tenant without a name is called by its id.
    assert.deepEqual(texts({ [P('kitchen', 'pizza-kitchen')]: on() }, POS), []);
    assert.deepEqual(texts(new Map(), { role: 'pos', tenant: 'pizza' }), ['No kitchen screen is on for pizza']);
    assert.deepEqual(presenceWarnings(new Map(), null), []);
});

test('the whole-order kitchen and the expo warn for each station that has screens but none on', () => {
    const docs = new Map([[P('kitchen', 'pizza-kitchen'), on()]]);
    assert.deepEqual(texts(docs, KITCHEN), [], 'no station screen ever: nothing to say');
    docs.set(P('kitchen', 'pizza-bar'), off({ station: 'bar' }));          // its will
    docs.set(P('kitchen', 'pizza-oven'), off({ station: 'oven' }));
    assert.deepEqual(presenceWarnings(docs, KITCHEN), [
        { key: 'station:oven', station: 'oven', text: 'No screen is on for station oven' },
        { key: 'station:bar', station: 'bar', text: 'No screen is on for station bar' }], 'in the tenant\'s order of stations');
    assert.deepEqual(texts(docs, EXPO), texts(docs, KITCHEN));
    docs.set(P('kitchen', 'pizza-oven'), on({ station: 'oven' }));
    assert.deepEqual(texts(docs, KITCHEN), ['No screen is on for station bar']);
    // Two screens at one station: one on is enough.
    docs.set(P('kitchen', 'pizza-bar-2'), on({ station: 'bar' }));
    assert.deepEqual(texts(docs, KITCHEN), []);
    docs.set(P('kitchen', 'pizza-bar-2'), off({ station: 'bar' }));
    assert.deepEqual(presenceSummary(docs, 'pizza', KITCHEN.stations), {
        kitchens: { screens: 4, online: 2 },
        stations: [{ station: 'oven', screens: 1, online: 1 }, { station: 'bar', screens: 2, online: 0 }],
    });
    // A station the tenant no longer lists is not reported; with no list, every station, by name.
    docs.set(P('kitchen', 'pizza-grill'), off({ station: 'grill' }));
    assert.deepEqual(texts(docs, KITCHEN), ['No screen is on for station bar']);
    assert.deepEqual(texts(docs, { ...KITCHEN, stations: undefined }), ['No screen is on for station bar', 'No screen is on for station grill']);
    // Only kitchens make a station's screens: a POS or an expo naming a station does not.
    assert.deepEqual(texts(new Map([[P('pos', 'pizza-pos'), off({ station: 'cold' })], [P('expo', 'e'), off({ station: 'cold' })]]), KITCHEN), []);
});

test('a station screen warns about nothing, its own station least of all; a POS says nothing about stations', () => {
    const docs = new Map([[P('kitchen', 'pizza-oven'), off({ station: 'oven' })], [P('kitchen', 'pizza-bar'), off({ station: 'bar' })]]);
    assert.deepEqual(texts(docs, OVEN), []);
    assert.deepEqual(texts(docs, { ...POS }), ['No kitchen screen is on for Pizza Paradise']);
});

// ---- a KitchenBus announcing itself (a fake MQTT.js) --------------------------------------
const { mod, mqtt } = await loadAdapter();
const buses = [];
after(async () => { for (const b of buses) await b.close().catch(() => {}); });

const TP = 'outlet/tenant/pizza';
const INFO = {
    kitchen: { device: 'pizza-kitchen', role: 'kitchen', tenant: 'pizza', tenant_name: 'Pizza Paradise', stations: ['oven', 'cold', 'bar'] },
    oven: { device: 'pizza-oven', role: 'kitchen', tenant: 'pizza', tenant_name: 'Pizza Paradise', stations: ['oven', 'cold', 'bar'], station: 'oven' },
    pos: { device: 'pizza-pos', role: 'pos', tenant: 'pizza', tenant_name: 'Pizza Paradise', stations: ['oven', 'cold', 'bar'] },
};
const willOf = (topic, doc = { online: false }) => ({ topic, payload: JSON.stringify(doc), qos: 1, retain: true });

async function device(name, opts = {}) {
    const username = `pizza-${name}`;
    const bus = await mod.connect({ url: 'ws://fake:3001', username, password: 'pw', presence: true, version: '9.9.9', backoffMinMs: 1, backoffMaxMs: 2, ...opts });
    buses.push(bus);
    const client = mqtt.last();
    const rec = { bus, client, username, topic: presenceTopic('pizza', INFO[name].role, username) };
    rec.info = (doc = INFO[name]) => client.deliver(`outlet/device/${username}/info`, doc, { retain: true });
    rec.health = () => client.deliver('outlet/bridge/health', { status: 'ok' }, { retain: true });
    /** The presence documents this device published (bodies). */
    rec.said = () => client.sent(rec.topic);
    return rec;
}

test('no cached info: the first CONNECT has no will; the info makes it connect again, once, with it', async () => {
    const k = await device('kitchen');
    assert.equal('will' in k.client.options, false, 'the topic needs the tenant: no will yet');
    k.client.open();
    await settle();
    assert.deepEqual(k.client.subscriptions, ['outlet/device/pizza-kitchen/info', 'outlet/bridge/health']);
    k.info();
    await settle();
    // A clean DISCONNECT (no will to suppress), then CONNECT again on the same session with the will.
    assert.equal(k.client.ended, true);
    assert.equal(k.client.reconnects, 1);
    assert.deepEqual(k.client.options.will, willOf(k.topic));
    assert.deepEqual(k.said(), [], 'nothing said without a will');
    assert.equal(k.client.subscriptions.length, 2, 'the tenant topics wait for the new connection');
    assert.notEqual(k.bus.state.reason, 'connection to the broker lost', 'a reconnect of our own is no lost connection');
    k.client.open({ sessionPresent: true });
    await settle();
    const [said] = k.said();
    assert.deepEqual(Object.keys(said).sort(), ['online', 'since', 'version']);
    assert.equal(said.online, true);
    assert.equal(said.version, '9.9.9');
    assert.ok(Math.abs(Date.parse(said.since) - Date.now()) < 5000, said.since);
    assert.deepEqual(k.client.subscriptions.slice(2, 5), [`${TP}/kitchen/pizza-kitchen/ack`, `${TP}/events`, `${TP}/orders/+`]);
    // The info again (the snapshot marker) changes nothing: once is enough.
    k.health();
    k.info();
    await settle();
    assert.equal(k.client.reconnects, 1);
    assert.equal(k.bus.state.state, 'live');
    // A dropped connection comes back with the same will and says online again.
    k.client.drop();
    await settle();
    assert.equal(k.bus.state.reason.startsWith('connection to the broker lost'), true);
    assert.deepEqual(k.client.options.will, willOf(k.topic));
    k.client.open({ sessionPresent: true });
    await settle();
    assert.deepEqual(k.said().map((d) => d.online), [true, true]);
});

test('a cached info: the will from the first CONNECT; close() says offline before the clean DISCONNECT', async () => {
    const store = new Map([['kb:info:pizza-oven', JSON.stringify(INFO.oven)]]);
    globalThis.localStorage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, String(v)), removeItem: (k) => store.delete(k) };
    try {
        const o = await device('oven');
        assert.deepEqual(o.client.options.will, willOf(o.topic, { online: false, station: 'oven' }));
        o.client.open();
        await settle();
        assert.deepEqual(o.said().map((d) => [d.online, d.station]), [[true, 'oven']]);
        assert.equal(o.client.reconnects, 0);
        o.info();
        await settle();
        assert.equal(o.client.reconnects, 0, 'the will was right: no reconnect');
        let endedAfter = null;
        const end = o.client.end.bind(o.client);
        o.client.end = (...a) => { endedAfter = o.said().length; return end(...a); };
        await o.bus.close();
        assert.deepEqual(o.said().at(-1), { online: false, station: 'oven' });
        assert.equal(endedAfter, 2, 'offline was said before the connection ended');
        assert.equal(o.client.ended, true);
    } finally {
        delete globalThis.localStorage;
    }
});

test('a will the broker refuses: once more without it (not a refused login), the next connection with it again', async () => {
    const store = new Map([['kb:info:pizza-pos', JSON.stringify(INFO.pos)]]);
    globalThis.localStorage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, String(v)), removeItem: (k) => store.delete(k) };
    try {
        const p = await device('pos');
        assert.deepEqual(p.client.options.will, willOf(p.topic));
        p.client.fail(Object.assign(new Error('Connection refused: Not authorized'), { code: 135 }));
        assert.ok(!p.bus.authRefused, "not a refused login");
        assert.match(p.bus.state.reason, /presence will/);
        assert.equal('will' in p.client.options, false);
        p.client.open();
        await settle();
        assert.deepEqual(p.said(), [], 'no will on this connection: nothing said');
        assert.deepEqual(p.client.options.will, willOf(p.topic), 'the next connection tries with the will again');
        p.info();
        await settle();
        assert.equal(p.client.reconnects, 0, 'no reconnect for the will while the broker refuses it');
        // Refused again without a will: that is a refused login.
        p.client.drop();
        p.client.fail(Object.assign(new Error('Connection refused: Not authorized'), { code: 135 }));
        p.client.fail(Object.assign(new Error('Connection refused: Not authorized'), { code: 135 }));
        assert.equal(p.bus.authRefused, true);
        assert.match(p.bus.state.reason, /^login refused: not authorized/);
        await p.bus.close();
        assert.deepEqual(p.said(), [], 'close() has nothing to say either');
    } finally {
        delete globalThis.localStorage;
    }
});

test('onPresence: the tenant\'s documents, complete once the info behind them arrives; our own offline is answered', async () => {
    const p = await device('pos');
    const seen = [];
    p.bus.onPresence(({ synced, docs }) => seen.push({ synced, n: docs.size, warnings: texts(docs, p.bus.info || POS) }));
    assert.deepEqual(seen, [{ synced: false, n: 0, warnings: ['No kitchen screen is on for Pizza Paradise'] }]);
    p.client.open();
    await settle();
    p.info();
    await settle();
    p.client.open();                                            // the reconnect with the will
    await settle();
    assert.deepEqual(p.client.subscriptions.slice(2), [`${TP}/pos/pizza-pos/ack`, `${TP}/events`, `${TP}/orders/+`,
        `${TP}/+/+/presence`, 'outlet/bridge/health', 'outlet/device/pizza-pos/info'], 'presence before the snapshot marker');
    p.client.deliver(P('kitchen', 'pizza-kitchen'), on(), { retain: true });
    p.client.deliver(p.topic, on(), { retain: true });
    await settle();
    assert.equal(p.bus.presenceSynced, false, 'not complete before the marker');
    p.health();
    p.info();
    await settle();
    assert.deepEqual(seen.at(-1), { synced: true, n: 2, warnings: [] });
    p.client.deliver(P('kitchen', 'pizza-kitchen'), off(), { retain: true });
    assert.deepEqual(seen.at(-1), { synced: true, n: 2, warnings: ['No kitchen screen is on for Pizza Paradise'] });
    p.client.deliver(P('kitchen', 'pizza-kitchen'), undefined, { retain: true });
    assert.equal(seen.at(-1).n, 1, 'a cleared document is gone');
    // Another tab of this device closed and said offline: this one is still on.
    const before = p.said().length;
    p.client.deliver(p.topic, off(), { retain: true });
    await settle();
    assert.deepEqual(p.said().slice(before).map((d) => d.online), [true]);
    // Offline: not known any more (the page shows no warning then).
    p.client.drop();
    await settle();
    assert.equal(seen.at(-1).synced, false);
});

test('a late onPresence subscribes on its own, with its own marker', async () => {
    const k = await device('kitchen');
    k.client.open();
    await settle();
    k.info();
    await settle();
    k.client.open();
    await settle();
    k.health();
    k.info();
    await settle();
    assert.equal(k.bus.subscribed, true);
    const n = k.client.subscriptions.length;
    let last = null;
    k.bus.onPresence((x) => { last = { synced: x.synced, docs: new Map(x.docs) }; });
    await settle();
    assert.deepEqual(k.client.subscriptions.slice(n), [`${TP}/+/+/presence`, 'outlet/device/pizza-kitchen/info']);
    k.client.deliver(P('kitchen', 'pizza-bar'), off({ station: 'bar' }), { retain: true });
    assert.equal(last.synced, false);
    k.info();
    await settle();
    assert.equal(last.synced, true);
    assert.deepEqual(presenceWarnings(last.docs, k.bus.info).map((w) => w.text), ['No screen is on for station bar']);
    assert.equal(k.client.reconnects, 1, 'the marker is no reason to reconnect');
});

test('in a page: presence is on by default, with the page path; pagehide says goodbye, pageshow from the cache comes back', async () => {
    const handlers = new Map();
    Object.assign(globalThis, {
        location: { pathname: '/pos', hostname: 'fake', protocol: 'http:' },
        addEventListener: (name, fn) => handlers.set(name, fn),
        removeEventListener: (name, fn) => { if (handlers.get(name) === fn) handlers.delete(name); },
    });
    try {
        const bus = await mod.connect({ url: 'ws://fake:3001', username: 'pizza-pos', password: 'pw', backoffMinMs: 1, backoffMaxMs: 2 });
        buses.push(bus);
        const client = mqtt.last();
        const topic = presenceTopic('pizza', 'pos', 'pizza-pos');
        assert.deepEqual([...handlers.keys()].sort(), ['pagehide', 'pageshow']);
        client.open();
        await settle();
        client.deliver('outlet/device/pizza-pos/info', INFO.pos, { retain: true });
        await settle();
        client.open();
        await settle();
        assert.deepEqual(client.sent(topic).map((d) => [d.online, d.page]), [[true, '/pos']]);
        handlers.get('pagehide')();
        await settle();
        assert.deepEqual(client.sent(topic).at(-1), { online: false });
        assert.equal(client.connected, false);
        assert.equal(bus.closedByUser, true, 'no reconnect while hidden');
        const reconnects = client.reconnects;
        handlers.get('pageshow')({ persisted: true });
        assert.equal(client.reconnects, reconnects + 1);
        await bus.close();
        assert.equal(handlers.size, 0, 'close() removes its handlers');
    } finally {
        for (const k of ['location', 'addEventListener', 'removeEventListener']) delete globalThis[k];
    }
});

test('kitchen-bus.mjs gives a POS developer the presence helpers', () => {
    for (const name of ['presenceTopic', 'boardPresenceTopic', 'tenantPresenceFilter', 'presenceSummary', 'presenceWarnings']) {
        assert.equal(typeof mod[name], 'function', name);
    }
    assert.equal(typeof mod.KitchenBus.prototype.onPresence, 'function');
});
