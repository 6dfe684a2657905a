// admin_printers: the device hub's Printers panel (issue 18) in real headless
// Chromium against the real bus and two loopback fake network printers
// (tests/lib/fake_printer.mjs), whose bytes are decoded by the strict ESC/POS
// decoder (tests/lib/escpos.mjs). The registry is the demo one with a printer
// for pizza (whole orders, i.e. the stations without one of their own) and
// one for its oven station. No kitchen screen is online, so in backup mode
// every order prints.
//
// The panel lists both printers (ok, their addresses, "no screen: printing")
// and updates its rows in place on the page's poll; a Test print reaches the
// fake printer; the reprint form prints an order again (REPRINT) and shows
// the bridge's words for an unknown number; a printer that is down makes its
// row "degraded" with the error, and "ok" again once it is back. A second bus
// with the plain demo registry shows the "no printer" line. Every wait is a
// condition with a deadline. Screenshot: build/screenshots/admin-printers.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT, DEMO_REGISTRY, startBus, posDevice, makeOrder, readJson } from '../lib/harness.mjs';
import { startPrinter } from '../lib/fake_printer.mjs';
import { ticketText } from '../lib/escpos.mjs';
import { openDevice, until } from './browser.mjs';

const SHOTS = path.join(process.env.KB_BUILD_DIR || path.join(ROOT, 'build'), 'screenshots');

let bus, pos, hub, admin;
const printers = {};             // tenant: pizza's printer; oven: its oven station's
const devices = [];

before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    printers.tenant = await startPrinter();
    printers.oven = await startPrinter();
    const registry = readJson(DEMO_REGISTRY);
    const pizza = registry.tenants.find((t) => t.id === 'pizza');
    pizza.printer = { address: printers.tenant.address };
    pizza.stations = pizza.stations.map((s) => (s === 'oven' ? { id: 'oven', printer: { address: printers.oven.address } } : s));
    bus = await startBus({ registry, env: { KB_SCREENS_SETTLE: '2s' } }); // the screens known sooner than the default 6 s
    pos = await posDevice(bus, 'pizza');
    hub = await openDevice({ name: 'admin-printers' });
    devices.push(hub);
    admin = await hub.page();
    await logIn(admin, bus);
});

after(async () => {
    if (process.env.KB_WEB_LOGS) for (const d of devices) console.log(d.logs.join('\n'));
    pos?.client.end(true);
    await Promise.all(devices.map((d) => d.close()));
    await bus?.stop();
    for (const p of Object.values(printers)) await p.stop();
});

/** The hub's login form, admin/admin, then the page ready with one poll done. */
async function logIn(page, b) {
    await page.goto(b.url('/admin'));
    await page.waitForSelector('#login:not([hidden])', { timeout: 5000 });
    await page.fill('[data-testid=login-user]', 'admin');
    await page.fill('[data-testid=login-pass]', 'admin');
    await page.click('[data-testid=login-submit]');
    await until(page, () => window.__kb.state === 'ready' && window.__kb.polls > 0, null, { timeout: 10000, what: 'the hub to be ready' });
}

const row = (key) => admin.locator(`tr[data-printer="${key}"]`);
const cell = (key, id) => row(key).locator(`[data-testid=${id}]`);
/** Until the row of `key` shows `state` (ok, degraded, off). */
const untilState = (key, state, timeout = 10000) => until(admin, ([k, s]) => document.querySelector(`tr[data-printer="${k}"]`)?.dataset.state === s,
    [key, state], { timeout, what: `the printer ${key} shown ${state}` });
/** The tickets a fake printer got whose text matches every one of `res`. */
const ticketsWith = (printer, ...res) => printer.tickets().map(ticketText).filter((t) => res.every((re) => re.test(t)));

