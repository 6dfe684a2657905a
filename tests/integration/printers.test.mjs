// printers: kitchen printers as the safety net (issue 18), on a real broker,
// the real bridge and loopback fake network printers (tests/lib/fake_printer.mjs)
// whose bytes are decoded by an independent strict ESC/POS decoder
// (tests/lib/escpos.mjs).
//
// "Nothing printed" is never a sleep: a printer's queue is first in, first
// out, so a test print asked for afterwards (admin API) is a marker. When the
// marker comes out first, no ticket was queued before it.
//
// Each tenant has a printer of its own, so the tests do not see each other's
// tickets; they run in order on one bus (the last one kills the bridge).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  startBus, mqttClient, subscribe, publish, waitFor, waitMessage, posDevice, makeOrder, legacyClient, BRIDGE_BIN,
} from '../lib/harness.mjs';
import { startPrinter } from '../lib/fake_printer.mjs';
import { ticketText } from '../lib/escpos.mjs';

let bus, admin;
const printers = {};
const NAMES = ['warung', 'cafe', 'oven', 'pizza', 'soto', 'mie', 'bakso', 'legacy', 'rush'];

const tenant = (id, name, printer, devices, extra = {}) => ({
  id, name, printer, ...extra,
  devices: [{ username: `${id}-pos`, role: 'pos' }, ...devices],
});
const at = (name, extra = {}) => ({ address: `127.0.0.1:${printers[name].port}`, ...extra });

before(async () => {
  for (const n of NAMES) printers[n] = await startPrinter();
  const registry = {
    outlet: { id: 'print', name: 'Print Court' }, demo: true, legacy: { mode: 'authenticated' },
    tenants: [
      tenant('warung', 'Warung Bu Sri', at('warung'), [{ username: 'warung-kitchen', role: 'kitchen' }]),
      tenant('cafe', 'Café Crème', at('cafe', { mode: 'always', codepage: 'cp858' }), [{ username: 'cafe-kitchen', role: 'kitchen' }]),
      tenant('pizza', 'Pizza', at('pizza'), [
        { username: 'pizza-oven', role: 'kitchen', station: 'oven' },
        { username: 'pizza-bar', role: 'kitchen', station: 'bar' },
      ], { stations: [{ id: 'oven', printer: at('oven', { width: 32 }) }, 'bar'] }),
      tenant('soto', 'Soto', at('soto'), []),
      tenant('mie', 'Mie', at('mie'), []),
      tenant('bakso', 'Bakso', at('bakso'), []),
      tenant('legacy', 'Legacy', at('legacy'), [{ username: 'legacy-kitchen', role: 'kitchen' }]),
      tenant('lp', 'Over CUPS', { cups: 'kitchen1' }, []),
      tenant('rush', 'Rush Hour', at('rush'), [{ username: 'rush-kitchen', role: 'kitchen' }]),
    ],
    admins: [{ username: 'admin' }],
  };
  // Screens known 2 s after a connect (default 6 s), a stalled printer given up after 1 s (default 5 s).
  bus = await startBus({ registry, env: { KB_SCREENS_SETTLE: '2s', KB_PRINTER_TIMEOUT: '1s' } });
  admin = await login();
  await presenceKnown();
});
after(async () => {
  await bus?.stop();
  for (const p of Object.values(printers)) await p.stop();
});

// ---- helpers ----

/** Until the bridge has read the screens' presence (a few seconds after it connects). */
const presenceKnown = () => waitFor(async () => (await bus.health()).body.printers.every((p) => p.screens_on !== null),
  { timeout: 10000, what: 'the printers to know the screens' });
