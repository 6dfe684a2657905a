// add_device: `kitchen-bus add-device` for every role of the registry, on a
// real broker and the real bridge in production (non-demo) mode. A kitchen
// bound to a station, an expo and pickup boards (every tenant, or a list) are
// added by the CLI, log in with the password it printed once, and read exactly
// what their role allows. The registry is saved as the bridge saves it (the old
// file kept as <registry>.bak, no .tmp left); bad input and a broker out of
// reach fail with status 1 and one line on stderr, and leave the registry and
// its .bak byte for byte as they were. (The pos and whole-order kitchen forms:
// registry.test.mjs.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import {
  startBus, mqttClient, subscribe, posDevice, stationDevice, expoDevice, boardDevice, makeOrder, waitFor, waitMessage,
  parse, freePort, orderTopic, eventsTopic, stationViewTopic, boardTopic, kitchenBusCommand } from '../lib/harness.mjs';

const production = {
  outlet: { id: 'court-9', name: 'Court 9' },
  demo: false,
  tenants: [
    { id: 'pizza', name: 'Pizza Paradise', stations: ['oven', 'bar'], devices: [{ username: 'pizza-pos', role: 'pos' }] },
    { id: 'satay', name: 'Sate Pak Kumis', devices: [] },
    { id: 'noodle', name: 'Noodle House', devices: [] },
  ],
  admins: [{ username: 'admin' }],
};

let bus;
before(async () => {
  bus = await startBus({ registry: production });
  chmodSync(bus.registry, 0o640); // not the default 0644: the saves must keep it
});
after(async () => { await bus?.stop(); });

// kitchen-bus runs the kb-device of the build under test (the one kb-bridge is in).
const kitchenBusWith = (env, ...args) => kitchenBusCommand(bus, env, ...args);
const kitchenBus = (...args) => kitchenBusWith({}, ...args);
const passwordOf = (out) => {
  const m = out.match(/password: (\S+)/);
  assert.ok(m, `a password in: ${out}`);
  assert.match(m[1], /^[A-Za-z0-9_-]{24}$/);
  return m[1];
};
const registryDoc = () => JSON.parse(readFileSync(bus.registry, 'utf8'));
const bytes = (file) => (existsSync(file) ? readFileSync(file) : null);

/** Nothing of a save is left half done: no .tmp, no .bak.tmp-bak. */
function noTemporaries() {
  assert.equal(existsSync(`${bus.registry}.tmp`), false, 'no .tmp left behind');
  assert.equal(existsSync(`${bus.registry}.bak.tmp-bak`), false, 'no .bak.tmp-bak left behind');
}

/** Runs a successful add-device: the old registry becomes the .bak, byte for
 * byte, and the new one keeps the file's mode. */
function added(...args) {
  const previous = readFileSync(bus.registry);
  const mode = statSync(bus.registry).mode & 0o7777;
  const out = kitchenBus('add-device', ...args);
  assert.deepEqual(readFileSync(`${bus.registry}.bak`), previous, 'the registry before the change is the .bak');
  assert.notDeepEqual(readFileSync(bus.registry), previous);
  assert.equal((statSync(bus.registry).mode & 0o7777).toString(8), mode.toString(8), 'the registry keeps its mode');
  noTemporaries();
  return out;
}

/** kitchen-bus must fail with status 1 and exactly one stderr line matching
 * `pattern`, and leave the registry and its .bak byte for byte unchanged. */
function refused(pattern, env, ...args) {
  const [registry, bak] = [bytes(bus.registry), bytes(`${bus.registry}.bak`)];
  let error;
  try { kitchenBusWith(env, ...args); } catch (e) { error = e; }
  assert.ok(error, `kitchen-bus ${args.join(' ')} should fail`);
  assert.equal(error.status, 1, error.stderr);
  assert.match(error.stderr, /^kitchen-bus: [^\n]*\n$/, `one line on stderr, not: ${error.stderr}`);
  assert.match(error.stderr, pattern);
  assert.deepEqual(bytes(bus.registry), registry, `kitchen-bus ${args.join(' ')}: the registry is unchanged`);
  assert.deepEqual(bytes(`${bus.registry}.bak`), bak, `kitchen-bus ${args.join(' ')}: the .bak is unchanged`);
  noTemporaries();
}

/** Retries `connect` until the reload after add-device gave the device its role. */
const once = (connect, what) => waitFor(async () => { try { return await connect(); } catch { return null; } },
  { timeout: 10000, interval: 100, what });

/** The QoS the broker grants a fresh subscription of `device` to each filter (>= 128: refused). */
async function grants(client, filters) {
  const out = {};
  for (const f of filters) [out[f]] = await subscribe(client, [f]);
  return out;
}
/** The filters of `g` the broker granted. */
const grantedOf = (g) => Object.entries(g).filter(([, q]) => q < 128).map(([f]) => f);

let posPassword;
const pizzaOrder = () => makeOrder('pizza', {
  items: [{ name: 'Margherita', qty: 1, station: 'oven' }, { name: 'Lemonade', qty: 1, station: 'bar' }],
});