test('the panel lists both printers: tenant and station, address, mode, ok, no screen so printing', async () => {
    await until(admin, () => document.querySelectorAll('[data-testid=printer-row]').length === 2
        && [...document.querySelectorAll('[data-testid=printer-screens]')].every((c) => c.textContent !== '—'), null,
    { timeout: 15000, what: 'two printer rows, the screens known' });
    assert.deepEqual(await admin.evaluate(() => [...document.querySelectorAll('[data-testid=printer-row]')].map((r) => r.dataset.printer)),
        ['pizza', 'pizza/oven'], 'the tenant\'s printer, then its station\'s (the registry\'s order)');
    for (const [key, printer, what] of [['pizza', printers.tenant, 'whole orders'], ['pizza/oven', printers.oven, 'oven station']]) {
        assert.equal(await row(key).locator('.printer-tenant').innerText(), 'Pizza Paradise');
        assert.equal(await row(key).locator('.printer-for').innerText(), what);
        assert.equal(await row(key).locator('.printer-where').innerText(), printer.address);
        assert.match(await row(key).locator('.printer-mode').innerText(), /^backup/);
        assert.equal(await cell(key, 'printer-state').innerText(), 'OK', 'the badge (upper case by CSS)');
        assert.equal(await cell(key, 'printer-state').textContent(), 'ok');
        assert.equal(await cell(key, 'printer-screens').innerText(), 'no screen: printing');
        assert.equal(await cell(key, 'printer-pending').innerText(), '0');
        assert.equal(await cell(key, 'printer-printed').innerText(), '0');
        assert.equal(await cell(key, 'printer-last').innerText(), 'never');
        assert.equal(await cell(key, 'printer-error').textContent(), '');
        assert.equal(await row(key).locator('[data-testid=printer-test]').evaluate((b) => b.tagName), 'BUTTON');
    }
    assert.equal(await admin.isVisible('[data-testid=printers-none]'), false);
    assert.equal(await admin.textContent('[data-testid=printing-summary]'), '');

    // The poll updates the rows in place: the same elements two polls later.
    const polls = await admin.evaluate(() => {
        window.__printerRow = document.querySelector('tr[data-printer="pizza/oven"]');
        return window.__kb.polls;
    });
    await until(admin, (n) => window.__kb.polls >= n + 2, polls, { timeout: 15000, what: 'two more polls' });
    assert.equal(await admin.evaluate(() => window.__printerRow.isConnected
        && window.__printerRow === document.querySelector('tr[data-printer="pizza/oven"]')), true, 'the row was not rebuilt');
});

test('Test print on the oven printer: it prints a TEST PRINT ticket; the button says so', async () => {
    await row('pizza/oven').locator('[data-testid=printer-test]').click();
    await until(admin, () => document.querySelector('tr[data-printer="pizza/oven"] [data-testid=printer-test-result]').textContent
        === 'Test page queued.', null, { what: 'the test print\'s confirmation' });
    await printers.oven.waitFor(() => ticketsWith(printers.oven, /TEST PRINT/).length === 1, { timeout: 15000, what: 'the test page' });
    assert.equal(ticketsWith(printers.tenant, /TEST PRINT/).length, 0, 'not on the other printer');
    await until(admin, () => document.querySelector('tr[data-printer="pizza/oven"] [data-testid=printer-printed]').textContent === '1',
        null, { timeout: 10000, what: 'the oven printer\'s printed count at 1' });
    assert.match(await cell('pizza/oven', 'printer-last').innerText(), /^(just now|\d+ s ago)$/);
    assert.equal(await cell('pizza/oven', 'printer-test-result').innerText(), 'Test page queued.', 'the confirmation outlives the polls');
    assert.equal(await cell('pizza', 'printer-test-result').textContent(), '');
});

