// presence: a device's presence topic (docs/CONTRACT.md "Presence") on a real
// Mosquitto and the real bridge (the ACLs are the bridge's dynsec_plan). A
// KitchenBus in Node (web-adapter/public/kitchen-bus.mjs over MQTT.js on the
// broker's WebSocket listener, as a browser) announces itself; its tenant
// sees it go on, go off through its will when its socket dies, come back by
// itself, and go off on a clean close. Another tenant cannot read it, and
// another device of the same tenant cannot write it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import mqtt from 'mqtt';
import { ROOT, startBus, mqttClient, subscribe, publish, waitFor, waitMessage, parse } from '../lib/harness.mjs';

const REFUSED = 0x80;                   // a SUBACK or PUBACK reason code at or above this refuses
/** A PUBACK's reason code (MQTT.js leaves it out on success). */
const reason = (packet) => packet?.reasonCode ?? 0;
const PIZZA_PRESENCE = 'outlet/tenant/pizza/+/+/presence';
const presenceOf = (role, device) => `outlet/tenant/pizza/${role}/${device}/presence`;
const KITCHEN = presenceOf('kitchen', 'pizza-kitchen');

/** The browser adapter, loaded into Node with the real MQTT.js in place of its
 *  vendored browser build (Node 18 has no WebSocket for it). */