test('a kitchen bound to a station: saved with its station, reads only its station\'s views', async () => {
  posPassword = passwordOf(kitchenBus('set-password', 'pizza-pos'));
  const out = added('pizza', 'pizza-oven', 'kitchen', '--station', 'oven');
  assert.match(out, /Device pizza-oven \(kitchen at station oven of tenant pizza\)/);
  assert.equal(out.match(/password: /g).length, 1, 'the password is printed once');
  const password = passwordOf(out);
  assert.deepEqual(registryDoc().tenants[0].devices, [
    { username: 'pizza-pos', role: 'pos' }, { username: 'pizza-oven', role: 'kitchen', station: 'oven' }]);
  assert.doesNotMatch(readFileSync(bus.registry, 'utf8'), new RegExp(password));

  const oven = await once(() => stationDevice(bus, 'pizza', 'oven', 'pizza-oven', { password }), 'pizza-oven to get its role');
  const pos = await posDevice(bus, 'pizza', 'pizza-pos', { password: posPassword });
  const order = pizzaOrder();
  const n = order.order_number;
  assert.equal((await pos.submit(order)).result, 'accepted');
  const view = parse(await waitMessage(oven.client, (m) => m.topic === stationViewTopic('pizza', 'oven', n), { what: 'the oven view' }));
  assert.deepEqual(view.items.map((i) => i.name), ['Margherita'], 'only the oven\'s items');
  assert.equal((await oven.report(n, 'preparing')).result, 'accepted', 'it may report its part');

  const probe = await mqttClient(bus, 'pizza-oven', password);
  const g = await grants(probe, [orderTopic('pizza', '+'), eventsTopic('pizza'), stationViewTopic('pizza', 'bar', '+'),
    stationViewTopic('satay', 'oven', '+'), boardTopic('pizza'), 'outlet/#']);
  assert.deepEqual(grantedOf(g), [], `a station kitchen reads nothing but its station's views: ${JSON.stringify(g)}`);
  assert.equal(oven.client.received.some((m) => m.topic === orderTopic('pizza', n)), false);
  await Promise.all([oven.client.endAsync(), pos.client.endAsync(), probe.endAsync()]);
});

test('an expo: reads its tenant\'s whole orders and events, no station views, no other tenant', async () => {
  const out = added('pizza', 'pizza-expo', 'expo');
  assert.match(out, /Device pizza-expo \(expo of tenant pizza\)/);
  const password = passwordOf(out);
  assert.deepEqual(registryDoc().tenants[0].devices.at(-1), { username: 'pizza-expo', role: 'expo' });

  const expo = await once(() => expoDevice(bus, 'pizza', 'pizza-expo', { password }), 'pizza-expo to get its role');
  const whole = parse(await waitMessage(expo.client, (m) => m.topic.startsWith('outlet/tenant/pizza/orders/'),
    { what: 'the retained open order' }));
  assert.deepEqual(whole.items.map((i) => i.name), ['Margherita', 'Lemonade'], 'the whole order');
  assert.deepEqual(whole.stations, { oven: 'preparing', bar: 'new' }, 'with each station\'s progress');

  const probe = await mqttClient(bus, 'pizza-expo', password);
  const g = await grants(probe, [stationViewTopic('pizza', 'oven', '+'), orderTopic('satay', '+'), eventsTopic('satay'),
    boardTopic('pizza'), 'outlet/#']);
  assert.deepEqual(grantedOf(g), [], `an expo reads only its tenant's orders: ${JSON.stringify(g)}`);
  await Promise.all([expo.client.endAsync(), probe.endAsync()]);
});

test('a board of every tenant (the default) and a board of a list: board documents only', async () => {
  const out = added('--board', 'court-board');
  assert.match(out, /Device court-board \(board of every tenant\)/);
  const password = passwordOf(out);
  assert.deepEqual(registryDoc().boards, [{ username: 'court-board', tenants: '*' }],
    'a registry without "boards" gets them');

  // Added while an order is preparing: the board shows it at once.
  const board = await once(() => boardDevice(bus, 'court-board', ['pizza', 'satay', 'noodle'], { password }),
    'court-board to get its role');
  const doc = await board.waitDoc('pizza', (d) => d.preparing.length === 1, { what: 'the pizza board with the preparing order' });
  assert.deepEqual(Object.keys(doc).sort(), ['preparing', 'ready', 'tenant', 'tenant_name']);
  await board.waitDoc('noodle', () => true, { what: 'the noodle board' });
  const probe = await mqttClient(bus, 'court-board', password);
  const g = await grants(probe, [orderTopic('pizza', '+'), eventsTopic('pizza'), stationViewTopic('pizza', 'oven', '+'), 'outlet/#']);
  assert.deepEqual(grantedOf(g), [], `a board reads board documents only: ${JSON.stringify(g)}`);
  await Promise.all([board.client.endAsync(), probe.endAsync()]);

  const listOut = added('--board', 'counter-b', '--tenants', 'pizza, satay');
  assert.match(listOut, /Device counter-b \(board of tenants pizza, satay\)/);
  const listPw = passwordOf(listOut);
  assert.deepEqual(registryDoc().boards.at(-1), { username: 'counter-b', tenants: ['pizza', 'satay'] });
  const counter = await once(() => boardDevice(bus, 'counter-b', ['pizza', 'satay'], { password: listPw }), 'counter-b to get its role');
  await counter.waitDoc('pizza', (d) => d.preparing.length === 1, { what: 'counter-b\'s pizza board' });
  const g2 = await grants(counter.client, [boardTopic('noodle'), orderTopic('pizza', '+'), 'outlet/board/+']);
  assert.deepEqual(grantedOf(g2), [], `a listed board reads only its tenants' boards: ${JSON.stringify(g2)}`);
  await counter.client.endAsync();

  // The whole file is still what the bridge loads, and shows every new device.
  const h = await bus.health();
  assert.equal(h.status, 200);
  assert.doesNotMatch(bus.bridgeLog(), /registry reload failed/);
  assert.doesNotMatch(bus.bridgeLog() + bus.brokerLog(), new RegExp(`${password}|${listPw}`));
});