test('reprint an order from the form: each printer that printed it gets a REPRINT with its number; a station\'s only there', async () => {
    const o = makeOrder('pizza', { order_number: 'A-17', items: [{ name: 'Margherita', qty: 1, station: 'oven' }, { name: 'Cola', qty: 2, station: 'bar' }] });
    assert.equal((await pos.submit(o)).result, 'accepted');
    // No screen on: the order printed first, the oven part on the oven printer, the bar part on the tenant's.
    await printers.oven.waitFor(() => ticketsWith(printers.oven, /A-17/, /Margherita/).length === 1, { timeout: 15000, what: 'A-17 on the oven printer' });
    await printers.tenant.waitFor(() => ticketsWith(printers.tenant, /A-17/, /Cola/).length === 1, { timeout: 15000, what: 'A-17 on the tenant printer' });

    await admin.selectOption('[data-testid=reprint-tenant]', 'pizza');
    assert.deepEqual(await admin.evaluate(() => [...document.querySelectorAll('[data-testid=reprint-station] option')].map((x) => x.value)),
        ['', 'oven', 'cold', 'bar'], 'pizza\'s stations');
    await admin.fill('[data-testid=reprint-number]', 'A-17');
    await admin.click('[data-testid=reprint-submit]');
    await until(admin, () => /queued/.test(document.querySelector('[data-testid=reprint-ok]').textContent), null, { what: 'the reprint queued' });
    assert.equal(await admin.textContent('[data-testid=reprint-ok]'), 'Reprint of A-17 queued.');
    assert.equal(await admin.textContent('[data-testid=reprint-error]'), '');
    await printers.oven.waitFor(() => ticketsWith(printers.oven, /REPRINT/, /A-17/, /Margherita/).length === 1, { timeout: 15000, what: 'the oven reprint' });
    await printers.tenant.waitFor(() => ticketsWith(printers.tenant, /REPRINT/, /A-17/, /Cola/).length === 1, { timeout: 15000, what: 'the tenant reprint' });

    // Only the oven station's: a second REPRINT there, and behind it a test page on the
    // tenant's printer comes out with no REPRINT of A-17 before it (the queue is first in, first out).
    await admin.selectOption('[data-testid=reprint-station]', 'oven');
    await admin.click('[data-testid=reprint-submit]');
    await until(admin, () => /on the oven station’s printer/.test(document.querySelector('[data-testid=reprint-ok]').textContent), null,
        { what: 'the station reprint queued' });
    await printers.oven.waitFor(() => ticketsWith(printers.oven, /REPRINT/, /A-17/).length === 2, { timeout: 15000, what: 'the second oven reprint' });
    await row('pizza').locator('[data-testid=printer-test]').click();
    await printers.tenant.waitFor(() => ticketsWith(printers.tenant, /TEST PRINT/).length === 1, { timeout: 15000, what: 'the tenant printer\'s test page' });
    assert.equal(ticketsWith(printers.tenant, /REPRINT/, /A-17/).length, 1, 'the station reprint was not on the tenant\'s printer');
    await admin.selectOption('[data-testid=reprint-station]', '');
});

test('a reprint of a number the tenant never had shows the bridge\'s words; a tenant without stations has no station to choose', async () => {
    await admin.fill('[data-testid=reprint-number]', 'NOPE-1');
    assert.equal(await admin.textContent('[data-testid=reprint-ok]'), '', 'typing clears the last confirmation');
    await admin.click('[data-testid=reprint-submit]');
    await until(admin, () => document.querySelector('[data-testid=reprint-error]').textContent.length > 0, null, { what: 'the refusal' });
    assert.equal(await admin.textContent('[data-testid=reprint-error]'), 'tenant pizza has no order NOPE-1');
    assert.equal(await admin.textContent('[data-testid=reprint-ok]'), '');
    assert.equal(await admin.isVisible('[data-testid=notice]'), false, 'said beside the form, not as a page notice');

    await admin.fill('[data-testid=reprint-number]', '');
    assert.equal(await admin.textContent('[data-testid=reprint-error]'), '', 'a change in the form clears it');
    await admin.click('[data-testid=reprint-submit]');
    assert.match(await admin.textContent('[data-testid=reprint-error]'), /order number/, 'an empty number is asked for, not sent');

    await admin.selectOption('[data-testid=reprint-tenant]', 'burger');
    assert.equal(await admin.isDisabled('[data-testid=reprint-station]'), true);
    await admin.fill('[data-testid=reprint-number]', 'B-1');
    await admin.click('[data-testid=reprint-submit]');
    await until(admin, () => document.querySelector('[data-testid=reprint-error]').textContent.length > 0, null, { what: 'burger\'s refusal' });
    assert.match(await admin.textContent('[data-testid=reprint-error]'), /burger/);
    await admin.selectOption('[data-testid=reprint-tenant]', 'pizza');
});

