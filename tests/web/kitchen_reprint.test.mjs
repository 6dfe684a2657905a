// kitchen_reprint: the kitchen card's Reprint button (issue 18), in real
// headless Chromium against the real bus and a loopback fake network printer
// (tests/lib/fake_printer.mjs, decoded by tests/lib/escpos.mjs). The demo
// registry, with a printer for burger in "always" mode (every order prints);
// noodle has none.
//
// A reprint is no order change: {"order_number", "action": "reprint"} on the
// screen's status topic, answered on its ack topic with "action": "reprint".
// Its answer must never settle a status change of the same order number that
// is in flight: the noodle test puts a rejected reprint's ack between a
// bump's ack and the next bump's, on purpose (deterministically: the reprint
// is sent once the first bump's ack is in and the second bump is stored, from
// the listener of whichever came last, before the outbox sends the second),
// and the second bump must still get its own ack. The last test
// stops the broker: an offline page's Reprint button is disabled.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBus, posDevice, makeOrder, readJson, DEMO_REGISTRY } from '../lib/harness.mjs';
import { startPrinter } from '../lib/fake_printer.mjs';
import { ticketText } from '../lib/escpos.mjs';
import { openDevice, openLive, until, untilCard, armSound } from './browser.mjs';

let bus, printer, burgerPos, noodlePos;
const devices = [];
const pages = {};

const card = (n) => `#cards .card[data-order="${n}"]`;

/** Opens /kitchen as `name` and records, in the page, every ack its bus gets. */
async function kitchenPage(name) {
    const d = await openDevice({ name });
    devices.push(d);
    const page = await d.page();
    await openLive(page, bus.url('/kitchen'), name);
    // The first tap arms the sound and takes the banner away (the cards move up):
    // done first, as on a real screen, so the test's taps land where they aim.
    await armSound(page);
    await page.evaluate(() => {
        window.__acks = [];
        window.__kb.bus.onAck((a) => window.__acks.push(a));
    });
    return page;
}

/** Records, in the page, each text the card's reprint note shows (in order). */
function watchNote(page, n) {
    return page.evaluate((num) => {
        const seen = window.__notes = [];
        const look = () => {
            const t = document.querySelector(`#cards .card[data-order="${num}"] [data-testid=reprint-note]`)?.textContent ?? null;
            if (t !== null && t !== seen[seen.length - 1]) seen.push(t);
        };
        new MutationObserver(look).observe(document.querySelector('#cards'), { childList: true, subtree: true, characterData: true });
    }, n);
}

const acksOf = (page, n) => page.evaluate((num) => window.__acks.filter((a) => a.order_number === num), n);
const ticketsOf = (n) => printer.tickets().map(ticketText).filter((t) => t.includes(n));

before(async () => {
    printer = await startPrinter();
    const registry = readJson(DEMO_REGISTRY);
    const burger = registry.tenants.find((t) => t.id === 'burger');
    burger.printer = { address: `127.0.0.1:${printer.port}`, mode: 'always' };
    bus = await startBus({ registry });
    burgerPos = await posDevice(bus, 'burger');
    noodlePos = await posDevice(bus, 'noodle');
    pages.burger = await kitchenPage('burger-kitchen');
});
after(async () => {
    if (process.env.KB_WEB_LOGS) for (const d of devices) console.log(d.logs.join('\n'));
    for (const p of [burgerPos, noodlePos]) p?.client.end(true);
    await Promise.all(devices.map((d) => d.close()));
    await bus?.stop();
    await printer?.stop();
});

test('Reprint prints the ticket again (REPRINT), the card says Printing…, then Sent to printer; a bump after it still works', async () => {
    const page = pages.burger;
    const order = makeOrder('burger', { items: [{ name: 'Cheeseburger', qty: 2 }, { name: 'Fries', qty: 1 }] });
    const n = order.order_number;
    assert.equal((await burgerPos.submit(order)).result, 'accepted');
    await untilCard(page, n, 'new');
    await printer.waitFor(() => ticketsOf(n).length === 1, { what: `the first ticket of ${n} (always mode)` });
    assert.doesNotMatch(ticketsOf(n)[0], /REPRINT/, 'the first ticket is no reprint');

    const button = page.locator(`${card(n)} [data-testid=reprint]`);
    assert.equal(await button.innerText(), 'Reprint');
    assert.equal(await button.isEnabled(), true);
    await watchNote(page, n);
    await button.click();

    const again = await printer.waitFor(() => ticketsOf(n).find((t) => /REPRINT/.test(t)), { what: `a REPRINT ticket of ${n}` });
    assert.match(again, /Cheeseburger/);
    await page.waitForSelector(`${card(n)} [data-testid=reprint-note][data-state=done]`, { timeout: 10000 });
    assert.equal(await page.locator(`${card(n)} [data-testid=reprint-note]`).innerText(), 'Sent to printer');
    assert.deepEqual(await page.evaluate(() => window.__notes), ['Printing…', 'Sent to printer']);
    assert.deepEqual((await acksOf(page, n)).filter((a) => a.action), [{ order_number: n, action: 'reprint', result: 'accepted' }]);
    // Not an order change: nothing in the outbox, nothing pending, the status unchanged.
    assert.equal(await page.evaluate(() => window.__kb.bus.pending().length), 0);
    assert.equal(await page.locator(`${card(n)}`).getAttribute('data-status'), 'new');
    assert.equal(await page.locator(`${card(n)} .pending`).count(), 0);

    // The note is brief: it goes by itself.
    await page.waitForSelector(`${card(n)} [data-testid=reprint-note]`, { state: 'detached', timeout: 10000 });

    // Bumping still works: the status moves on and the bridge acks it.
    await page.click(`${card(n)} [data-testid=bump]`);
    await untilCard(page, n, 'accepted');
    await until(page, (num) => window.__acks.some((a) => a.order_number === num && !a.action && a.result === 'accepted' && a.status === 'accepted')
        && window.__kb.bus.pending().length === 0, n, { what: `the bridge's ack of ${n} -> accepted, and an empty outbox` });
    assert.equal(ticketsOf(n).filter((t) => /REPRINT/.test(t)).length, 1, 'one reprint');
});

