// c_tables: the browser's topic layout and status lifecycle (web-adapter/public/kb/
// topics.mjs, status.mjs) against the bridge's C tables, read as text from
// bridge/src/model/{order_status.h,order_status.c,topics.h,topics.c,registry.c}, so
// neither side can change alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as status from '../../web-adapter/public/kb/status.mjs';
import * as topics from '../../web-adapter/public/kb/topics.mjs';
import { compileFunction, compileTopicBuilder, parseEnum, parseStringDefines, parseStringTable, readSource } from './c-source.mjs';

// ---- the C side ---------------------------------------------------------------
const statusH = readSource('bridge/src/model/order_status.h');
const statusC = readSource('bridge/src/model/order_status.c');
const ordinal = parseEnum(statusH, 'order_status');                 // ORDER_STATUS_NEW -> 1
const names = parseStringTable(statusC, 'status_names');            // ORDER_STATUS_NEW -> 'new'
const cIsOpen = compileFunction(statusC, 'order_status_is_open', { constants: ordinal });
const cCanMove = compileFunction(statusC, 'order_status_can_move', { constants: ordinal, functions: { order_status_is_open: cIsOpen } });
const INVALID = ordinal.get('ORDER_STATUS_INVALID');
const byOrdinal = [...ordinal].filter(([id]) => id !== 'ORDER_STATUS_INVALID').sort((a, b) => a[1] - b[1])
    .map(([id, n]) => { assert.ok(names.has(id), `status_names has no name for ${id}`); return { name: names.get(id), n }; });
const cStatuses = byOrdinal.map((s) => s.name);
/** order_status_parse: a name, or INVALID for anything else. */
const cParse = (name) => byOrdinal.find((s) => s.name === name)?.n ?? INVALID;
const cCan = (from, to) => cCanMove(cParse(from), cParse(to));

const registryC = readSource('bridge/src/model/registry.c');
const roles = parseEnum(readSource('bridge/src/model/registry.h'), 'device_role');
const roleConstants = new Map([...roles.keys()].map((id) => [id, id]));    // DEVICE_POS -> 'DEVICE_POS'
const roleName = compileFunction(registryC, 'device_role_name', { constants: roleConstants });
const topicsH = readSource('bridge/src/model/topics.h');
const topicsC = readSource('bridge/src/model/topics.c');
const defines = parseStringDefines(topicsH);
const builder = (name) => compileTopicBuilder(topicsC, name, { constants: roleConstants, functions: { device_role_name: roleName } });
const c = {
    deviceIn: builder('topic_device_in'), ack: builder('topic_ack'), order: builder('topic_order'),
    events: builder('topic_events'), deviceInfo: builder('topic_device_info'),
    stationOrder: builder('topic_station_order'), board: builder('topic_board'),
};
const C_ROLE = { pos: 'DEVICE_POS', kitchen: 'DEVICE_KITCHEN', expo: 'DEVICE_EXPO' };

// Odd but valid ids, so a swapped argument shows.
const T = 'tenant_t', D = 'device-d', N = 'A-1001.x';

// ---- statuses -------------------------------------------------------------------
test('the C sources read as expected (the parser itself)', () => {
    assert.ok(cStatuses.length >= 6, `statuses: ${cStatuses}`);
    assert.equal(cCan('new', 'accepted'), true);
    assert.equal(cCan('served', 'new'), false);
    assert.equal(roleName('DEVICE_POS'), 'pos');
    assert.equal(c.events('x'), 'outlet/tenant/x/events');
});

test('the same statuses, in the same order', () => {
    assert.deepEqual([...status.STATUSES], cStatuses);
    assert.deepEqual([...status.LIFECYCLE, status.CANCELLED].sort(), [...cStatuses].sort());
});

test('the same open and closed statuses', () => {
    for (const s of cStatuses) {
        const open = cIsOpen(cParse(s));
        assert.equal(status.isOpen(s), open, `isOpen(${s})`);
        assert.equal(status.isClosed(s), !open, `isClosed(${s})`);
    }
    assert.deepEqual([...status.OPEN_STATUSES], cStatuses.filter((s) => cIsOpen(cParse(s))));
    assert.deepEqual([...status.CLOSED_STATUSES], cStatuses.filter((s) => !cIsOpen(cParse(s))));
    for (const odd of ['invalid', 'bogus', '', null, undefined, 'constructor']) {
        assert.equal(status.isOpen(odd), false, `isOpen(${odd})`);
        assert.equal(status.isClosed(odd), false, `isClosed(${odd})`);
    }
});

test('every move the bridge allows the browser allows, and no other', () => {
    const odd = ['invalid', 'bogus', '', null, undefined, '__proto__', 'hasOwnProperty'];
    const all = [...cStatuses, ...odd];
    const allowed = [];
    let pairs = 0;
    for (const from of all) {
        for (const to of all) {
            pairs++;
            const want = cCan(from, to);
            assert.equal(status.canMove(from, to), want, `canMove(${from}, ${to}) should be ${want} as in order_status_can_move`);
            if (want) allowed.push(`${from}>${to}`);
        }
    }
    assert.equal(pairs, all.length ** 2);
    // What the contract (docs/CONTRACT.md) says, for the record: 4 forward, 1 recall, 4 cancels.
    assert.deepEqual(allowed.sort(), ['accepted>cancelled', 'accepted>preparing', 'new>accepted', 'new>cancelled',
        'preparing>cancelled', 'preparing>ready', 'ready>cancelled', 'ready>preparing', 'ready>served']);
});