async function api(method, p, body, session = admin) {
  const res = await fetch(bus.url(p), {
    method,
    headers: { 'content-type': 'application/json', ...(session ? { cookie: session.cookie, 'x-csrf-token': session.csrf } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json(), cookie: res.headers.get('set-cookie')?.split(';')[0] };
}
async function login() {
  const r = await api('POST', '/api/login', { username: 'admin', password: 'admin' }, null);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { cookie: r.cookie, csrf: r.body.csrf };
}
const printerState = async (key) => (await bus.health()).body.printers.find((p) => p.printer === key);
const texts = (name) => printers[name].tickets().map(ticketText);
const numberLine = (ticket) => ticket.lines.find((l) => l.width === 2 && l.text.trim().startsWith('#'))?.text.trim();
const banners = (ticket) => ticket.lines.filter((l) => l.reverse).map((l) => l.text.trim());

/** Waits for the printer's n-th ticket (1-based) and returns it. */
async function nthTicket(name, n, timeout = 15000) {
  await printers[name].waitFor((p) => p.tickets().length >= n, { timeout, what: `${name}'s ticket #${n}` });
  return printers[name].tickets()[n - 1];
}
/** Asks for a test print on `key` and waits for it: the tickets from index `from` (take it before
 * the action under test) to the test print are returned. */
async function untilTestPrint(name, from, { key = name, timeout = 15000 } = {}) {
  assert.equal(typeof from, 'number');
  const r = await api('POST', '/api/printer/test', { printer: key });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await printers[name].waitFor((p) => p.tickets().slice(from).some((t) => banners(t).includes('TEST PRINT')),
    { timeout, what: `the test print on ${name}` });
  const all = printers[name].tickets();
  const marker = all.findIndex((t, i) => i >= from && banners(t).includes('TEST PRINT'));
  return all.slice(from, marker);
}
/** A kitchen screen on or off, as its page says it (retained presence), seen by the bridge. */
async function screen(device, tenantId, online, client) {
  const c = client || await mqttClient(bus, device, device, {
    will: { topic: `outlet/tenant/${tenantId}/kitchen/${device}/presence`, payload: JSON.stringify({ online: false }), qos: 1, retain: true },
  });
  await publish(c, `outlet/tenant/${tenantId}/kitchen/${device}/presence`,
    { online, since: new Date().toISOString(), page: 'kitchen' }, { retain: true });
  await waitFor(async () => {
    const clients = await (await fetch(bus.url('/clients'))).json();
    return clients.mqtt_clients.some((e) => e.device === device) === online;
  }, { what: `the bridge to see ${device} ${online ? 'on' : 'off'}` });
  return c;
}

// ---- tests ----

test('backup mode, no screen on: exactly one ticket per order, with its items, tenant, number, table and RUSH', async () => {
  const pos = await posDevice(bus, 'warung');
  const orders = [
    makeOrder('warung', { items: [{ name: 'Nasi Goreng Spesial', qty: 2, modifiers: ['pedas'], notes: 'no egg' }], table: '4', priority: 'rush' }),
    makeOrder('warung', { items: [{ name: 'Es Teh', qty: 1 }], table: '5' }),
    makeOrder('warung', { items: [{ name: 'Sate Ayam', qty: 3 }], customer_name: 'Sri' }),
  ];
  const from = printers.warung.tickets().length;
  for (const o of orders) assert.equal((await pos.submit(o)).result, 'accepted');
  const got = await untilTestPrint('warung', from);
  assert.equal(got.length, 3, `three tickets, got:\n${got.map(ticketText).join("\n---\n")}\n${printers.warung.summary()}\n${bus.bridgeLog().slice(-3000)}`);
  assert.deepEqual(got.map(numberLine), orders.map((o) => `#${o.order_number}`), 'one each, in order');
  const [first, second] = got.map(ticketText);
  assert.match(first, /Warung Bu Sri/);
  assert.match(first, /2 x Nasi Goreng Spesial/);
  assert.match(first, /\+ pedas/);
  assert.match(first, /! no egg/);
  assert.match(first, /Table 4/);
  assert.ok(banners(got[0]).includes('RUSH'), 'the rush order is marked RUSH');
  assert.ok(!banners(got[1]).includes('RUSH'), 'a normal order is not');
  assert.match(second, /1 x Es Teh/);
  assert.doesNotMatch(second, /Nasi Goreng/);
  await waitFor(async () => (await printerState('warung')).pending === 0, { what: 'warung\'s queue empty' });
  const state = await printerState('warung');
  assert.equal(state.state, 'ok');
  assert.equal(state.printed, 4, 'three tickets and the test print');
  await pos.client.endAsync();
});

test('backup mode with a screen on: no ticket; the screen goes off: its open order prints once, FROM SCREEN; a cancel then prints', async () => {
  const pos = await posDevice(bus, 'warung');
  const kitchen = await screen('warung-kitchen', 'warung', true);
  const seen = makeOrder('warung', { items: [{ name: 'Bakmi', qty: 1 }] });
  const from = printers.warung.tickets().length;
  assert.equal((await pos.submit(seen)).result, 'accepted');
  assert.deepEqual((await untilTestPrint('warung', from)).map(numberLine), [], 'nothing printed while the screen is on');

  const before = printers.warung.tickets().length;
  kitchen.stream.destroy(); // the tablet's battery dies: its will says offline
  const fromScreen = await nthTicket('warung', before + 1);
  assert.equal(numberLine(fromScreen), `#${seen.order_number}`);
  assert.ok(banners(fromScreen).includes('FROM SCREEN'), ticketText(fromScreen));

  assert.equal((await pos.submit({ order_number: seen.order_number, action: 'cancel' })).result, 'accepted');
  const cancelled = await nthTicket('warung', before + 2);
  assert.equal(numberLine(cancelled), `#${seen.order_number}`);
  assert.ok(banners(cancelled).includes('CANCELLED'));
  assert.deepEqual((await untilTestPrint('warung', before + 2)).map(numberLine), [], 'and nothing else: the FROM SCREEN ticket printed once');
  await pos.client.endAsync();
});

test('a station printer gets only its station\'s items; the tenant printer covers the station without one', async () => {
  const pos = await posDevice(bus, 'pizza');
  const order = makeOrder('pizza', {
    items: [{ name: 'Margherita', qty: 2, station: 'oven' }, { name: 'Lemonade', qty: 1, station: 'bar' }],
  });
  assert.equal((await pos.submit(order)).result, 'accepted');
  const oven = await nthTicket('oven', 1);
  const ovenText = ticketText(oven);
  assert.match(ovenText, /2 x Margherita/);
  assert.doesNotMatch(ovenText, /Lemonade/, 'the oven printer prints no bar item');
  assert.match(ovenText, /Station: oven/);
  assert.ok(oven.lines.every((l) => l.text.length * l.width <= 32), 'the oven printer is 32 characters wide');
  const whole = await nthTicket('pizza', 1);
  assert.match(ticketText(whole), /Lemonade/, 'the bar has no printer and no screen: the tenant printer prints the order');

  // With the bar screen on, an oven-only order goes to the oven printer alone.
  const bar = await screen('pizza-bar', 'pizza', true);
  const ovenOnly = makeOrder('pizza', { items: [{ name: 'Calzone', qty: 1, station: 'oven' }] });
  const barOnly = makeOrder('pizza', { items: [{ name: 'Espresso', qty: 1, station: 'bar' }] });
  const [ovenFrom, pizzaFrom] = [printers.oven.tickets().length, printers.pizza.tickets().length];
  assert.equal((await pos.submit(ovenOnly)).result, 'accepted');
  assert.equal((await pos.submit(barOnly)).result, 'accepted');
  assert.deepEqual((await untilTestPrint('oven', ovenFrom, { key: 'pizza/oven' })).map(numberLine), [`#${ovenOnly.order_number}`]);
  assert.deepEqual((await untilTestPrint('pizza', pizzaFrom)).map(numberLine), [], 'the bar screen shows the bar');
  const barFrom = printers.pizza.tickets().length;
  await screen('pizza-bar', 'pizza', false, bar);
  const fromBar = await nthTicket('pizza', barFrom + 1);
  assert.equal(numberLine(fromBar), `#${barOnly.order_number}`, 'the bar screen went off: its open order prints');
  assert.ok(banners(fromBar).includes('FROM SCREEN'));
  await bar.endAsync();
  await pos.client.endAsync();
});

test('reprints: a station screen\'s button prints its part on its printer; the admin page\'s the whole order; an unknown order is refused', async () => {
  const pos = await posDevice(bus, 'pizza');
  const order = makeOrder('pizza', { items: [{ name: 'Diavola', qty: 1, station: 'oven' }, { name: 'Cola', qty: 2, station: 'bar' }] });
  const [ovenFrom, pizzaFrom] = [printers.oven.tickets().length, printers.pizza.tickets().length];
  assert.equal((await pos.submit(order)).result, 'accepted');
  await nthTicket('oven', ovenFrom + 1);
  await nthTicket('pizza', pizzaFrom + 1);

  const oven = await mqttClient(bus, 'pizza-oven');
  await subscribe(oven, ['outlet/tenant/pizza/kitchen/pizza-oven/ack']);
  const ask = async (number) => {
    const seen = oven.received.length;
    await publish(oven, 'outlet/tenant/pizza/kitchen/pizza-oven/status', { order_number: number, action: 'reprint' });
    return JSON.parse((await waitMessage(oven, (m, i) => i >= seen && m.topic.endsWith('/ack'), { what: 'the reprint ack' })).payload);
  };
  assert.deepEqual(await ask(order.order_number), { order_number: order.order_number, action: 'reprint', result: 'accepted' });
  const again = await nthTicket('oven', ovenFrom + 2);
  assert.equal(numberLine(again), `#${order.order_number}`);
  assert.ok(banners(again).includes('REPRINT'));
  assert.match(ticketText(again), /1 x Diavola/);
  assert.doesNotMatch(ticketText(again), /Cola/);
  const refused = await ask('NO-SUCH-17');
  assert.equal(refused.result, 'rejected');
  assert.equal(refused.error, 'reprint');
  assert.match(refused.detail, /tenant pizza has no order NO-SUCH-17/);
  assert.deepEqual((await untilTestPrint('pizza', pizzaFrom + 1)).map(numberLine), [], 'the oven\'s reprint is the oven printer\'s alone');

  const r = await api('POST', '/api/order/reprint', { tenant: 'pizza', order_number: order.order_number });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const whole = await nthTicket('pizza', pizzaFrom + 3);
  assert.ok(banners(whole).includes('REPRINT'));
  assert.match(ticketText(whole), /2 x Cola/);
  const bad = await api('POST', '/api/order/reprint', { tenant: 'pizza', order_number: 'NO-SUCH-17' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error, 'reprint');
  const noCsrf = await api('POST', '/api/order/reprint', { tenant: 'pizza', order_number: order.order_number }, { cookie: admin.cookie });
  assert.equal(noCsrf.status, 403, 'a reprint needs the session\'s CSRF token');
  await oven.endAsync();
  await pos.client.endAsync();
});

test('always mode prints with a screen on; names outside the code page come out legible; 200 items print whole', async () => {
  const pos = await posDevice(bus, 'cafe');
  const kitchen = await screen('cafe-kitchen', 'cafe', true);
  const order = makeOrder('cafe', {
    items: [
      { name: 'Nasi Goreng Spesial', qty: 1 }, { name: 'Crème brûlée', qty: 2 },
      { name: 'Phở bò', qty: 1 }, { name: 'Mie Ayam 🍜🔥', qty: 1, notes: 'tanpa sambal 🌶️' },
    ],
    customer_name: 'Zoë',
  });
  assert.equal((await pos.submit(order)).result, 'accepted');
  const t = ticketText(await nthTicket('cafe', 1));
  assert.match(t, /Café Crème/);
  assert.match(t, /1 x Nasi Goreng Spesial/);
  assert.match(t, /2 x Crème brûlée/);
  assert.match(t, /1 x Pho bò/, 'ở has no cp858 letter: transliterated to o');
  assert.match(t, /1 x Mie Ayam/);
  assert.match(t, /tanpa sambal/);
  assert.match(t, /Customer: Zoë/);
  assert.doesNotMatch(t, /\?/, 'no character came out as ?');

  const big = makeOrder('cafe', { items: Array.from({ length: 200 }, (_, i) => ({ name: `Item ${i + 1}`, qty: 1 })) });
  assert.equal((await pos.submit(big)).result, 'accepted');
  const bigText = ticketText(await nthTicket('cafe', 2));
  for (let i = 1; i <= 200; i++) assert.match(bigText, new RegExp(`^1 x Item ${i}$`, 'm'));
  assert.match(bigText, /200 items/);
  await kitchen.endAsync();
  await pos.client.endAsync();
});

test('a rush: the screen dies with 40 open orders, 5 already ready; the 35 others print once each, in order, FROM SCREEN', async () => {
  const pos = await posDevice(bus, 'rush');
  const kitchen = await screen('rush-kitchen', 'rush', true);
  const status = async (number, to) => {
    await publish(kitchen, 'outlet/tenant/rush/kitchen/rush-kitchen/status', { order_number: number, status: to });
  };
  const orders = Array.from({ length: 40 }, (_, i) => makeOrder('rush', { order_number: `${i + 1}`, items: [{ name: `Nasi ${i + 1}`, qty: 1 }] }));
  for (const o of orders) assert.equal((await pos.submit(o)).result, 'accepted');
  const ready = orders.slice(0, 5).map((o) => o.order_number);
  for (const n of ready) for (const to of ['accepted', 'preparing', 'ready']) await status(n, to);
  // The bumps go in order on one connection: once order 5 is ready, all five are.
  const watcher = await mqttClient(bus, 'rush-pos');
  await subscribe(watcher, ['outlet/tenant/rush/orders/5']);
  await waitMessage(watcher, (m) => JSON.parse(m.payload).status === 'ready', { what: 'order 5 ready' });
  await watcher.endAsync();
  assert.deepEqual((await untilTestPrint('rush', 0)).map(numberLine), [], 'nothing while the screen is on');

  const from = printers.rush.tickets().length;
  kitchen.stream.destroy(); // its will: offline
  await nthTicket('rush', from + 35, 30000);
  const got = await untilTestPrint('rush', from);
  assert.deepEqual(got.map(numberLine), orders.slice(5).map((o) => `#${o.order_number}`), 'the 35 not ready, each once, in order');
  assert.ok(got.every((t) => banners(t).includes('FROM SCREEN')));

  // The next day's order 17 (a POS that numbers per day), from a tablet whose clock is years off: a new
  // ticket (17 is closed), stamped with the bridge's time, not the tablet's.
  const mark = printers.rush.tickets().length;
  assert.equal((await pos.submit({ order_number: '17', action: 'cancel' })).result, 'accepted');
  const cancelled = await nthTicket('rush', mark + 1);
  assert.ok(banners(cancelled).includes('CANCELLED'), 'its FROM SCREEN ticket is on paper: the cancel prints');
  const tomorrow = makeOrder('rush', { order_number: '17', created_at: '2019-01-01T00:00:00Z', items: [{ name: 'Soto Betawi', qty: 1 }] });
  assert.equal((await pos.submit(tomorrow)).result, 'accepted');
  const next = await nthTicket('rush', mark + 2);
  assert.equal(numberLine(next), '#17');
  assert.match(ticketText(next), /1 x Soto Betawi/);
  const hhmm = (d) => `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  const time = ticketText(next).match(/Time: (\d\d:\d\d)/)?.[1];
  const now = new Date();
  assert.ok([hhmm(now), hhmm(new Date(now - 60000))].includes(time), `the bridge's time ${time}, not the tablet's 2019`);
  await pos.client.endAsync();
});

test('a printer down while 20 orders come in: they wait in order, then print in order, exactly once', async () => {
  const pos = await posDevice(bus, 'soto');
  await printers.soto.setMode('down');
  const orders = Array.from({ length: 20 }, (_, i) => makeOrder('soto', { order_number: `${i + 1}`, items: [{ name: `Soto ${i + 1}`, qty: 1 }] }));
  for (const o of orders) assert.equal((await pos.submit(o)).result, 'accepted', 'the orders flow while the printer is down');
  await waitFor(async () => (await printerState('soto')).state === 'degraded', { timeout: 10000, what: 'soto degraded' });
  const down = await printerState('soto');
  assert.equal(down.pending, 20);
  assert.match(down.error, /refused/);
  assert.equal((await bus.health()).body.printing, 'degraded');
  assert.equal((await bus.health()).body.status, 'ok', 'orders still flow: the bridge is ok');
  // /metrics says the same as /health, for a chain's alerting.
  assert.equal(await bus.metric('kb_printer_degraded{printer="soto",tenant="soto"}'), 1);
  assert.equal(await bus.metric('kb_printer_pending_tickets{printer="soto",tenant="soto"}'), 20);
  assert.equal(await bus.metric('kb_printer_degraded{printer="warung",tenant="warung"}'), 0, 'another printer is fine');

  await printers.soto.setMode('normal');
  const got = await untilTestPrint('soto', 0, { timeout: 30000 });
  assert.deepEqual(got.map(numberLine), orders.map((o) => `#${o.order_number}`), 'in order, each once');
  assert.ok(got.every((t) => !banners(t).includes('REPRINT')), 'none had reached paper: no REPRINT');
  await waitFor(async () => (await printerState('soto')).state === 'ok', { what: 'soto ok again' });
  assert.equal(await bus.metric('kb_printer_degraded{printer="soto",tenant="soto"}'), 0);
  // 20 tickets and the test print (counted once the printer has closed the test print's connection)
  await waitFor(async () => await bus.metric('kb_printer_printed_total{printer="soto",tenant="soto"}') === 21,
    { what: 'kb_printer_printed_total 21 for soto' });
  await pos.client.endAsync();
});

test('a printer that takes the connection and never reads blocks nothing else; its ticket prints later, REPRINT', async () => {
  const pos = await posDevice(bus, 'mie');
  const other = await posDevice(bus, 'warung');
  await printers.mie.setMode('stall');
  const stuck = makeOrder('mie', { items: Array.from({ length: 200 }, (_, i) => ({ name: `Mie ${i} ${'x'.repeat(60)}`, qty: 1 })) });
  assert.equal((await pos.submit(stuck)).result, 'accepted');
  await printers.mie.waitFor((p) => p.connections.length >= 1, { what: 'the stalled connection' });
  const t0 = Date.now();
  const quick = makeOrder('warung', { items: [{ name: 'Kopi', qty: 1 }] });
  const before = printers.warung.tickets().length;
  assert.equal((await other.submit(quick)).result, 'accepted');
  assert.equal(numberLine(await nthTicket('warung', before + 1)), `#${quick.order_number}`);
  assert.ok(Date.now() - t0 < 3000, `another printer printed in ${Date.now() - t0} ms while mie stalls`);

  await printers.mie.setMode('normal');
  const ticket = await nthTicket('mie', 1, 30000);
  assert.equal(numberLine(ticket), `#${stuck.order_number}`);
  assert.ok(banners(ticket).includes('REPRINT'), 'part of it may have printed: the copy says REPRINT');
  await pos.client.endAsync();
  await other.client.endAsync();
});

test('a CUPS printer without CUPS installed says why in /health', { skip: existsSync('/usr/bin/lp') && 'lp is installed here: this checks the message of a box without it' }, async () => {
  const pos = await posDevice(bus, 'lp');
  assert.equal((await pos.submit(makeOrder('lp', { items: [{ name: 'Roti', qty: 1 }] }))).result, 'accepted');
  await waitFor(async () => (await printerState('lp')).state === 'degraded', { timeout: 10000, what: 'lp degraded' });
  assert.match((await printerState('lp')).error, /lp not found: install cups and give the printer a raw queue/);
  await pos.client.endAsync();
});

test('a bad printer in the registry stops --check-registry with one line naming it', () => {
  const file = path.join(bus.dir, 'bad-printer.json');
  writeFileSync(file, JSON.stringify({
    outlet: { id: 'x' }, tenants: [{ id: 'a', printer: { address: '192.168.1.50:99999' }, devices: [] }], admins: [{ username: 'admin' }],
  }));
  let out = '';
  try { execFileSync(BRIDGE_BIN, ['--check-registry', file], { encoding: 'utf8', stdio: 'pipe' }); } catch (e) { out = e.stderr; assert.equal(e.status, 2); }
  assert.match(out, /tenant a: printer address must be host:port, such as 192.168.1.50:9100/);
  assert.equal(out.trim().split('\n').length, 1);
});

test('a kitchen on the old sync server\'s protocol counts as a screen: no ticket while it is on; it leaves: FROM SCREEN', async () => {
  const pos = await posDevice(bus, 'legacy');
  const kitchen = await legacyClient(bus, { type: 'kitchen', id: 'KITCHEN-OLD', username: 'legacy-kitchen' });
  await kitchen.waitType('connected');
  await waitFor(async () => (await (await fetch(bus.url('/clients'))).json()).mqtt_clients.some((e) => e.device === 'legacy-kitchen'),
    { what: 'the legacy kitchen in presence' });
  const order = makeOrder('legacy', { items: [{ name: 'Gado-gado', qty: 1 }] });
  const mark = printers.legacy.tickets().length;
  assert.equal((await pos.submit(order)).result, 'accepted');
  assert.deepEqual((await untilTestPrint('legacy', mark)).map(numberLine), [], 'the old kitchen shows it');
  const from = printers.legacy.tickets().length;
  await kitchen.close();
  const t = await nthTicket('legacy', from + 1);
  assert.equal(numberLine(t), `#${order.order_number}`);
  assert.ok(banners(t).includes('FROM SCREEN'));
  await pos.client.endAsync();
});

test('bridge SIGKILLed in the middle of a job: after the restart it prints once, REPRINT; a finished job never again', async () => {
  let pos = await posDevice(bus, 'bakso');
  const done = makeOrder('bakso', { items: [{ name: 'Bakso Urat', qty: 1 }] });
  assert.equal((await pos.submit(done)).result, 'accepted');
  assert.equal(numberLine(await nthTicket('bakso', 1)), `#${done.order_number}`);
  await waitFor(async () => (await printerState('bakso')).pending === 0, { what: 'the first job marked done' });

  await printers.bakso.setMode('hold'); // takes every byte, never says it is finished
  const cut = makeOrder('bakso', { items: [{ name: 'Bakso Telur', qty: 2 }] });
  assert.equal((await pos.submit(cut)).result, 'accepted');
  await printers.bakso.waitFor((p) => p.connections.some((c) => c.held && c.ended), { what: 'the held job sent' });
  await pos.client.endAsync();
  await bus.killBridge();
  await printers.bakso.setMode('normal');
  printers.bakso.release();
  const before = printers.bakso.tickets().length; // the held copy is on paper too
  await bus.startBridge();
  const again = await nthTicket('bakso', before + 1);
  assert.equal(numberLine(again), `#${cut.order_number}`);
  assert.ok(banners(again).includes('REPRINT'), ticketText(again));
  admin = await login();
  await presenceKnown();
  assert.deepEqual((await untilTestPrint('bakso', before + 1)).map(numberLine), [], 'the finished job did not print again');
  pos = await posDevice(bus, 'bakso');
  await pos.client.endAsync();
});

test('a bridge restart: a legacy kitchen back within seconds prints nothing; an order taken before the screens are known, with none on, prints once', async () => {
  const connectKitchen = async () => {
    const k = await legacyClient(bus, { type: 'kitchen', id: 'KITCHEN-OLD', username: 'legacy-kitchen' });
    await k.waitType('connected');
    return k;
  };
  let kitchen = await connectKitchen();
  await waitFor(async () => (await (await fetch(bus.url('/clients'))).json()).mqtt_clients.some((e) => e.device === 'legacy-kitchen'),
    { what: 'the legacy kitchen in presence' });
  const pos = await posDevice(bus, 'legacy');
  const shown = makeOrder('legacy', { items: [{ name: 'Ketoprak', qty: 1 }] });
  const mark = printers.legacy.tickets().length;
  assert.equal((await pos.submit(shown)).result, 'accepted');
  assert.deepEqual((await untilTestPrint('legacy', mark)).map(numberLine), [], 'on the old kitchen\'s screen');
  await pos.client.endAsync();

  await bus.killBridge();
  const [legacyFrom, warungFrom] = [printers.legacy.tickets().length, printers.warung.tickets().length];
  await bus.startBridge();
  kitchen = await connectKitchen(); // the old client's reconnect, within its 5 s
  const warung = await posDevice(bus, 'warung');
  const early = makeOrder('warung', { items: [{ name: 'Teh Tarik', qty: 1 }] });
  assert.equal((await warung.submit(early)).result, 'accepted');
  assert.equal((await bus.health()).body.printers.find((x) => x.printer === 'warung').screens_on, null, 'taken before the screens are known');
  await presenceKnown();
  admin = await login();
  assert.deepEqual((await untilTestPrint('warung', warungFrom)).map(numberLine), [`#${early.order_number}`], 'decided once the screens are known: printed once');
  assert.deepEqual((await untilTestPrint('legacy', legacyFrom)).map(numberLine), [], 'the kitchen came back in time: nothing printed');
  await kitchen.close();
  await warung.client.endAsync();
});

