// uplink.test.mjs - broker-config/uplink.conf.example with two local brokers:
// the outlet's bus (harness) with the uplink appended to its config, and a
// plain Mosquitto standing in for head office. Head office goes away, the
// outlet keeps taking orders, head office comes back, and every event
// arrives under the outlet's prefix; nothing but events leaves the outlet.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import {
  ROOT, startBus, freePort, waitFor, posDevice, kitchenDevice, makeOrder,
} from '../lib/harness.mjs';

const OUTLET = 'demo';
const PREFIX = `kitchen-bus/outlets/${OUTLET}/`;
let bus;
let central;
let headOffice;
const centralPort = await freePort();
const centralDir = mkdtempSync(path.join(os.tmpdir(), 'kb-central-'));
const centralLog = [];

/** The example as an operator would fill it in, pointed at the local "head office". */
function uplinkConfig() {
  const conf = readFileSync(path.join(ROOT, 'broker-config/uplink.conf.example'), 'utf8')
    .replaceAll('OUTLET_ID', OUTLET)
    .replace(/^address .*$/m, `address 127.0.0.1:${centralPort}`)
    .replace(/^bridge_capath .*$/m, '# (no TLS to a loopback test broker)')
    .replace(/^restart_timeout .*$/m, 'restart_timeout 1 2');
  assert.match(conf, /^cleansession false$/m);
  assert.match(conf, new RegExp(`^topic outlet/tenant/\\+/events out 1 "" ${PREFIX}$`, 'm'));
  return conf;
}

