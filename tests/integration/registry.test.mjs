// registry: production mode has no default passwords; `kitchen-bus
// add-device` adds a device live and prints its password once; a registry
// change takes effect without dropping other clients; a bad registry file is
// refused and the old one stays in force; a broker that cannot be reached,
// refuses the login or does not answer leaves the registry as it was.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  startBus, mqttClient, subscribe, posDevice, kitchenDevice, makeOrder, waitFor, freePort, ROOT, kitchenBusCommand } from '../lib/harness.mjs';

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

// kitchen-bus runs the kb-device of the build under test (the one kb-bridge is in).
const kitchenBusWith = (env, ...args) => kitchenBusCommand(bus, env, ...args);
const kitchenBus = (...args) => kitchenBusWith({}, ...args);
const addDevice = (tenant, username, role) => kitchenBus('add-device', tenant, username, role);

/** kitchen-bus must fail with status 1 and exactly one stderr line matching `pattern`
 * (so nothing else, such as a sanitizer's report, is printed). */
function refused(pattern, env, ...args) {
  let error;
  try { kitchenBusWith(env, ...args); } catch (e) { error = e; }
  assert.ok(error, `kitchen-bus ${args.join(' ')} should fail`);
  assert.equal(error.status, 1, error.stderr);
  assert.match(error.stderr, /^kitchen-bus: [^\n]*\n$/, `one line on stderr, not: ${error.stderr}`);
  assert.match(error.stderr, pattern);
}

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
  assert.match(password, /^[A-Za-z0-9_-]{24}$/);
  assert.match(out, /Device pizza-kitchen \(kitchen of tenant pizza\)/);
  assert.deepEqual(JSON.parse(readFileSync(bus.registry, 'utf8')).tenants[0].devices,
    [{ username: 'pizza-pos', role: 'pos' }, { username: 'pizza-kitchen', role: 'kitchen' }]);
  assert.equal(existsSync(`${bus.registry}.tmp`), false);
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
  refused(/kb-bridge is the bridge's own account/, {}, 'add-device', 'pizza', 'kb-bridge', 'pos');
  refused(/no device called "nobody"/, {}, 'set-password', 'nobody');
  refused(/is a demo registry/, { KB_REGISTRY: path.join(ROOT, 'broker-config/demo-tenants.json') },
    'set-password', 'pizza-pos');
});

test('a broker out of reach, refusing the login or silent leaves the registry untouched', async () => {
  const before = readFileSync(bus.registry, 'utf8');
  const closed = await freePort();
  refused(new RegExp(`cannot reach the broker at mqtt://127\\.0\\.0\\.1:${closed}: Connection refused`),
    { KB_MQTT_PORT: String(closed) }, 'add-device', 'satay', 'satay-kitchen', 'kitchen');

  const wrong = mkdtempSync(path.join(os.tmpdir(), 'kb-device-'));
  mkdirSync(path.join(wrong, 'broker'));
  writeFileSync(path.join(wrong, 'broker/bridge.pw'), 'not-the-password\n');
  try {
    refused(/the broker at mqtt:\S+ refused the login as kb-bridge/, { KB_DATA_DIR: wrong },
      'add-device', 'satay', 'satay-kitchen', 'kitchen');
  } finally { rmSync(wrong, { recursive: true, force: true }); }

  // Something that takes the connection and never answers: the 10 s deadline.
  const silent = net.createServer(() => {});
  await new Promise((resolve) => { silent.listen(0, '127.0.0.1', resolve); });
  try {
    const started = Date.now();
    refused(/the broker did not answer within 10 s; is the bus running\?/,
      { KB_MQTT_PORT: String(silent.address().port) }, 'add-device', 'satay', 'satay-kitchen', 'kitchen');
    assert.ok(Date.now() - started < 15000);
  } finally { silent.close(); }

  assert.equal(readFileSync(bus.registry, 'utf8'), before);
  assert.equal(existsSync(`${bus.registry}.tmp`), false);
});
