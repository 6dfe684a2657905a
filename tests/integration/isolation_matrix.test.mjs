// isolation_matrix: for every pair of demo tenants, every device role and
// both MQTT transports (TCP and WebSockets), every topic family and wildcard
// of the other tenant is refused, and no message ever crosses tenants; the
// same for legacy WebSocket clients on 3002, which also try to declare
// another tenant and to submit orders into it. Station, expo and board
// devices (contract 1.2) get their own matrix: a station reads only its
// station's views, an expo only its tenant, a board only the board
// documents of its tenants, and none of them receives what it may not. The
// tests print how many attempts they made; the granted and cross figures
// must be 0.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startBus, mqttClient, subscribe, publish, posDevice, kitchenDevice, makeOrder, waitFor, legacyClient, readJson,
  DEMO_REGISTRY, parse, stationViewTopic, boardTopic, expoStatusTopic, stationDevice,
} from '../lib/harness.mjs';

const TENANTS = ['pizza', 'burger', 'noodle'];
const ROLES = ['pos', 'kitchen'];
const TRANSPORTS = ['tcp', 'ws'];
const REFUSED = 0x87;
const STATIONS = ['oven', 'cold', 'bar']; // pizza's, in the demo registry

// The demo registry, plus a board for some tenants only (the demo's
// court-board shows every tenant).
const registry = readJson(DEMO_REGISTRY);
registry.boards = [...registry.boards, { username: 'pizza-counter', tenants: ['pizza', 'noodle'] }];

let bus;
before(async () => { bus = await startBus({ registry }); });
after(async () => { await bus?.stop(); });

function foreignFilters(other) {
  return [
    `outlet/tenant/${other}/orders/+`, `outlet/tenant/${other}/orders/X-1`, `outlet/tenant/${other}/orders/#`,
    `outlet/tenant/${other}/events`, `outlet/tenant/${other}/#`,
    `outlet/tenant/${other}/pos/${other}-pos/ack`, `outlet/tenant/${other}/kitchen/${other}-kitchen/ack`,
    `outlet/tenant/${other}/pos/${other}-pos/submit`, `outlet/tenant/${other}/kitchen/${other}-kitchen/status`,
    `outlet/tenant/${other}/pos/+/ack`, `outlet/device/${other}-pos/info`, `outlet/device/${other}-kitchen/info`,
    `outlet/tenant/${other}/stations/+/orders/+`, `outlet/tenant/${other}/stations/#`,
    `outlet/tenant/${other}/stations/oven/orders/+`, `outlet/tenant/${other}/expo/+/ack`, `outlet/board/${other}`,
  ];
}
const WILDCARDS = ['#', '+', 'outlet/#', 'outlet/+', 'outlet/tenant/#', 'outlet/tenant/+/orders/+',
  'outlet/tenant/+/events', 'outlet/tenant/+/#', 'outlet/device/+/info', '+/+/+/+/+', '+/tenant/+/orders/+',
  '$SYS/#', '$CONTROL/#', '$CONTROL/dynamic-security/v1/response', '$share/g/outlet/#',
  'outlet/tenant/+/stations/+/orders/+', 'outlet/board/+', 'outlet/board/#', '+/board/+', '+/+/+/+/+/+/+'];