function startCentral() {
  central = spawn('mosquitto', ['-c', path.join(centralDir, 'central.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  central.stdout.on('data', (c) => centralLog.push(String(c)));
  central.stderr.on('data', (c) => centralLog.push(String(c)));
  central.exited = new Promise((r) => central.once('exit', r));
  return waitFor(() => new Promise((resolve) => {
    const sock = net.connect(centralPort, '127.0.0.1');
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
  }), { timeout: 10000, what: 'the central broker to listen' });
}

async function stopCentral() {
  central.kill('SIGTERM');
  await central.exited;
}

before(async () => {
  chmodSync(centralDir, 0o755);
  if (process.getuid() === 0) execFileSync('chown', ['mosquitto:', centralDir]);
  // Head office: persistent sessions survive its own restart.
  writeFileSync(path.join(centralDir, 'central.conf'), [
    `listener ${centralPort} 127.0.0.1`, 'allow_anonymous true',
    'persistence true', `persistence_location ${centralDir}/`, 'log_dest stdout', '',
  ].join('\n'));
  await startCentral();

  bus = await startBus({ bridge: false, env: { KB_UPLINK: '1', KB_UPLINK_GRACE_MS: '1000' } });
  await bus.stopBroker();
  appendFileSync(path.join(bus.dir, 'broker/mosquitto.conf'), `\n${uplinkConfig()}`);
  await bus.startBroker();
  await bus.startBridge();

  // A head-office consumer with a persistent session, QoS 1.
  headOffice = mqtt.connect(`mqtt://127.0.0.1:${centralPort}`, {
    clientId: 'head-office-consumer', clean: false, protocolVersion: 4, reconnectPeriod: 200,
  });
  headOffice.received = [];
  headOffice.on('message', (topic, payload, packet) => headOffice.received.push({ topic, payload: String(payload), retain: packet.retain }));
  await new Promise((resolve) => headOffice.once('connect', resolve));
  await headOffice.subscribeAsync('kitchen-bus/#', { qos: 1 });
});

after(async () => {
  headOffice?.end(true);
  await bus?.stop();
  if (central && central.exitCode === null) await stopCentral();
  rmSync(centralDir, { recursive: true, force: true });
});

const eventsAtHeadOffice = () => headOffice.received
  .filter((m) => m.topic.startsWith(`${PREFIX}outlet/tenant/`) && m.topic.endsWith('/events'))
  .map((m) => ({ tenant: m.topic.split('/')[5], ...JSON.parse(m.payload) }));
const replaysAtHeadOffice = () => headOffice.received
  .filter((m) => m.topic.startsWith(`${PREFIX}replay/`))
  .map((m) => ({ tenant: m.topic.split('/').pop(), ...JSON.parse(m.payload) }));

test('events reach head office under the outlet prefix, and events only', async () => {
  await waitFor(() => headOffice.received.some((m) => m.topic === `${PREFIX}uplink` && m.payload === '1'),
    { timeout: 10000, what: 'the uplink to report itself up' });
  // The bridge's /health (and so the admin page) shows it too.
  await waitFor(async () => (await bus.health()).body.uplink?.state === 'connected', { timeout: 10000, what: '/health uplink connected' });
  const pos = await posDevice(bus, 'pizza');
  const order = makeOrder('pizza');
  assert.equal((await pos.submit(order)).result, 'accepted');
  const ev = await waitFor(() => eventsAtHeadOffice().find((e) => e.order_number === order.order_number),
    { timeout: 10000, what: 'the event at head office' });
  assert.equal(ev.tenant, 'pizza');
  assert.equal(ev.event, 'created');
  const leaked = headOffice.received.filter((m) => !m.topic.endsWith('/events') && m.topic !== `${PREFIX}uplink`);
  assert.deepEqual(leaked.map((m) => m.topic), [], 'orders, acks and device topics stay in the outlet');
  pos.client.end(true);
});

test('head office offline: orders go on, and every event arrives when it is back', async () => {
  await stopCentral();
  // The outlet notices at once (the TCP connection closes).
  await waitFor(async () => (await bus.health()).body.uplink?.state === 'disconnected', { timeout: 10000, what: '/health uplink disconnected' });
  assert.equal((await bus.health()).body.status, 'ok', 'an outlet without head office is healthy');
  const pizzaPos = await posDevice(bus, 'pizza');
  const burgerPos = await posDevice(bus, 'burger');
  const kitchen = await kitchenDevice(bus, 'pizza');
  const expected = []; // [tenant, seq]
  for (let i = 0; i < 15; i++) {
    const [tenant, pos] = i % 3 === 2 ? ['burger', burgerPos] : ['pizza', pizzaPos];
    const order = makeOrder(tenant);
    const ack = await pos.submit(order);
    assert.equal(ack.result, 'accepted');
    expected.push(`${tenant}:${ack.seq}`);
    if (tenant === 'pizza' && i % 2 === 0) {
      const st = await kitchen.setStatus(order.order_number, 'accepted');
      assert.equal(st.result, 'accepted');
      expected.push(`pizza:${st.seq}`);
    }
  }
  await new Promise((r) => setTimeout(r, 1500)); // head office stays away a while
  assert.ok(central.exitCode !== null, 'head office was down the whole time');

  const before = eventsAtHeadOffice().length;
  await startCentral();
  const got = await waitFor(() => {
    const seen = new Set(eventsAtHeadOffice().slice(before).map((e) => `${e.tenant}:${e.seq}`));
    return expected.every((k) => seen.has(k)) && seen;
  }, { timeout: 30000, interval: 50, what: `all ${expected.length} events at head office` });
  assert.equal(got.size, expected.length, 'no event that was not made');
  // Order per tenant is kept (QoS 1 from a single session).
  for (const tenant of ['pizza', 'burger']) {
    const seqs = eventsAtHeadOffice().slice(before).filter((e) => e.tenant === tenant).map((e) => e.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `${tenant} events in seq order`);
  }
  await waitFor(() => headOffice.received.filter((m) => m.topic === `${PREFIX}uplink`).at(-1)?.payload === '1',
    { timeout: 10000, what: 'the uplink to report itself up again' });
  pizzaPos.client.end(true);
  burgerPos.client.end(true);
  kitchen.client.end(true);
});

// A kill -9 (power cut) of the outlet broker while head office is
// unreachable loses the events it had queued in memory. Head office's
// consumer publishes the highest seq it holds per tenant; the bridge
// (KB_UPLINK=1) re-sends the rest from its journal on replay/<tenant>.
test('outlet broker killed while head office is down: events are re-sent from the journal', async () => {
  await stopCentral();
  const pos = await posDevice(bus, 'noodle');
  const expected = [];
  for (let i = 0; i < 5; i++) expected.push((await pos.submit(makeOrder('noodle'))).seq);
  const kitchen = await kitchenDevice(bus, 'noodle');
  pos.client.end(true);
  await bus.killBroker();
  await bus.startBroker();
  await bus.waitHealthy(20000);
  await startCentral();
  await waitFor(() => headOffice.connected, { timeout: 10000, what: 'the consumer to reconnect' });
  // The consumer stores what it got and says how far it is complete.
  const stored = () => new Set([...eventsAtHeadOffice(), ...replaysAtHeadOffice()]
    .filter((e) => e.tenant === 'noodle').map((e) => e.seq));
  let have = 0;
  while (stored().has(have + 1)) have += 1;
  await headOffice.publishAsync(`${PREFIX}seen/noodle`, JSON.stringify({ seq: have }), { qos: 1, retain: true });
  await waitFor(() => expected.every((s) => stored().has(s)), { timeout: 20000, what: 'the noodle events re-sent from the journal' });
  const replayed = replaysAtHeadOffice().filter((e) => e.tenant === 'noodle');
  assert.ok(replayed.length >= expected.length - have, `${replayed.length} events replayed`);
  assert.ok(replayed.every((e) => e.event === 'created' && e.seq > have), 'only what head office lacked');
  // Kitchens never see a replay: it is not on any topic they may read.
  assert.equal(kitchen.client.received.filter((m) => m.topic.includes('replay')).length, 0);
  assert.equal(kitchen.events().length, 0, 'no event re-announced to the kitchen');
  const metrics = await bus.metrics();
  assert.match(metrics, /kb_uplink_replayed_events_total [1-9]/);
  kitchen.client.end(true);
});
