// isolation_matrix: for every pair of demo tenants, every device role and
// both MQTT transports (TCP and WebSockets), every topic family and wildcard
// of the other tenant is refused, and no message ever crosses tenants; the
// same for legacy WebSocket clients on 3002, which also try to declare
// another tenant and to submit orders into it. The test prints how many
// attempts it made; the cross-tenant figure must be 0.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startBus, mqttClient, subscribe, publish, posDevice, kitchenDevice, makeOrder, waitFor, legacyClient,
} from '../lib/harness.mjs';

const TENANTS = ['pizza', 'burger', 'noodle'];
const ROLES = ['pos', 'kitchen'];
const TRANSPORTS = ['tcp', 'ws'];
const REFUSED = 0x87;

let bus;
before(async () => { bus = await startBus(); });
after(async () => { await bus?.stop(); });

function foreignFilters(other) {
  return [
    `outlet/tenant/${other}/orders/+`, `outlet/tenant/${other}/orders/X-1`, `outlet/tenant/${other}/orders/#`,
    `outlet/tenant/${other}/events`, `outlet/tenant/${other}/#`,
    `outlet/tenant/${other}/pos/${other}-pos/ack`, `outlet/tenant/${other}/kitchen/${other}-kitchen/ack`,
    `outlet/tenant/${other}/pos/${other}-pos/submit`, `outlet/tenant/${other}/kitchen/${other}-kitchen/status`,
    `outlet/tenant/${other}/pos/+/ack`, `outlet/device/${other}-pos/info`, `outlet/device/${other}-kitchen/info`,
  ];
}
const WILDCARDS = ['#', '+', 'outlet/#', 'outlet/+', 'outlet/tenant/#', 'outlet/tenant/+/orders/+',
  'outlet/tenant/+/events', 'outlet/tenant/+/#', 'outlet/device/+/info', '+/+/+/+/+', '+/tenant/+/orders/+',
  '$SYS/#', '$CONTROL/#', '$CONTROL/dynamic-security/v1/response', '$share/g/outlet/#'];

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
