// printers_cups: a kitchen printer behind CUPS (issue 18), on a real broker,
// the real bridge and Debian's own cupsd (tests/lib/cups.mjs): the bridge
// runs `lp -d <queue> -o raw`, CUPS queues the job on a raw queue, and CUPS's
// socket backend sends it to a loopback fake printer (tests/lib/fake_printer.mjs).
//
// Two tenants of the same name print the same order: one on a network
// printer, one through CUPS. What reaches the paper must be byte for byte the
// same, but for the minute of the ticket's time. The network one is also the
// README's example ticket, so the README cannot drift from what prints.
// Then the ways CUPS fails an outlet: a queue it does not know, cupsd
// stopped, and the printer behind it off (CUPS holds the ticket; the bridge
// must say so, not show the printer as fine).
//
// Skipped, with the reason, where CUPS is not installed (it is one of
// `./kitchen-bus deps test`'s packages).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startBus, waitFor, posDevice, makeOrder, ROOT } from '../lib/harness.mjs';
import { startPrinter } from '../lib/fake_printer.mjs';
import { ticketText, ticketPicture } from '../lib/escpos.mjs';
import { cupsMissing, startCups } from '../lib/cups.mjs';

const skip = cupsMissing();
let bus, cups;
const printers = {};

// The README's example order ("Kitchen printers"): accents, a letter cp858
// lacks (ở), an emoji, a modifier, a note, a table and RUSH.
const README_ORDER = {
  order_number: '17', order_type: 'dine_in', table: '4', customer_name: 'Sri', priority: 'rush',
  items: [
    { name: 'Nasi Goreng Spesial', qty: 2, modifiers: ['pedas', 'no egg'] },
    { name: 'Phở bò', qty: 1, notes: 'extra herbs 🌿' },
    { name: 'Crème brûlée', qty: 1 },
  ],
};

const tenant = (id, printer) => ({
  id, name: 'Warung Bu Sri', printer, devices: [{ username: `${id}-pos`, role: 'pos' }],
});

before(async () => {
  if (skip) return;
  for (const n of ['direct', 'usb', 'late']) printers[n] = await startPrinter();
  cups = await startCups();
  await cups.addRawQueue('kitchen1', `127.0.0.1:${printers.usb.port}`);
  const registry = {
    outlet: { id: 'cups', name: 'CUPS Court' }, demo: true,
    tenants: [
      tenant('direct', { address: `127.0.0.1:${printers.direct.port}`, codepage: 'cp858' }),
      tenant('usb', { cups: 'kitchen1', codepage: 'cp858' }),
      // Named before the queue exists: an operator's typo, or CUPS set up after the registry.
      tenant('late', { cups: 'kitchen2' }),
    ],
    admins: [{ username: 'admin' }],
  };
  // KB_PRINTER_TIMEOUT 1 s: a ticket that stays CUPS's oldest for 3 s (3 x) makes the printer degraded.
  bus = await startBus({ registry, env: { CUPS_SERVER: cups.socket, KB_SCREENS_SETTLE: '2s', KB_PRINTER_TIMEOUT: '1s' } });
  await waitFor(async () => (await bus.health()).body.printers.every((p) => p.screens_on !== null),
    { timeout: 10000, what: 'the printers to know the screens' });
});
after(async () => {
  await bus?.stop();
  await cups?.close();
  for (const p of Object.values(printers)) await p.stop();
});

const printerState = async (key) => (await bus.health()).body.printers.find((p) => p.printer === key);
const why = () => `\n--- cupsd log (end)\n${cups.log().slice(-3000)}\n--- bridge log (end)\n${bus.bridgeLog().slice(-2000)}`;
/** The minute of the ticket's time may differ between two prints of one order. */
const sameButTime = (bytes) => bytes.toString('latin1').replace(/\d\d:\d\d/g, 'HH:MM');

test('CUPS prints the same bytes as a network printer: a raw queue through Debian\'s cupsd and its socket backend', { skip }, async () => {
  const direct = await posDevice(bus, 'direct');
  const usb = await posDevice(bus, 'usb');
  assert.equal((await direct.submit({ ...README_ORDER, tenant_id: 'direct' })).result, 'accepted');
  assert.equal((await usb.submit({ ...README_ORDER, tenant_id: 'usb' })).result, 'accepted');
  await printers.direct.waitFor((p) => p.tickets().length === 1, { timeout: 15000, what: 'the network ticket' });
  await printers.usb.waitFor((p) => p.tickets().length === 1, { timeout: 20000, what: `the ticket through CUPS${why()}` });
  const [viaTcp, viaCups] = [printers.direct.connections[0].bytes, printers.usb.connections[0].bytes];
  assert.ok(viaTcp.length > 100, `a whole ticket: ${viaTcp.length} bytes`);
  assert.equal(sameButTime(viaCups), sameButTime(viaTcp), 'CUPS passes the ticket on untouched');
  assert.ok(viaCups.includes(Buffer.from('Cr\x8Ame br\x96l\x82e', 'latin1')), 'Crème brûlée in cp858 bytes, not UTF-8');
  await waitFor(async () => (await printerState('usb')).printed === 1, { what: 'the CUPS printer to count its ticket' });
  assert.equal((await printerState('usb')).state, 'ok');
  await direct.client.endAsync();
  await usb.client.endAsync();
});