test('every foreign topic and wildcard is refused, for every device, tenant pair and transport', async () => {
  let attempts = 0;
  let granted = 0;
  const clients = [];
  for (const transport of TRANSPORTS) {
    for (const tenant of TENANTS) {
      for (const role of ROLES) {
        const device = `${tenant}-${role}`;
        const c = await mqttClient(bus, device, device, { transport });
        clients.push({ c, tenant, device, transport });
        const filters = [...WILDCARDS, ...TENANTS.filter((t) => t !== tenant).flatMap(foreignFilters)];
        const result = await subscribe(c, filters);
        attempts += filters.length;
        result.forEach((q, i) => { if (q !== REFUSED) { granted += 1; console.log(`GRANTED ${device}/${transport}: ${filters[i]}`); } });
        // Publishing into another tenant, onto state topics, or someone else's device topic.
        for (const other of TENANTS) {
          for (const topic of [`outlet/tenant/${other}/orders/FORGED`, `outlet/tenant/${other}/events`,
            `outlet/tenant/${other}/stations/oven/orders/FORGED`, `outlet/board/${other}`,
            ...(other === tenant ? [] : [`outlet/tenant/${other}/pos/${other}-pos/submit`, `outlet/tenant/${other}/kitchen/${other}-kitchen/status`]),
            `outlet/tenant/${other}/pos/${device}/submit`]) {
            if (other === tenant && topic.endsWith(`/pos/${device}/submit`) && role === 'pos') continue; // its own
            const r = await publish(c, topic, makeOrder(other));
            attempts += 1;
            if (r.reasonCode !== REFUSED) { granted += 1; console.log(`PUBLISHED ${device}/${transport}: ${topic}`); }
          }
        }
      }
    }
  }
  // Legacy clients of every tenant and role, each claiming another tenant.
  const legacy = [];
  for (const tenant of TENANTS) {
    for (const role of ROLES) {
      const other = TENANTS.find((t) => t !== tenant);
      const l = await legacyClient(bus, { type: role, id: `${tenant}-${role}-legacy`, username: `${tenant}-${role}`, tenant: other });
      legacy.push({ l, tenant, device: `${tenant}-${role}`, transport: 'legacy' });
      if (role === 'pos') {
        for (const t of TENANTS.filter((x) => x !== tenant)) {
          const forged = makeOrder(t);
          l.send({ type: 'new_order', payload: forged, timestamp: new Date().toISOString() });
          const ack = await l.waitAck(forged.order_number);
          attempts += 1;
          if (ack.result !== 'rejected') { granted += 1; console.log(`LEGACY ACCEPTED ${tenant} -> ${t}`); }
        }
      }
    }
  }
  // Now real traffic in every tenant; count anything that reaches another tenant's devices.
  for (const x of clients) x.c.received.length = 0;
  for (const x of legacy) x.l.frames.length = 0;
  for (const x of clients) await subscribe(x.c, [`outlet/tenant/${x.tenant}/orders/+`, `outlet/tenant/${x.tenant}/events`]);
  const numbers = {};
  let crossings = 0;
  for (const tenant of TENANTS) {
    const pos = await posDevice(bus, tenant);
    const kitchen = await kitchenDevice(bus, tenant);
    const o = makeOrder(tenant);
    numbers[tenant] = o.order_number;
    await pos.submit(o);
    await kitchen.setStatus(o.order_number, 'accepted');
    await Promise.all([pos.client.endAsync(), kitchen.client.endAsync()]);
  }
  await waitFor(() => clients.every((x) => x.c.received.some((m) => m.payload.includes(numbers[x.tenant])))
      && legacy.every((x) => x.l.frames.some((f) => JSON.stringify(f).includes(numbers[x.tenant]))),
  { timeout: 10000, what: 'every device to see its own tenant\'s order' });
  for (const x of legacy) {
    for (const f of x.l.frames) {
      const text = JSON.stringify(f);
      if (TENANTS.filter((t) => t !== x.tenant).some((t) => text.includes(numbers[t]))) {
        crossings += 1; console.log(`CROSSED to legacy ${x.device}: ${text.slice(0, 120)}`);
      }
    }
  }
  for (const x of clients) {
    for (const m of x.c.received) {
      const foreign = TENANTS.filter((t) => t !== x.tenant).some((t) => m.topic.includes(`/${t}/`) || m.payload.includes(numbers[t]));
      if (foreign) { crossings += 1; console.log(`CROSSED to ${x.device}/${x.transport}: ${m.topic}`); }
    }
  }
  console.log(`isolation_matrix: ${attempts} forbidden subscribe/publish attempts, ${granted} granted; `
    + `${clients.length} MQTT + ${legacy.length} legacy clients, ${crossings} cross-tenant deliveries`);
  assert.equal(granted, 0);
  assert.equal(crossings, 0);
  await Promise.all([...clients.map((x) => x.c.endAsync()), ...legacy.map((x) => x.l.close())]);
});

