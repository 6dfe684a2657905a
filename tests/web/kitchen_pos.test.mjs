// kitchen_pos: the POS page and the kitchen display in real headless Chromium
// against a real Mosquitto and the real bridge (tests/lib/harness.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startBus, posDevice, makeOrder, ROOT } from '../lib/harness.mjs';
import {
    openDevice, armSound, loginWithForm, openLive, posSubmit, untilPosStatus, untilCard, until, cardNumbers,
} from './browser.mjs';

let bus;
const devices = [];
let kitchen, pos, burgerKitchen;      // pages

async function device(name, opts) {
    const d = await openDevice({ name, ...opts });
    devices.push(d);
    return d;
}

before(async () => {
    bus = await startBus();
    kitchen = await (await device('pizza-kitchen')).page();
    await loginWithForm(kitchen, bus.url('/kitchen'), 'pizza-kitchen');
    await armSound(kitchen);
    pos = await (await device('pizza-pos')).page();
    await loginWithForm(pos, bus.url('/pos'), 'pizza-pos');
    burgerKitchen = await (await device('burger-kitchen')).page();
    await openLive(burgerKitchen, bus.url('/kitchen'), 'burger-kitchen');
});

after(async () => {
    if (process.env.KB_WEB_LOGS) for (const d of devices) console.log(d.logs.join('\n'));
    await Promise.all(devices.map((d) => d.close()));
    await bus?.stop();
});

test('the pages and assets are served locally with their content types', async () => {
    for (const [p, type] of [['/', 'text/html'], ['/kitchen', 'text/html'], ['/pos', 'text/html'],
        ['/kitchen-bus.mjs', 'text/javascript'], ['/vendor/mqtt.esm.js', 'text/javascript'], ['/css/kb.css', 'text/css'],
        ['/config.json', 'application/json']]) {
        const res = await fetch(bus.url(p));
        assert.equal(res.status, 200, p);
        assert.match(res.headers.get('content-type') || '', new RegExp(type), p);
        await res.arrayBuffer();
    }
    // No page pulls anything from another origin.
    const origins = new Set();
    const d = await device('asset-check');
    const page = await d.page();
    page.on('request', (r) => origins.add(new URL(r.url()).origin));
    await openLive(page, bus.url('/kitchen'), 'noodle-kitchen');
    await page.goto(bus.url('/pos'));
    await page.goto(bus.url('/'));
    for (const o of origins) assert.ok(o === new URL(bus.url('/')).origin || o.startsWith('ws'), `request to ${o}`);
});

test('a wrong password is refused on the login screen', async () => {
    const d = await device('bad-login');
    const page = await d.page();
    await page.goto(bus.url('/kitchen'));
    await page.fill('[data-testid=login-user]', 'pizza-kitchen');
    await page.fill('[data-testid=login-pass]', 'not-the-password');
    await page.click('[data-testid=login-submit]');
    await until(page, () => /wrong username or password/i.test(document.querySelector('[data-testid=login-error]').textContent),
        null, { what: 'the refusal on the login screen' });
    assert.equal(await page.isVisible('#login'), true);
});