test('the README shows the ticket the bridge prints for its example order', { skip }, async () => {
  await printers.direct.waitFor((p) => p.tickets().length >= 1, { what: 'the network ticket of the first test' });
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = readme.match(/<!-- ticket: begin -->\n```text\n([\s\S]*?)\n```\n<!-- ticket: end -->/);
  assert.ok(block, 'README.md has a ```text block between <!-- ticket: begin --> and <!-- ticket: end -->');
  const printed = ticketPicture(printers.direct.tickets()[0], 42).replace(/\d\d:\d\d/, '10:02');
  assert.equal(block[1], printed, `README.md's ticket is not what prints; what prints (time set to 10:02):\n${printed}`);
});

test('a queue CUPS does not know: degraded with CUPS\'s reason; the operator adds it: the ticket prints once', { skip }, async () => {
  const pos = await posDevice(bus, 'late');
  const order = makeOrder('late', { items: [{ name: 'Soto Ayam', qty: 1 }] });
  assert.equal((await pos.submit(order)).result, 'accepted');
  await waitFor(async () => (await printerState('late')).state === 'degraded', { timeout: 10000, what: 'late degraded' });
  const { error, pending } = await printerState('late');
  assert.match(error, /^lp -d kitchen2 failed \(exit 1\): lp: .*(does not exist|not found)/i, error);
  assert.equal(pending, 1);

  await cups.addRawQueue('kitchen2', `127.0.0.1:${printers.late.port}`);
  await printers.late.waitFor((p) => p.tickets().length >= 1, { timeout: 20000, what: `the ticket after the queue was added${why()}` });
  // Nothing left in the bridge's queue nor in CUPS's: no more bytes can come, so the count is final.
  await waitFor(async () => (await printerState('late')).pending === 0, { timeout: 10000, what: 'late\'s queue empty' });
  await cups.idle();
  assert.equal((await printerState('late')).state, 'ok');
  assert.equal(printers.late.tickets().length, 1, 'printed once');
  assert.match(ticketText(printers.late.tickets()[0]), new RegExp(`#${order.order_number}`));
  await pos.client.endAsync();
});

test('cupsd stopped: the ticket waits in the bridge\'s queue (degraded); cupsd back: it prints once, in order', { skip }, async () => {
  const pos = await posDevice(bus, 'usb');
  const from = printers.usb.tickets().length;
  await cups.stop();
  const orders = [1, 2, 3].map((i) => makeOrder('usb', { items: [{ name: `Es Teh ${i}`, qty: i }] }));
  for (const o of orders) assert.equal((await pos.submit(o)).result, 'accepted', 'orders are taken while CUPS is down');
  await waitFor(async () => (await printerState('usb')).state === 'degraded', { timeout: 10000, what: 'usb degraded' });
  assert.match((await printerState('usb')).error, /^lp -d kitchen1 failed/);

  await cups.start();
  await printers.usb.waitFor((p) => p.tickets().length >= from + 3, { timeout: 30000, what: `three tickets after cupsd is back${why()}` });
  await waitFor(async () => (await printerState('usb')).pending === 0, { timeout: 10000, what: 'usb\'s queue empty' });
  await cups.idle();
  const got = printers.usb.tickets().slice(from).map(ticketText);
  assert.equal(got.length, 3, got.join('\n---\n'));
  orders.forEach((o, i) => assert.match(got[i], new RegExp(`#${o.order_number}[\\s\\S]*${i + 1} x Es Teh ${i + 1}`), 'in order'));
  await pos.client.endAsync();
});

test('the printer behind CUPS is off: CUPS holds the ticket and /health says so in CUPS\'s words; on again: it prints once, ok', { skip }, async () => {
  const pos = await posDevice(bus, 'usb');
  const from = printers.usb.tickets().length;
  await printers.usb.setMode('down');
  const order = makeOrder('usb', { items: [{ name: 'Bakso Urat', qty: 2 }] });
  assert.equal((await pos.submit(order)).result, 'accepted');
  await waitFor(async () => (await printerState('usb')).state === 'degraded', { timeout: 15000, what: `usb degraded while CUPS holds its ticket${why()}` });
  const held = await printerState('usb');
  assert.equal(held.pending, 0, 'the bridge handed the ticket to CUPS');
  assert.equal(held.cups_waiting, 1);
  assert.match(held.error, /^CUPS has held ticket kitchen1-\d+ for \d+ s \(1 waiting\): \S/, held.error);
  assert.equal(await bus.metric('kb_printer_degraded{printer="usb",tenant="usb"}'), 1);

  await printers.usb.setMode('normal');
  await printers.usb.waitFor((p) => p.tickets().length > from, { timeout: 30000, what: `the ticket once the printer is on${why()}` });
  await cups.idle();
  await waitFor(async () => (await printerState('usb')).state === 'ok', { timeout: 10000, what: 'usb ok again' });
  assert.equal((await printerState('usb')).cups_waiting, 0);
  const got = printers.usb.tickets().slice(from);
  assert.equal(got.length, 1, 'printed once');
  assert.match(ticketText(got[0]), new RegExp(`#${order.order_number}[\\s\\S]*2 x Bakso Urat`));
  await pos.client.endAsync();
});