// Station, expo and board devices. What each may read, per device:
const tenantRefusals = (t) => [
  `outlet/tenant/${t}/orders/+`, `outlet/tenant/${t}/orders/X-1`, `outlet/tenant/${t}/orders/#`,
  `outlet/tenant/${t}/events`, `outlet/tenant/${t}/#`, `outlet/tenant/${t}/+/+/ack`,
  `outlet/tenant/${t}/stations/+/orders/+`, `outlet/tenant/${t}/stations/#`,
  `outlet/tenant/${t}/kitchen/${t}-kitchen/ack`, `outlet/tenant/${t}/pos/${t}-pos/ack`,
];
const NEW_DEVICES = [
  ...STATIONS.map((st) => ({
    device: `pizza-${st}`, tenant: 'pizza', station: st,
    allowed: [stationViewTopic('pizza', st, '+'), `outlet/tenant/pizza/kitchen/pizza-${st}/ack`],
    refused: [
      ...tenantRefusals('pizza'), `outlet/board/pizza`, `outlet/tenant/pizza/expo/pizza-expo/ack`,
      ...STATIONS.filter((x) => x !== st).flatMap((x) => [stationViewTopic('pizza', x, '+'), stationViewTopic('pizza', x, '#'),
        stationViewTopic('pizza', x, 'X-1'), `outlet/tenant/pizza/kitchen/pizza-${x}/ack`]),
      ...TENANTS.filter((t) => t !== 'pizza').flatMap((t) => [...foreignFilters(t), ...tenantRefusals(t)]),
    ],
  })),
  {
    device: 'pizza-expo', tenant: 'pizza',
    allowed: ['outlet/tenant/pizza/orders/+', 'outlet/tenant/pizza/events', 'outlet/tenant/pizza/expo/pizza-expo/ack'],
    refused: [
      'outlet/tenant/pizza/#', 'outlet/tenant/pizza/kitchen/pizza-kitchen/ack', 'outlet/tenant/pizza/pos/pizza-pos/ack',
      'outlet/board/pizza', 'outlet/tenant/pizza/stations/+/orders/+', ...STATIONS.map((st) => stationViewTopic('pizza', st, '+')),
      ...TENANTS.filter((t) => t !== 'pizza').flatMap((t) => [...foreignFilters(t), ...tenantRefusals(t)]),
    ],
  },
  {
    device: 'court-board', tenants: TENANTS,
    allowed: TENANTS.map(boardTopic),
    refused: [...TENANTS.flatMap(tenantRefusals), ...TENANTS.flatMap((t) => STATIONS.map((st) => stationViewTopic(t, st, '+'))),
      ...TENANTS.map((t) => `outlet/device/${t}-kitchen/info`), 'outlet/board/+/#'],
  },
  {
    device: 'pizza-counter', tenants: ['pizza', 'noodle'],
    allowed: [boardTopic('pizza'), boardTopic('noodle')],
    refused: [boardTopic('burger'), ...TENANTS.flatMap(tenantRefusals),
      ...STATIONS.map((st) => stationViewTopic('pizza', st, '+')), 'outlet/device/court-board/info'],
  },
];