test('POS submits: the kitchen shows the card within a deadline and alerts once; burger never sees it', async () => {
    const alertsBefore = await kitchen.evaluate(() => window.__kb.alertsPlayed);
    const started = Date.now();
    const n = await posSubmit(pos, { items: ['Margherita', 'Margherita', 'Cola'], table: '12', customer: 'Budi', notes: 'no onions' });
    await untilCard(kitchen, n, 'new', { timeout: 3000 });
    const latency = Date.now() - started;
    await untilPosStatus(pos, n, 'new');                       // the POS saw the bridge's ack

    const card = kitchen.locator(`.card[data-order="${n}"]`);
    assert.match(await card.innerText(), /2×\s*Margherita/);
    assert.match(await card.innerText(), /Table\s*12/);
    assert.match(await card.innerText(), /no onions/);
    assert.ok(latency < 3000, `card shown after ${latency} ms`);

    // The burger kitchen gets its own order (so its pipeline demonstrably works), never pizza's.
    const burgerPos = await posDevice(bus, 'burger');
    const burgerOrder = makeOrder('burger', { items: [{ name: 'Cheeseburger', qty: 1, station: 'grill' }] });
    assert.equal((await burgerPos.submit(burgerOrder)).result, 'accepted');
    await untilCard(burgerKitchen, burgerOrder.order_number);
    assert.ok(!(await cardNumbers(burgerKitchen)).includes(n), 'burger kitchen shows a pizza order');
    assert.equal(await burgerKitchen.evaluate((num) => window.__kb.bus.orders.has(num), n), false);
    await burgerPos.client.endAsync();

    // Exactly one alert for the one order (after the burger order proved time has passed).
    assert.equal(await kitchen.evaluate(() => window.__kb.alertsPlayed), alertsBefore + 1);
    assert.equal(await kitchen.evaluate(() => document.querySelectorAll('#cards .card').length >= 1), true);
});

test('status buttons and keyboard bumping move the order on, and the POS follows', async () => {
    const n = await posSubmit(pos, { items: ['Pepperoni'], table: '4' });
    await untilCard(kitchen, n, 'new');
    // Tap: new -> accepted.
    await kitchen.click(`.card[data-order="${n}"] [data-testid=bump]`);
    await untilCard(kitchen, n, 'accepted');
    await untilPosStatus(pos, n, 'accepted');
    // Bump bar: a digit selects the card, Enter bumps it.
    const slot = await kitchen.locator(`.card[data-order="${n}"] .slot`).innerText();
    await kitchen.keyboard.press(slot);
    await kitchen.keyboard.press('Enter');
    await untilCard(kitchen, n, 'preparing');
    await untilPosStatus(pos, n, 'preparing');
    await kitchen.keyboard.press('Enter');
    await untilCard(kitchen, n, 'ready');
    await untilPosStatus(pos, n, 'ready');
    // Recall the last bumped order: ready -> preparing.
    await kitchen.keyboard.press('r');
    await untilCard(kitchen, n, 'preparing');
    await untilPosStatus(pos, n, 'preparing');
    await kitchen.keyboard.press(slot);
    await kitchen.keyboard.press('Enter');
    await untilCard(kitchen, n, 'ready');
    // The POS marks it served: it leaves the kitchen screen.
    await pos.click(`[data-testid=recent-order][data-order="${n}"] button:has-text("Served")`);
    await untilPosStatus(pos, n, 'served');
    await until(kitchen, (num) => !document.querySelector(`#cards .card[data-order="${num}"]`), n, { what: 'the served card to go' });
});

test('a POS that reuses an open order number is told: the adapter rejects with order_number_in_use', async () => {
    const number = `P-${process.pid}`;
    const result = await pos.evaluate(async (n) => {
        // With its own created_at: submitOrder stamps one on an order that has none,
        // which would make each call a different order.
        const order = (name) => ({ order_number: n, tenant_id: 'pizza', created_at: '2026-12-01T12:00:00Z', items: [{ name, qty: 1 }] });
        const first = await window.__kb.bus.submitOrder(order('Margherita'));
        const again = await window.__kb.bus.submitOrder(order('Margherita'));
        try {
            await window.__kb.bus.submitOrder(order('Calzone'));
            return { first: first.result, again: again.result, clash: 'accepted?!' };
        } catch (err) {
            return { first: first.result, again: again.result, clash: err.code, detail: err.detail };
        }
    }, number);
    assert.deepEqual([result.first, result.again, result.clash], ['accepted', 'duplicate', 'order_number_in_use']);
    assert.match(result.detail, /is open \(new, seq \d+\)/);
});