test('a printer that is down: its row says degraded with the error and pending tickets; back up, it prints and is ok', async () => {
    await printers.oven.setMode('down');
    const o = makeOrder('pizza', { order_number: 'A-18', items: [{ name: 'Diavola', qty: 1, station: 'oven' }] });
    assert.equal((await pos.submit(o)).result, 'accepted');
    await untilState('pizza/oven', 'degraded', 20000);
    assert.equal(await cell('pizza/oven', 'printer-state').textContent(), 'degraded');
    await until(admin, () => document.querySelector('tr[data-printer="pizza/oven"] [data-testid=printer-error]').textContent.length > 0, null,
        { timeout: 10000, what: 'the error text' });
    const error = await cell('pizza/oven', 'printer-error').textContent();
    const api = await admin.evaluate(() => window.__kb.printers().printers.find((p) => p.printer === 'pizza/oven'));
    assert.equal(error, api.error, 'the bridge\'s error, as it says it');
    assert.equal(api.reachable, false);
    assert.ok(Number(await cell('pizza/oven', 'printer-pending').innerText()) >= 1, 'the ticket waits');
    assert.match(await admin.textContent('[data-testid=printing-summary]'), /A printer is failing/);
    assert.equal(await row('pizza').getAttribute('data-state'), 'ok', 'the other printer is not held up');
    const badge = await cell('pizza/oven', 'printer-state').evaluate((b) => getComputedStyle(b).backgroundColor);
    assert.notEqual(badge, 'rgba(0, 0, 0, 0)', 'the degraded badge is filled (the warning colour)');
    await admin.locator('[data-testid=printers-panel]').scrollIntoViewIfNeeded();
    await admin.locator('[data-testid=printers-panel]').screenshot({ path: path.join(SHOTS, 'admin-printers.png') });

    await printers.oven.setMode('normal');
    // Retried with a backoff of up to 8 s.
    await untilState('pizza/oven', 'ok', 30000);
    await printers.oven.waitFor(() => ticketsWith(printers.oven, /A-18/, /Diavola/).length === 1, { timeout: 15000, what: 'A-18 printed' });
    await until(admin, () => document.querySelector('tr[data-printer="pizza/oven"] [data-testid=printer-pending]').textContent === '0'
        && document.querySelector('tr[data-printer="pizza/oven"] [data-testid=printer-error]').textContent === '', null,
    { timeout: 10000, what: 'nothing pending, no error' });
    assert.equal(await admin.textContent('[data-testid=printing-summary]'), '');
    assert.deepEqual(hub.logs.filter((l) => /PAGE ERROR/.test(l)), [], 'no uncaught error on the hub');
});

test('an outlet with no printer: a muted line pointing to OUTLET-SETUP 5a, no table, no reprint form', async () => {
    const plain = await startBus({ registry: readJson(DEMO_REGISTRY) });
    try {
        const d = await openDevice({ name: 'admin-no-printer' });
        devices.push(d);
        const p = await d.page();
        await logIn(p, plain);
        await p.waitForSelector('[data-testid=printers-none]', { state: 'visible', timeout: 10000 });
        const text = await p.innerText('[data-testid=printers-none]');
        assert.match(text, /No kitchen printer is configured/);
        assert.match(text, /docs\/OUTLET-SETUP\.md, section “5a\. Kitchen printers”/);
        assert.equal(await p.getAttribute('[data-testid=printers-none]', 'class'), 'muted');
        assert.equal(await p.locator('[data-testid=printer-row]').count(), 0);
        assert.equal(await p.isVisible('[data-testid=reprint-form]'), false);
        assert.deepEqual(d.logs.filter((l) => /PAGE ERROR/.test(l)), []);
    } finally {
        await plain.stop();
    }
});