test('nextStatus is the bridge\'s move to the next status; recallStatus its one move back', () => {
    for (const s of [...cStatuses, 'bogus', null]) {
        const i = cStatuses.indexOf(s);
        const succ = i >= 0 ? cStatuses[i + 1] : undefined;
        const next = succ && succ !== 'cancelled' && cCan(s, succ) ? succ : null;
        assert.equal(status.nextStatus(s), next, `nextStatus(${s})`);
        const back = cStatuses.filter((to, j) => j < i && cCan(s, to));
        assert.ok(back.length <= 1, `${s} has one way back at most`);
        assert.equal(status.recallStatus(s), back[0] ?? null, `recallStatus(${s})`);
    }
});

// ---- topics ---------------------------------------------------------------------
test('the device topics are the ones the bridge builds', () => {
    assert.equal(topics.submitTopic(T, D), c.deviceIn(T, C_ROLE.pos, D));
    assert.equal(topics.statusTopic(T, D), c.deviceIn(T, C_ROLE.kitchen, D));
    assert.equal(topics.statusTopic(T, D, 'expo'), c.deviceIn(T, C_ROLE.expo, D));
    for (const role of ['pos', 'kitchen', 'expo']) assert.equal(topics.ackTopic(T, role, D), c.ack(T, C_ROLE[role], D), `ack of a ${role}`);
    assert.equal(topics.stationOrderTopic(T, 'oven_1', N), c.stationOrder(T, 'oven_1', N));
    assert.equal(topics.stationOrdersPrefix(T, 'oven_1'), c.stationOrder(T, 'oven_1', ''));
    assert.equal(topics.boardTopic(T), c.board(T));
    assert.equal(topics.orderTopic(T, N), c.order(T, N));
    assert.equal(topics.ordersPrefix(T), c.order(T, ''));
    assert.equal(topics.ordersFilter(T), c.order(T, '+'));
    assert.equal(topics.eventsTopic(T), c.events(T));
    assert.equal(topics.deviceInfoTopic(D), c.deviceInfo(D));
    assert.equal(topics.HEALTH_TOPIC, defines.get('TOPIC_HEALTH'));
});

test('the bridge\'s subscriptions match what the browser publishes to and reads', () => {
    assert.equal(topics.submitTopic('+', '+'), defines.get('TOPIC_SUB_SUBMIT'));
    assert.equal(topics.statusTopic('+', '+'), defines.get('TOPIC_SUB_STATUS'));
    assert.equal(topics.ordersFilter('+'), defines.get('TOPIC_SUB_ORDERS'));
    assert.equal(topics.statusTopic('+', '+', 'expo'), defines.get('TOPIC_SUB_EXPO_STATUS'));
    assert.equal(topics.stationOrderTopic('+', '+', '+'), defines.get('TOPIC_SUB_STATION_VIEWS'));
});

test('deviceTopics of a station screen and an expo', () => {
    const s = topics.deviceTopics({ tenant: T, role: 'kitchen', station: 'oven_1' }, D);
    assert.equal(s.orders, c.stationOrder(T, 'oven_1', '+'));
    assert.equal(s.events, null, 'a station screen reads no events');
    assert.equal(s.status, c.deviceIn(T, C_ROLE.kitchen, D));
    assert.deepEqual(topics.classifyTenantTopic(c.stationOrder(T, 'oven_1', N), s), { kind: 'order', orderNumber: N });
    assert.equal(topics.classifyTenantTopic(c.order(T, N), s), null);
    assert.equal(topics.classifyTenantTopic(c.events(T), s), null);
    const e = topics.deviceTopics({ tenant: T, role: 'expo' }, D);
    assert.equal(e.status, c.deviceIn(T, C_ROLE.expo, D));
    assert.equal(e.ack, c.ack(T, C_ROLE.expo, D));
    assert.equal(e.orders, c.order(T, '+'));
});

test('deviceTopics of a POS and a kitchen device', () => {
    for (const role of ['pos', 'kitchen']) {
        const t = topics.deviceTopics({ tenant: T, role }, D);
        assert.deepEqual(t, {
            orders: c.order(T, '+'), ordersPrefix: c.order(T, ''), events: c.events(T), ack: c.ack(T, C_ROLE[role], D),
            submit: c.deviceIn(T, C_ROLE.pos, D), status: c.deviceIn(T, C_ROLE.kitchen, D),
            info: c.deviceInfo(D), health: defines.get('TOPIC_HEALTH'),
        }, role);
        // What arrives on the bridge's topics is told apart.
        assert.deepEqual(topics.classifyTenantTopic(c.order(T, N), t), { kind: 'order', orderNumber: N });
        assert.deepEqual(topics.classifyTenantTopic(c.events(T), t), { kind: 'events' });
        assert.deepEqual(topics.classifyTenantTopic(c.ack(T, C_ROLE[role], D), t), { kind: 'ack' });
        assert.equal(topics.classifyTenantTopic(c.ack(T, C_ROLE[role === 'pos' ? 'kitchen' : 'pos'], D), t), null);
        assert.equal(topics.classifyTenantTopic(c.events('other'), t), null);
        assert.equal(topics.classifyTenantTopic(c.order('other', N), t), null);
    }
});

test('every topic builder the browser has is checked here', () => {
    const checked = ['submitTopic', 'statusTopic', 'ackTopic', 'ordersPrefix', 'orderTopic', 'ordersFilter', 'eventsTopic',
        'deviceInfoTopic', 'deviceTopics', 'classifyTenantTopic', 'HEALTH_TOPIC', 'stationOrdersPrefix', 'stationOrderTopic',
        'boardTopic'];
    assert.deepEqual(Object.keys(topics).sort(), [...checked].sort(), 'a new export of kb/topics.mjs needs a check against topics.c here');
});