test('a cancelled order is struck through and announced, not silently removed', async () => {
    const n = await posSubmit(pos, { items: ['Garlic bread'] });
    await untilCard(kitchen, n, 'new');
    const before = await kitchen.evaluate(() => window.__kb.cancelAlertsPlayed);
    pos.once('dialog', (d) => d.accept());
    await pos.click(`[data-testid=recent-order][data-order="${n}"] [data-testid=cancel]`);
    await untilPosStatus(pos, n, 'cancelled');
    await untilCard(kitchen, n, 'cancelled');
    const card = kitchen.locator(`.card[data-order="${n}"]`);
    assert.equal(await card.locator('[data-testid=stamp]').innerText(), 'CANCELLED');
    const deco = await card.locator('ul.items').evaluate((e) => getComputedStyle(e).textDecorationLine);
    assert.match(deco, /line-through/);
    assert.equal(await kitchen.evaluate(() => window.__kb.cancelAlertsPlayed), before + 1);
    // The cook dismisses it.
    await card.locator('[data-testid=dismiss]').click();
    await until(kitchen, (num) => !document.querySelector(`#cards .card[data-order="${num}"]`), n, { what: 'dismissal' });
});

test('a kitchen page opened late shows every open order, once, without alerting', async () => {
    const a = await posSubmit(pos, { items: ['Cola'] });
    const b = await posSubmit(pos, { items: ['Tiramisu'] });
    const c = await posSubmit(pos, { items: ['Lemonade'] });
    await untilPosStatus(pos, c, 'new');
    pos.once('dialog', (d) => d.accept());
    await pos.click(`[data-testid=recent-order][data-order="${b}"] [data-testid=cancel]`);
    await untilPosStatus(pos, b, 'cancelled');
    await until(kitchen, (num) => !window.__kb.bus.orders.get(num)?.open, b, { what: 'the first kitchen to see the cancel' });

    const open = await kitchen.evaluate(() => window.__kb.bus.openOrders().map((o) => o.order_number));
    assert.ok(open.includes(a) && open.includes(c) && !open.includes(b));
    const late = await (await device('late-kitchen')).page();
    await openLive(late, bus.url('/kitchen'), 'pizza-kitchen');
    await until(late, (want) => want.every((n) => document.querySelector(`#cards .card[data-order="${n}"]`)), open,
        { what: 'every open order on the late kitchen' });
    const shown = await cardNumbers(late);
    assert.deepEqual([...shown].sort(), [...open].sort(), 'exactly the open orders, each once');
    assert.equal(await late.evaluate(() => window.__kb.alertsPlayed + window.__kb.alertsMissed), 0,
        'orders already open when the page starts do not alert');
    await late.context().close();
});

test('the compatibility layer: old client functions and status stores over the bus', async () => {
    const d = await device('legacy-client');
    const page = await d.page();
    await page.goto(bus.url('/'));                       // any page of the server; the module is imported directly
    const n = `LEGACY-${Date.now()}`;
    const result = await page.evaluate(async (num) => {
        const m = await import('/kitchen-bus.mjs');
        const statuses = [];
        const unsub = m.localSyncStatus.subscribe((s) => statuses.push(s.state));
        await m.connectToLocalSync({ username: 'pizza-pos', password: 'pizza-pos' });
        const bus = m.sharedBus();
        let sawIt;
        const seenIt = new Promise((resolve) => { sawIt = resolve; });
        m.onNewOrder((o) => { if (o.order_number === num) sawIt(true); });
        await new Promise((resolve) => { const off = bus.onState((s) => { if (s.state === 'live') { resolve(); queueMicrotask(() => off()); } }); });
        const queued = m.broadcastOrderToKitchen({ order_number: num, tenant_id: 'pizza', items: [{ product_name: 'Margherita', quantity: 1 }] });
        const ack = await m.broadcastOrderToKitchen.lastAck;
        const seen = await Promise.race([seenIt, new Promise((resolve) => setTimeout(() => resolve(false), 5000))]);
        let live = null;
        const off = m.liveOrders.subscribe((v) => { live = v; });
        off();
        unsub();
        return { queued, ack, seen, live: live.some((o) => o.order_number === num),
            store: typeof m.kitchenSyncStatus.subscribe, statuses };
    }, n);
    assert.equal(result.queued, true);
    assert.equal(result.ack.result, 'accepted');
    assert.equal(result.seen, true);
    assert.equal(result.live, true);
    assert.equal(result.store, 'function');
    assert.ok(result.statuses.includes('live'));
    // The kitchen acknowledges it with the old function: new -> accepted.
    await untilCard(kitchen, n, 'new');
    await kitchen.evaluate(async (num) => {
        const m = await import('/kitchen-bus.mjs');
        await m.connectKitchenToLocalSync({ username: 'pizza-kitchen', password: 'pizza-kitchen', clientId: `legacy-kitchen-${Date.now()}` });
        const bus = m.sharedBus();
        await new Promise((resolve) => { const off = bus.onState((s) => { if (s.state === 'live') { resolve(); queueMicrotask(() => off()); } }); });
        return m.acknowledgeOrder(num);
    }, n);
    await untilCard(kitchen, n, 'accepted');
});

