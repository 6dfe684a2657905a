// crash_faults: POS clients that behave like the web adapter (keep every
// order until its ack, re-send after reconnecting) submit and cancel orders
// while the test SIGKILLs the broker, the bridge or both at random moments
// (seeded; the seed is printed) and restarts them. Afterwards every acked
// order is open or closed exactly as acked, the retained view and the
// journal agree, no order was created twice, and seq never went backwards.
//
//   KB_FAULT_SEED=1234 reproduces a run; KB_SOAK_SECONDS=600 makes it a soak.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { startBus, waitFor, mqttClient, subscribe, submitTopic, ackTopic, seededRandom } from '../lib/harness.mjs';

const seed = Number(process.env.KB_FAULT_SEED || Date.now() % 1000000);
const seconds = Number(process.env.KB_SOAK_SECONDS || 20);
console.log(`crash_faults: seed ${seed}, ${seconds} s of faults (KB_FAULT_SEED=${seed} to repeat)`);

const random = seededRandom(seed);

let bus;
after(async () => { await bus?.stop(); });

/** A POS that behaves like the web adapter's outbox. */
function adapterPos(tenant) {
  const device = `${tenant}-pos`;
  const outbox = new Map(); // key -> { body, kind, number }
  const acks = [];          // every ack received, in order
  const client = mqtt.connect(`mqtt://127.0.0.1:${bus.mqttPort}`, {
    username: device, password: device, clientId: `crash-${device}`, clean: false, protocolVersion: 5,
    properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 150, connectTimeout: 2000,
  });
  const resend = () => { for (const e of outbox.values()) client.publish(submitTopic(tenant, device), JSON.stringify(e.body), { qos: 1 }); };
  client.on('connect', () => {
    client.stream?.setNoDelay?.(true);
    client.subscribe(ackTopic(tenant, 'pos', device), { qos: 1 }, () => resend());
  });
  client.on('error', () => {});
  client.on('message', (topic, payload) => {
    const ack = JSON.parse(payload);
    acks.push(ack);
    if (ack.result === 'rejected') return;
    // Any success for a number proves its creation durable; only a success
    // that says "cancelled" proves the cancel durable.
    outbox.delete(`c:${ack.order_number}`);
    if (ack.status === 'cancelled') outbox.delete(`x:${ack.order_number}`);
  });
  const timer = setInterval(resend, 1000);
  return {
    tenant, outbox, acks, client,
    submit(number) {
      const body = { order_number: number, tenant_id: tenant, items: [{ name: 'Nasi goreng', qty: 1 }] };
      outbox.set(`c:${number}`, { body, kind: 'create', number });
      if (client.connected) client.publish(submitTopic(tenant, device), JSON.stringify(body), { qos: 1 });
    },
    cancel(number) {
      const body = { order_number: number, action: 'cancel' };
      outbox.set(`x:${number}`, { body, kind: 'cancel', number });
      if (client.connected) client.publish(submitTopic(tenant, device), JSON.stringify(body), { qos: 1 });
    },
    stop() { clearInterval(timer); return client.endAsync(true); },
  };
}

test(`acked orders survive random SIGKILLs of broker and bridge (seed ${seed})`, { timeout: (seconds + 120) * 1000 }, async () => {
  bus = await startBus();
  const tenants = ['pizza', 'burger', 'noodle'];
  const poses = tenants.map(adapterPos);
  try {
    await runFaults(poses);
  } finally {
    await Promise.all(poses.map((p) => p.stop()));
  }
});

async function runFaults(poses) {
  const expected = new Map(); // tenant/number -> 'open' | 'cancelled'
  let n = 0;
  let faults = 0;
  const faultLog = [];
  const until = Date.now() + seconds * 1000;
  const submitter = setInterval(() => {
    for (const p of poses) {
      n += 1;
      const number = `C${seed}-${n}`;
      p.submit(number);
      expected.set(`${p.tenant}/${number}`, 'open');
      if (n % 5 === 0) {
        const victim = `C${seed}-${n - 3}`;
        if (expected.has(`${p.tenant}/${victim}`)) {
          p.cancel(victim);
          expected.set(`${p.tenant}/${victim}`, 'cancelled');
        }
      }
    }
  }, 40);

  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 500 + random() * 1500));
    const which = ['bridge', 'broker', 'both'][Math.floor(random() * 3)];
    faults += 1;
    faultLog.push(which);
    if (which !== 'broker') await bus.killBridge();
    if (which !== 'bridge') await bus.killBroker();
    await new Promise((r) => setTimeout(r, 100 + random() * 700));
    if (which !== 'bridge') await bus.startBroker();
    if (which !== 'broker') await bus.startBridge({ waitHealthy: false });
  }
  clearInterval(submitter);
  await bus.waitHealthy(20000);
  await waitFor(() => poses.every((p) => p.outbox.size === 0), { timeout: 60000, interval: 100, what: 'every outbox to drain' });
  console.log(`crash_faults: ${n} orders submitted, ${faults} faults injected (${faultLog.join(',')})`);

  // Acks: each order was created with one seq; seq per tenant grows with time.
  for (const p of poses) {
    const created = new Map();
    for (const a of p.acks.filter((x) => x.result === 'accepted' && x.status === 'new')) {
      assert.ok(!created.has(a.order_number), `${a.order_number} created twice`);
      created.set(a.order_number, a.seq);
    }
    const accepted = p.acks.filter((x) => x.result === 'accepted').map((x) => x.seq);
    for (let i = 1; i < accepted.length; i++) assert.ok(accepted[i] > accepted[i - 1], `seq went backwards for ${p.tenant}: ${accepted[i - 1]} -> ${accepted[i]}`);
    // A cancel can overtake a create that a crash lost; it is rejected as
    // unknown_order, stays in the outbox and succeeds after the re-sent create.
    const rejected = p.acks.filter((x) => x.result === 'rejected' && x.error !== 'unknown_order');
    assert.deepEqual(rejected, [], 'no other rejections');
  }

  // The retained view, as a kitchen that connects now sees it.
  const admin = await mqttClient(bus, 'admin');
  assert.deepEqual(await subscribe(admin, ['outlet/tenant/+/orders/+']), [1]);
  const openWanted = [...expected].filter(([, s]) => s === 'open').map(([k]) => k);
  await waitFor(() => admin.received.length >= openWanted.length, { timeout: 20000, what: `${openWanted.length} retained orders` });
  // A marker order proves every retained message has arrived. It goes
  // through pizza's POS: a second client with its id would knock it off.
  poses[0].submit(`M${seed}`);
  await waitFor(() => admin.received.some((m) => m.topic.endsWith(`/M${seed}`)), { timeout: 20000, what: 'the marker' });
  const seen = new Map();
  for (const m of admin.received) {
    const [, , tenant, , number] = m.topic.split('/');
    if (number === `M${seed}`) continue;
    const key = `${tenant}/${number}`;
    assert.ok(!seen.has(key), `${key} retained twice`);
    seen.set(key, JSON.parse(m.payload));
  }
  const missing = openWanted.filter((k) => !seen.has(k));
  const extra = [...seen.keys()].filter((k) => expected.get(k) !== 'open');
  assert.deepEqual(missing, [], 'every open acked order is retained');
  assert.deepEqual(extra, [], 'no cancelled or unknown order is retained');
  const { body } = await bus.health();
  assert.equal(body.orders_open, openWanted.length + 1, 'journal and retained state agree (plus the marker)');
  await admin.endAsync();
}