test('a screen without a printer: the card shows the bridge\'s reason; the reprint\'s ack settles no bump in flight', async () => {
    const page = pages.noodle = await kitchenPage('noodle-kitchen');
    const order = makeOrder('noodle', { items: [{ name: 'Ramen', qty: 1 }] });
    const n = order.order_number;
    assert.equal((await noodlePos.submit(order)).result, 'accepted');
    await untilCard(page, n, 'new');
    await watchNote(page, n);

    // Two bumps (new -> accepted -> preparing); the Reprint is tapped once the
    // first bump's ack is in and the second bump is stored, but before the
    // outbox sends the second bump: the bridge gets the reprint first and
    // answers it while the second bump is in flight. The second bump enters
    // the outbox only after its IndexedDB write, which can come before or after
    // the first ack; whichever comes last taps: the ack listener (it runs before
    // the outbox settles the first bump and sends the next) or the outbox's
    // change listener (it runs before the new entry is sent).
    await page.evaluate((num) => {
        const bus = window.__kb.bus;
        const q = (id) => document.querySelector(`#cards .card[data-order="${num}"] [data-testid=${id}]`);
        const second = () => bus.pending().find((e) => e.order_number === num && e.payload.status === 'preparing');
        let acked = false;
        let offOutbox = () => {};
        const tap = () => {
            if (!acked || !second() || window.__inFlightAtReprint) return;
            offAck();
            offOutbox();
            window.__inFlightAtReprint = bus.pending().filter((e) => e.order_number === num).map((e) => e.payload.status);
            window.__secondSentAtReprint = second().inFlight;
            q('reprint').click();
        };
        const offAck = bus.onAck((a) => {
            if (a.order_number !== num || a.action || a.status !== 'accepted') return;
            acked = true;
            tap();
        });
        offOutbox = bus.onOutbox(tap);
        q('bump').click();
        q('bump').click();
    }, n);

    await page.waitForSelector(`${card(n)} [data-testid=reprint-note][data-state=failed]`, { timeout: 10000 });
    await untilCard(page, n, 'preparing');
    await until(page, (num) => window.__acks.filter((a) => a.order_number === num).length === 3 && window.__kb.bus.pending().length === 0,
        n, { what: `three acks for ${n} and an empty outbox` });
    const acks = await acksOf(page, n);
    // In this order: the first bump's, the reprint's (between), the second bump's.
    assert.deepEqual(acks.map((a) => [a.action ?? 'status', a.result, a.status ?? a.error]),
        [['status', 'accepted', 'accepted'], ['reprint', 'rejected', 'reprint'], ['status', 'accepted', 'preparing']]);
    const at = await page.evaluate(() => ({ pending: window.__inFlightAtReprint, sent: window.__secondSentAtReprint }));
    assert.equal(at.pending.at(-1), 'preparing', `the second bump was in the outbox when the reprint went: ${JSON.stringify(at)}`);
    assert.equal(at.sent, false, 'and not yet sent');
    const { detail } = acks[1];
    assert.match(detail, new RegExp(`no printer prints order ${n}`));
    const note = await page.locator(`${card(n)} [data-testid=reprint-note]`).innerText();
    assert.ok(note.includes(detail), `the card shows the bridge's reason: ${note}`);
    assert.deepEqual(await page.evaluate(() => window.__notes), ['Printing…', `Not printed: ${detail}`]);
    // The second bump was not failed by the reprint's refusal: no error toast, nothing pending.
    const toast = await page.evaluate(() => { const t = document.querySelector('#toast'); return t.hidden ? '' : t.textContent; });
    assert.ok(!toast.includes(n), `no error about ${n}: "${toast}"`);
    assert.equal(await page.locator(`${card(n)} .pending`).count(), 0);
    assert.equal(await page.locator(`${card(n)} [data-testid=reprint]`).isEnabled(), true, 'Reprint can be tapped again');
});

test('offline (broker down): the Reprint button is disabled, and enabled again when the page is live', async () => {
    const page = pages.burger;
    const order = makeOrder('burger', { items: [{ name: 'Veggie burger', qty: 1 }] });
    const n = order.order_number;
    assert.equal((await burgerPos.submit(order)).result, 'accepted');
    await untilCard(page, n, 'new');
    const button = `${card(n)} [data-testid=reprint]`;
    await page.waitForSelector(`${button}:not([disabled])`, { timeout: 5000 });

    await bus.stopBroker();
    await until(page, () => window.__kb.state === 'offline', null, { timeout: 10000, what: 'the kitchen to show Offline' });
    await page.waitForSelector(`${button}[disabled]`, { timeout: 5000 });
    assert.match(await page.locator(button).getAttribute('title'), /Offline/);
    assert.equal(await page.evaluate((num) => window.__kb.bus.reprint(num).catch((e) => e.code), n), 'offline', 'the bus sends nothing either');

    await bus.startBroker();
    await bus.waitHealthy(15000);
    await until(page, () => window.__kb.state === 'live', null, { timeout: 20000, what: 'the kitchen to be Live again' });
    await page.waitForSelector(`${button}:not([disabled])`, { timeout: 5000 });
});