async function loadKitchenBus() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kb-presence-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  cpSync(path.join(ROOT, 'web-adapter/public'), dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}vendor`) });
  mkdirSync(path.join(dir, 'vendor'));
  writeFileSync(path.join(dir, 'package.json'), '{"type": "module"}\n');
  writeFileSync(path.join(dir, 'vendor', 'mqtt.esm.js'),
    'export default { connect: (url, options) => globalThis.__kbPresenceMqtt(url, options) };\n');
  globalThis.__kbPresenceMqtt = (url, options) => mqtt.connect(url, options);
  return import(pathToFileURL(path.join(dir, 'kitchen-bus.mjs')).href);
}

let bus, kb, cfg;
const closeLater = [];
before(async () => {
  bus = await startBus();
  kb = await loadKitchenBus();
  cfg = await kb.loadConfig(bus.url(''));
});
after(async () => {
  // KitchenBus devices the tests did not close, and MQTT.js clients (ending one twice is harmless).
  for (const c of closeLater) {
    if (c instanceof kb.KitchenBus) { if (!c.closedByUser) await c.close(); } else await c.endAsync().catch(() => {});
  }
  await bus?.stop();
});

/** A KitchenBus device that announces its presence (off by default outside a page). */
async function device(username, opts = {}) {
  const d = await kb.connect({ url: bus.wsUrl(), username, password: username, presence: true, backoffMinMs: 200, backoffMaxMs: 400, ...opts });
  closeLater.push(d);
  return d;
}

/** The presence documents `client` received on `topic` since index `from`. */
const docsOn = (client, topic, from = 0) => client.received.slice(from).filter((m) => m.topic === topic).map(parse);

/** Proves a message is absent: publishes a marker after it on a topic `watcher`
 *  reads, waits for the marker (with a deadline), then returns what `watcher`
 *  got until then. */
async function untilMarker(publisher, markerTopic, watcher) {
  const marker = `m-${Math.random().toString(36).slice(2)}`;
  assert.equal(reason(await publish(publisher, markerTopic, { online: true, since: new Date().toISOString(), marker }, { retain: true })), 0);
  await waitMessage(watcher, (m) => m.topic === markerTopic && m.payload.includes(marker), { what: 'the marker' });
}

test('the tenant sees a kitchen go on, off through its will when its socket dies, on again by itself, and off on a clean close', async () => {
  const pos = await mqttClient(bus, 'pizza-pos');
  closeLater.push(pos);
  assert.deepEqual(await subscribe(pos, [PIZZA_PRESENCE]), [1], 'a tenant device reads its tenant\'s presence');

  const kitchen = await device('pizza-kitchen');
  const on = await waitMessage(pos, (m) => m.topic === KITCHEN && parse(m)?.online === true, { timeout: 10000, what: 'the kitchen online' });
  const doc = parse(on);
  assert.equal(typeof doc.since, 'string');
  assert.ok(Math.abs(Date.parse(doc.since) - Date.now()) < 60000, `since ${doc.since}`);
  assert.equal(doc.version, cfg.version, 'the bridge version from /config.json');
  assert.equal(doc.station, undefined, 'a whole-order kitchen names no station');
  await waitFor(() => kitchen.state.state === 'live', { timeout: 10000, what: 'the kitchen live' });
  // Nothing was cached: the first connection had no will, the info made it connect once more with it.
  assert.equal(kitchen.epoch, 2);
  assert.deepEqual(kitchen.client.options.will, { topic: KITCHEN, payload: '{"online":false}', qos: 1, retain: true });

  // Retained: a device that looks later still knows.
  const late = await mqttClient(bus, 'pizza-expo');
  closeLater.push(late);
  await subscribe(late, [KITCHEN]);
  const kept = await waitMessage(late, (m) => m.topic === KITCHEN, { what: 'the retained presence' });
  assert.equal(kept.retain, true);
  assert.equal(parse(kept).online, true);
  await late.endAsync();

  // The socket dies (a dead battery, the Wi-Fi gone): the broker sends the will.
  const before = pos.received.length;
  kitchen.client.stream.destroy();
  await waitFor(() => docsOn(pos, KITCHEN, before).some((d) => d?.online === false), { timeout: 10000, what: 'the will: offline' });
  assert.deepEqual(docsOn(pos, KITCHEN, before).find((d) => d?.online === false), { online: false });
  // It reconnects by itself, with its will, and says it is on again.
  await waitFor(() => docsOn(pos, KITCHEN, before).at(-1)?.online === true, { timeout: 10000, what: 'online again after the reconnect' });
  await waitFor(() => kitchen.state.state === 'live', { timeout: 10000, what: 'the kitchen live again' });

  // A clean close: offline said on purpose (the clean DISCONNECT suppresses the will), once.
  const beforeClose = pos.received.length;
  await kitchen.close();
  await waitFor(() => docsOn(pos, KITCHEN, beforeClose).length >= 1, { timeout: 5000, what: 'offline on close' });
  await untilMarker(pos, presenceOf('pos', 'pizza-pos'), pos);
  assert.deepEqual(docsOn(pos, KITCHEN, beforeClose), [{ online: false }], 'exactly one offline, no will after it');

  const again = await mqttClient(bus, 'pizza-pos');
  closeLater.push(again);
  await subscribe(again, [KITCHEN]);
  const left = await waitMessage(again, (m) => m.topic === KITCHEN, { what: 'the retained presence after the close' });
  assert.deepEqual([left.retain, parse(left)], [true, { online: false }]);
  await Promise.all([again.endAsync(), pos.endAsync()]);
});

test('a station screen names its station, on and off', async () => {
  const pos = await mqttClient(bus, 'pizza-pos');
  closeLater.push(pos);
  await subscribe(pos, [PIZZA_PRESENCE]);
  const topic = presenceOf('kitchen', 'pizza-oven');
  const oven = await device('pizza-oven');
  await waitFor(() => docsOn(pos, topic).some((d) => d?.online === true), { timeout: 10000, what: 'the oven online' });
  assert.equal(docsOn(pos, topic).find((d) => d?.online).station, 'oven');
  const from = pos.received.length;
  await oven.close();
  await waitFor(() => docsOn(pos, topic, from).length, { what: 'the oven offline' });
  assert.deepEqual(docsOn(pos, topic, from), [{ online: false, station: 'oven' }]);
  // What the pages make of it: the whole-order kitchen learns the oven has a screen, and none is on.
  const docs = new Map(pos.received.filter((m) => m.topic.endsWith('/presence')).map((m) => [m.topic, parse(m)]));
  const info = { role: 'kitchen', tenant: 'pizza', stations: ['oven', 'cold', 'bar'] };
  assert.deepEqual(kb.presenceWarnings(docs, info).map((w) => w.text), ['No screen is on for station oven']);
  await pos.endAsync();
});

test('another tenant cannot read pizza\'s presence; a board writes only its own', async () => {
  const burger = await mqttClient(bus, 'burger-pos');
  closeLater.push(burger);
  const granted = await subscribe(burger, [PIZZA_PRESENCE, KITCHEN, 'outlet/tenant/+/+/+/presence']);
  assert.ok(granted.every((q) => q >= REFUSED), `refused: ${granted}`);
  assert.deepEqual(await subscribe(burger, ['outlet/tenant/burger/+/+/presence']), [1], 'its own tenant\'s is granted');

  const board = await mqttClient(bus, 'court-board');
  closeLater.push(board);
  assert.ok((await subscribe(board, [PIZZA_PRESENCE]))[0] >= REFUSED, 'a board reads no tenant\'s presence');
  assert.equal(reason(await publish(board, 'outlet/board/court-board/presence', { online: true }, { retain: true })), 0);
  assert.ok(reason(await publish(board, KITCHEN, { online: true }, { retain: true })) >= REFUSED);
  await publish(board, 'outlet/board/court-board/presence', '', { retain: true });      // cleared again
  await Promise.all([burger.endAsync(), board.endAsync()]);
});

test('pizza-pos cannot write pizza-kitchen\'s presence: refused, and nobody sees it', async () => {
  const admin = await mqttClient(bus, 'admin');
  closeLater.push(admin);
  assert.deepEqual(await subscribe(admin, ['outlet/tenant/+/+/+/presence']), [1], 'an admin reads every presence');
  const pos = await mqttClient(bus, 'pizza-pos');
  closeLater.push(pos);
  const from = admin.received.length;
  const forged = await publish(pos, KITCHEN, { online: true, since: new Date().toISOString(), forged: true }, { retain: true });
  assert.ok(reason(forged) >= REFUSED, `PUBACK reason ${reason(forged)}`);
  // Its own presence topic it may write: the marker behind the forgery.
  await untilMarker(pos, presenceOf('pos', 'pizza-pos'), admin);
  assert.deepEqual(admin.received.slice(from).filter((m) => m.payload.includes('forged')), [], 'the forgery reached no one');
  // Nor was it kept: the retained copy is still the kitchen's own.
  const look = await mqttClient(bus, 'admin');
  closeLater.push(look);
  await subscribe(look, [KITCHEN]);
  const kept = await waitMessage(look, (m) => m.topic === KITCHEN, { what: 'the kitchen\'s retained presence' });
  assert.equal(kept.payload.includes('forged'), false);
  await publish(pos, presenceOf('pos', 'pizza-pos'), '', { retain: true });
  await Promise.all([admin.endAsync(), pos.endAsync(), look.endAsync()]);
});