test('screenshot of the kitchen display with several orders', async () => {
    const d = await device('tv', { viewport: { width: 1920, height: 1080 } });
    const tv = await d.page();
    // Short timers so the screenshot shows amber and red cards for real.
    await openLive(tv, bus.url('/kitchen?warn_s=2&late_s=4'), 'pizza-kitchen');
    assert.equal(await tv.isVisible('[data-testid=arm]'), true, 'the screen asks for a tap to arm sound');
    assert.equal(await tv.evaluate(() => window.__kb.soundArmed), false);
    await armSound(tv);
    assert.equal(await tv.isVisible('[data-testid=arm]'), false);
    const first = await posSubmit(pos, { items: ['Margherita', 'Margherita', 'Garlic bread'], table: '7', customer: 'Sari', notes: 'well done, cut in 8' });
    await untilCard(tv, first);
    await until(tv, (n) => document.querySelector(`.card[data-order="${n}"]`)?.classList.contains('age-warn'), first,
        { what: 'the first card to turn amber' });
    const second = await posSubmit(pos, { items: ['Quattro formaggi', 'Caesar salad', 'Cola', 'Cola'], table: '3', rush: true,
        modifiers: { 'Quattro formaggi': 'no gorgonzola, thin crust', 'Caesar salad': 'dressing on the side' } });
    await untilCard(tv, second);
    await until(tv, (n) => document.querySelector(`.card[data-order="${n}"]`)?.classList.contains('age-late'), first,
        { what: 'the first card to turn red' });
    const third = await posSubmit(pos, { items: ['Pepperoni', 'Tiramisu'], customer: 'Andi' });
    await untilCard(tv, third);
    await tv.click(`.card[data-order="${third}"] [data-testid=bump]`);
    await untilCard(tv, third, 'accepted');
    await tv.keyboard.press('Escape');
    await tv.evaluate(() => window.scrollTo(0, 0));
    const dir = path.join(process.env.KB_BUILD_DIR || path.join(ROOT, 'build'));
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'kitchen-screenshot.png');
    await tv.screenshot({ path: file });
    const tablet = await d.context.newPage();
    await tablet.setViewportSize({ width: 1280, height: 800 });
    await tablet.goto(bus.url('/kitchen?warn_s=2&late_s=4'));
    await until(tablet, () => window.__kb?.state === 'live' && document.querySelectorAll('#cards .card').length >= 3, null,
        { timeout: 10000, what: 'the tablet view' });
    await tablet.evaluate(() => window.scrollTo(0, 0));
    await tablet.screenshot({ path: path.join(dir, 'kitchen-screenshot-tablet.png') });
    await pos.screenshot({ path: path.join(dir, 'pos-screenshot.png') });
});
