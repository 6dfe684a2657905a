// registry: production mode has no default passwords; `kitchen-bus
// add-device` adds a device live and prints its password once; a registry
// change takes effect without dropping other clients; a bad registry file is
// refused and the old one stays in force.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  startBus, mqttClient, subscribe, posDevice, kitchenDevice, makeOrder, waitFor, ROOT,
} from '../lib/harness.mjs';

const production = {
  outlet: { id: 'mall-7', name: 'Mall 7 Food Court' },
  demo: false,
  tenants: [
    { id: 'pizza', name: 'Pizza Paradise', devices: [{ username: 'pizza-pos', role: 'pos' }] },
    { id: 'satay', name: 'Sate Pak Kumis', devices: [] },
  ],
  admins: [],
};

let bus;
before(async () => { bus = await startBus({ registry: production }); });
after(async () => { await bus?.stop(); });

function kitchenBus(...args) {
  return execFileSync(path.join(ROOT, 'kitchen-bus'), args, {
    env: { ...process.env, KB_DATA_DIR: bus.dir, KB_REGISTRY: bus.registry, KB_MQTT_PORT: String(bus.mqttPort) },
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  });
}
const addDevice = (tenant, username, role) => kitchenBus('add-device', tenant, username, role);

test('outside demo mode a device has no password until one is issued', async () => {
  await assert.rejects(mqttClient(bus, 'pizza-pos', 'pizza-pos'), /Not authorized|Bad User Name/i);
  assert.doesNotMatch(bus.bridgeLog(), /DEMO MODE/);
  assert.match(bus.bridgeLog(), /device pizza-pos has no password yet/);
});

test('set-password gives a device listed by hand its first password, and replaces it', async () => {
  const first = kitchenBus('set-password', 'pizza-pos').match(/password: (\S+)/)[1];
  const pos = await posDevice(bus, 'pizza', 'pizza-pos', { password: first });
  assert.equal((await pos.submit(makeOrder('pizza'))).result, 'accepted');
  await pos.client.endAsync();
  const second = kitchenBus('set-password', 'pizza-pos').match(/password: (\S+)/)[1];
  assert.notEqual(second, first);
  await assert.rejects(mqttClient(bus, 'pizza-pos', first), /Not authorized|Bad User Name/i, 'the old password is gone');
  const again = await posDevice(bus, 'pizza', 'pizza-pos', { password: second });
  await again.client.endAsync();
  assert.throws(() => kitchenBus('set-password', 'nobody'), /no device called "nobody"/);
  assert.doesNotMatch(bus.bridgeLog() + bus.brokerLog(), new RegExp(`${first}|${second}`));
});

test('add-device issues a password once, live, and the device works at once', async () => {
  const watcher = await kitchenDevice(bus, 'satay', 'satay-kitchen').catch(() => null);
  assert.equal(watcher, null, 'satay-kitchen does not exist yet');

  // A client that is connected before the change must stay connected.
  const out = addDevice('pizza', 'pizza-kitchen', 'kitchen');
  const password = out.match(/password: (\S+)/)[1];
  assert.ok(password.length >= 20);
  const kitchen = await waitFor(async () => {
    try {
      const k = await kitchenDevice(bus, 'pizza', 'pizza-kitchen', { password });
      return k;
    } catch { return null; }
  }, { timeout: 10000, interval: 100, what: 'the new device to get its role' });
  const satayOut = addDevice('satay', 'satay-pos', 'pos');
  const satayPw = satayOut.match(/password: (\S+)/)[1];
  const satay = await waitFor(async () => {
    try { return await posDevice(bus, 'satay', 'satay-pos', { password: satayPw }); } catch { return null; }
  }, { timeout: 10000, interval: 100, what: 'satay-pos' });
  assert.equal(kitchen.client.connected, true, 'the earlier device was not dropped by the second change');
  const order = makeOrder('satay');
  assert.equal((await satay.submit(order)).result, 'accepted');

  // The password is nowhere on disk in plain text and never in a log.
  assert.doesNotMatch(readFileSync(bus.registry, 'utf8'), new RegExp(password));
  assert.doesNotMatch(readFileSync(path.join(bus.dir, 'broker/dynamic-security.json'), 'utf8'), new RegExp(password));
  assert.doesNotMatch(bus.bridgeLog() + bus.brokerLog(), new RegExp(`${password}|${satayPw}`));
  const bridgePw = readFileSync(path.join(bus.dir, 'broker/bridge.pw'), 'utf8').trim();
  assert.doesNotMatch(bus.bridgeLog() + bus.brokerLog(), new RegExp(bridgePw));
  await Promise.all([kitchen.client.endAsync(), satay.client.endAsync()]);
});

test('a malformed registry on reload is refused and the old one stays in force', async () => {
  const good = readFileSync(bus.registry, 'utf8');
  writeFileSync(bus.registry, '{"outlet": {"id": "mall-7"}, "tenants": [ {"id": "bad/tenant"} ]}');
  const pid = Number(readFileSync(path.join(bus.dir, 'bridge/kb-bridge.pid'), 'utf8'));
  process.kill(pid, 'SIGHUP');
  await waitFor(() => bus.bridgeLog().includes('registry reload failed, keeping the current one'),
    { what: 'the reload error in the log' });
  writeFileSync(bus.registry, good);
  const { status } = await bus.health();
  assert.equal(status, 200);
});

test('add-device refuses bad input', () => {
  assert.throws(() => addDevice('nope', 'x-pos', 'pos'), /no tenant "nope"/);
  assert.throws(() => addDevice('pizza', 'Bad/Name', 'pos'), /username must be/);
  assert.throws(() => addDevice('pizza', 'pizza-pos', 'pos'), /already exists/);
  assert.throws(() => addDevice('pizza', 'p2', 'chef'), /role must be/);
});