test('bad input: status 1, one line naming the fix, the registry and its .bak untouched, no .tmp', async () => {
  refused(/tenant pizza has no station "grill" \(its stations: oven, bar\); add it to tenant pizza's "stations" in \S+ first/,
    {}, 'add-device', 'pizza', 'pizza-grill', 'kitchen', '--station', 'grill');
  refused(/tenant satay has no stations; add "stations": \["grill"\] to tenant satay in \S+ first/,
    {}, 'add-device', 'satay', 'satay-grill', 'kitchen', '--station', 'grill');
  refused(/a station must be/, {}, 'add-device', 'pizza', 'pizza-x', 'kitchen', '--station', 'Oven');
  refused(/only a kitchen device may be bound to a station/, {}, 'add-device', 'pizza', 'pizza-x', 'expo', '--station', 'oven');
  refused(/role must be pos, kitchen or expo \(a pickup board: add-device --board pizza-x\)/,
    {}, 'add-device', 'pizza', 'pizza-x', 'board');
  refused(/no tenant "nope" in \S+ \(a board's --tenants/, {}, 'add-device', '--board', 'b2', '--tenants', 'pizza,nope');
  refused(/--tenants names pizza twice/, {}, 'add-device', '--board', 'b2', '--tenants', 'pizza,pizza');
  refused(/--tenants must be "\*" or tenant ids/, {}, 'add-device', '--board', 'b2', '--tenants', '');
  refused(/--tenants must be "\*" or tenant ids/, {}, 'add-device', '--board', 'b2', '--tenants', 'pizza,');
  refused(/no tenant "nope"/, {}, 'add-device', 'nope', 'nope-expo', 'expo');
  // A duplicate username, whatever role and list it was or would be in.
  for (const args of [['pizza', 'pizza-oven', 'expo'], ['satay', 'pizza-oven', 'kitchen'], ['--board', 'pizza-pos'],
    ['satay', 'court-board', 'pos'], ['--board', 'counter-b', '--tenants', 'noodle'], ['--board', 'admin'],
    ['noodle', 'pizza-expo', 'kitchen']]) {
    refused(new RegExp(`a device called "${args[1]}" already exists \\(to give it a new password: kitchen-bus set-password ${args[1]}\\)`),
      {}, 'add-device', ...args);
  }
  refused(/kb-bridge is the bridge's own account/, {}, 'add-device', '--board', 'kb-bridge');
  refused(/username must be/, {}, 'add-device', '--board', 'Court/Board');
  // Shapes the script does not know: its usage, one line.
  for (const args of [['--board'], ['--board', 'b2', '--station', 'oven'], ['pizza', 'b2', 'kitchen', '--tenants', 'pizza'],
    ['pizza', 'b2', 'kitchen', '--station'], ['pizza', 'b2'], ['--tenants', '*', '--board', 'b2']]) {
    refused(/usage: kitchen-bus add-device TENANT USERNAME pos\|kitchen\|expo \[--station STATION\] \| add-device --board USERNAME/,
      {}, 'add-device', ...args);
  }
});

test('a broker out of reach leaves the registry and its .bak untouched, for every role', async () => {
  const closed = String(await freePort());
  for (const args of [['pizza', 'pizza-bar', 'kitchen', '--station', 'bar'], ['satay', 'satay-expo', 'expo'], ['--board', 'b3']]) {
    refused(new RegExp(`cannot reach the broker at mqtt://127\\.0\\.0\\.1:${closed}: Connection refused`),
      { KB_MQTT_PORT: closed }, 'add-device', ...args);
  }
});

test('set-password names a station kitchen\'s station and a board\'s tenants', () => {
  assert.match(kitchenBus('set-password', 'pizza-oven'), /Device pizza-oven \(kitchen at station oven of tenant pizza\)/);
  assert.match(kitchenBus('set-password', 'counter-b'), /Device counter-b \(board of tenants pizza, satay\)/);
  assert.match(kitchenBus('set-password', 'court-board'), /Device court-board \(board of every tenant\)/);
  noTemporaries();
});