test('station, expo and board devices: each reads exactly its own, writes only its own topic, and receives nothing else', async () => {
  let attempts = 0;
  let granted = 0;
  let crossings = 0;
  const clients = [];
  for (const transport of TRANSPORTS) {
    for (const d of NEW_DEVICES) {
      const c = await mqttClient(bus, d.device, d.device, { transport });
      clients.push({ c, ...d, transport });
      const own = await subscribe(c, [...d.allowed, `outlet/device/${d.device}/info`, 'outlet/bridge/health']);
      assert.ok(own.every((q) => q === 1), `${d.device}/${transport} may read ${d.allowed}, its info and the health: ${own}`);
      const filters = [...WILDCARDS, ...d.refused];
      const result = await subscribe(c, filters);
      attempts += filters.length;
      result.forEach((q, i) => { if (q !== REFUSED) { granted += 1; console.log(`GRANTED ${d.device}/${transport}: ${filters[i]}`); } });
      const forged = [
        ...TENANTS.flatMap((t) => [`outlet/tenant/${t}/orders/FORGED`, `outlet/tenant/${t}/events`, boardTopic(t),
          ...STATIONS.map((st) => stationViewTopic(t, st, 'FORGED')), `outlet/tenant/${t}/pos/${t}-pos/submit`,
          `outlet/tenant/${t}/kitchen/${t}-kitchen/status`, `outlet/tenant/${t}/pos/${d.device}/submit`,
          `outlet/tenant/${t}/expo/${d.device}/status`, `outlet/tenant/${t}/kitchen/${d.device}/status`]),
        `outlet/device/${d.device}/info`, 'outlet/bridge/health',
      ].filter((topic) => !(d.station && topic === `outlet/tenant/pizza/kitchen/${d.device}/status`)
        && !(d.device === 'pizza-expo' && topic === expoStatusTopic('pizza', 'pizza-expo')));
      for (const topic of forged) {
        const r = await publish(c, topic, makeOrder(d.tenant || 'pizza'));
        attempts += 1;
        if (r.reasonCode !== REFUSED) { granted += 1; console.log(`PUBLISHED ${d.device}/${transport}: ${topic}`); }
      }
    }
  }
  // Each device's own write topic is open (the refusals above are not a
  // broker that refuses everything): a report on an unknown order is answered.
  for (const x of clients.filter((y) => y.tenant)) {
    const topic = x.station ? `outlet/tenant/pizza/kitchen/${x.device}/status` : expoStatusTopic('pizza', x.device);
    const ack = `outlet/tenant/pizza/${x.station ? 'kitchen' : 'expo'}/${x.device}/ack`;
    const r = await publish(x.c, topic, { order_number: `NONE-${x.transport}`, status: 'ready', ...(x.station ? { station: x.station } : {}) });
    assert.notEqual(r.reasonCode, REFUSED, `${x.device}/${x.transport} may publish on its own topic`);
    const got = await waitFor(() => x.c.received.find((m) => m.topic === ack && parse(m).order_number === `NONE-${x.transport}`), { what: `${x.device}'s ack` });
    assert.equal(parse(got).error, 'unknown_order');
  }
  // Legacy: only pos and kitchen devices may log in; a station kitchen
  // declaring another tenant stays in its own.
  for (const device of ['pizza-expo', 'court-board', 'pizza-counter']) {
    for (const type of ['kitchen', 'pos']) {
      const l = await legacyClient(bus, { type, id: `${device}-legacy`, username: device });
      const closed = await l.waitClose();
      attempts += 1;
      if (closed.code !== 1008 || l.frames.some((f) => f.type === 'connected')) { granted += 1; console.log(`LEGACY ADMITTED ${device} as ${type}`); }
    }
  }
  const legacyOven = await legacyClient(bus, { type: 'kitchen', id: 'pizza-oven-legacy', username: 'pizza-oven', tenant: 'burger' });
  assert.equal((await legacyOven.waitType('connected')).payload.tenant, 'pizza');

  // Real traffic: a pizza order with oven and bar items, moved by its
  // stations to ready; orders of the other tenants, accepted (on their boards).
  for (const x of clients) x.c.received.length = 0;
  const secrets = { oven: 'OvenSecretPie', bar: 'BarSecretBeer', customer: 'SecretCustomer', table: 'T-SECRET', notes: 'SecretNotes' };
  const pizza = makeOrder('pizza', {
    items: [{ name: secrets.oven, qty: 1, station: 'oven' }, { name: secrets.bar, qty: 1, station: 'bar' }],
    customer_name: secrets.customer, table: secrets.table, notes: secrets.notes, pickup_name: 'Pia',
  });
  const others = Object.fromEntries(TENANTS.filter((t) => t !== 'pizza').map((t) => [t, makeOrder(t, { customer_name: secrets.customer })]));
  const pos = await posDevice(bus, 'pizza');
  assert.equal((await pos.submit(pizza)).result, 'accepted');
  const oven = await stationDevice(bus, 'pizza', 'oven');
  const bar = await stationDevice(bus, 'pizza', 'bar');
  assert.equal((await oven.report(pizza.order_number, 'preparing')).result, 'accepted');
  assert.equal((await bar.report(pizza.order_number, 'ready')).result, 'accepted');
  assert.equal((await oven.report(pizza.order_number, 'ready')).status, 'ready');
  for (const [t, o] of Object.entries(others)) {
    const p = await posDevice(bus, t);
    const k = await kitchenDevice(bus, t);
    assert.equal((await p.submit(o)).result, 'accepted');
    assert.equal((await k.setStatus(o.order_number, 'accepted')).result, 'accepted');
    await Promise.all([p.client.endAsync(), k.client.endAsync()]);
  }
  // The marker: a pizza order with a cold item, accepted by the expo. The
  // bridge publishes on one connection and each subscriber gets its
  // messages in that order, so once a device has the marker it has had
  // everything before it.
  const marker = makeOrder('pizza', { items: [{ name: 'Marker salad', qty: 1, station: 'cold' }, { name: 'Marker pie', qty: 1 }, { name: 'Marker tea', qty: 1, station: 'bar' }] });
  assert.equal((await pos.submit(marker)).result, 'accepted');
  const expoK = clients.find((x) => x.device === 'pizza-expo').c;
  await publish(expoK, expoStatusTopic('pizza', 'pizza-expo'), { order_number: marker.order_number, status: 'accepted' });
  await waitFor(() => clients.every((x) => x.c.received.some((m) => m.payload.includes(marker.order_number)
      && (!x.tenants || parse(m).preparing?.includes(marker.order_number) || !x.tenants.includes('pizza'))
      && (!x.station || parse(m)?.status === 'accepted')
      && (x.device !== 'pizza-expo' || m.topic.endsWith('/events')))),
  { timeout: 10000, what: 'every device to see the marker' });
  const forbiddenWords = (x) => {
    if (x.tenants) return [...Object.values(secrets), 'Pia', '"items"', '"customer_name"', '"table"', '"notes"', '"station'];
    if (x.station) return [x.station === 'oven' ? secrets.bar : secrets.oven, ...Object.values(others).map((o) => o.order_number)];
    return Object.values(others).map((o) => o.order_number);
  };
  for (const x of clients) {
    const mayRead = (topic) => {
      if (topic === `outlet/device/${x.device}/info` || topic === 'outlet/bridge/health') return true;
      if (x.tenants) return x.tenants.map(boardTopic).includes(topic);
      if (x.station) return topic.startsWith(stationViewTopic('pizza', x.station, '')) || topic === `outlet/tenant/pizza/kitchen/${x.device}/ack`;
      return x.allowed.some((f) => (f.endsWith('/+') ? topic.startsWith(f.slice(0, -1)) : topic === f));
    };
    for (const m of x.c.received) {
      const leak = forbiddenWords(x).find((w) => m.payload.includes(w));
      if (!mayRead(m.topic) || leak) { crossings += 1; console.log(`DELIVERED to ${x.device}/${x.transport}: ${m.topic} ${leak ?? ''}`); }
    }
    // Positive: each saw what it is for.
    if (x.station === 'cold') assert.equal(x.c.received.filter((m) => m.payload.includes(pizza.order_number)).length, 0, 'no cold view of an order without cold items');
    else if (x.station) assert.ok(x.c.received.some((m) => m.payload.includes(secrets[x.station])), `${x.device} saw its item`);
    else if (x.tenants) {
      const docs = x.c.received.filter((m) => m.topic === boardTopic('pizza')).map(parse);
      assert.ok(docs.some((d) => d.ready.some((r) => r.number === pizza.order_number)), `${x.device} saw the pizza order ready`);
      assert.ok(x.c.received.some((m) => m.topic === boardTopic('noodle') && parse(m).preparing.includes(others.noodle.order_number)),
        `${x.device} saw noodle's order`);
    } else assert.ok(x.c.received.some((m) => m.topic === 'outlet/tenant/pizza/events' && m.payload.includes(secrets.customer)), 'the expo saw the order');
  }
  await legacyOven.waitFrame((f) => f.type === 'new_order' && f.payload.order_number === marker.order_number, { what: 'the marker at the legacy oven' });
  for (const f of legacyOven.frames) {
    const text = JSON.stringify(f);
    if (Object.values(others).some((o) => text.includes(o.order_number))) { crossings += 1; console.log(`CROSSED to legacy pizza-oven: ${text.slice(0, 120)}`); }
  }
  console.log(`isolation_matrix (stations, expo, boards): ${attempts} forbidden subscribe/publish/login attempts, ${granted} granted; `
    + `${clients.length} MQTT clients + 1 legacy, ${crossings} deliveries of what a device may not see`);
  assert.equal(granted, 0);
  assert.equal(crossings, 0);
  await Promise.all([...clients.map((x) => x.c.endAsync()), pos.client.endAsync(), oven.client.endAsync(), bar.client.endAsync(), legacyOven.close()]);
});

test('a registry with ids that could carry MQTT wildcards or separators is refused at start', async () => {
  for (const bad of ['a/b', 'a+b', 'a#', '$sys', 'tab\tname', 'x'.repeat(33), 'UPPER']) {
    const b = await startBus({
      bridge: false,
      registry: { outlet: { id: 'o' }, demo: true, tenants: [{ id: bad, devices: [{ username: 'd-pos', role: 'pos' }] }] },
    });
    try {
      await b.startBridge({ waitHealthy: false });
      const exit = await b.bridge.exited;
      assert.equal(exit.code, 2, `refused ${JSON.stringify(bad)}`);
      assert.match(b.bridgeLog(), /tenant id must be 1-32 characters/);
    } finally {
      await b.stop();
    }
  }
});
