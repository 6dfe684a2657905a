// board: the customer-facing pickup board (/board) in real headless Chromium
// against the real bus, logged in as the demo registry's court-board (every
// tenant). Orders come from MQTT POS and kitchen devices (tests/lib/harness.mjs);
// the page reads nothing but its tenants' board documents, its device info and
// the bridge's health. The bridge runs with KB_BOARD_READY_FOR=3s, so a number
// left ready leaves the board within the test. The board's tablet runs 10
// minutes fast: a just-called number must still look just called (the page
// measures the bridge's clock). Speech is a stub in the page that records what
// it is asked to say; the chime is counted by js/alerts.mjs (alertsPlayed).
// The layout test starts its own bus (ready numbers kept for the default
// 10 minutes) and fills the board on a 1920x1080 TV and a 1080x1920 portrait
// screen: no scrolling, every number shown or counted in "+N more"; then a
// rush beyond what fits. Screenshots go to build/screenshots/board-tv.png,
// board-portrait.png and board-tv-rush.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT, DEMO_REGISTRY, startBus, posDevice, kitchenDevice, makeOrder, readJson } from '../lib/harness.mjs';
import { openDevice, loginWithForm, until, armSound } from './browser.mjs';

const READY_FOR_S = 3;
const FAST_MS = 10 * 60 * 1000;
/** The demo registry, with pickup names shown for pizza (board_names) and a
 *  second board for pizza's own pickup counter. */
function registry() {
    const r = readJson(DEMO_REGISTRY);
    r.tenants.find((t) => t.id === 'pizza').board_names = true;
    r.boards.push({ username: 'pizza-board', tenants: ['pizza'] });
    return r;
}

/** In the page before any script: speech recorded, not spoken; optionally a clock `fastMs` ahead. */
function stubs({ fastMs = 0 } = {}) {
    return [([fast]) => {
        window.__said = [];
        const synth = { speak: (u) => window.__said.push(u.text), cancel() {}, pause() {}, resume() {},
            getVoices: () => [], speaking: false, pending: false, paused: false, addEventListener() {}, removeEventListener() {} };
        Object.defineProperty(window, 'speechSynthesis', { configurable: true, get: () => synth });
        if (typeof window.SpeechSynthesisUtterance !== 'function') window.SpeechSynthesisUtterance = class { constructor(t) { this.text = t; } };
        if (fast) {
            const RealDate = Date;
            class FastDate extends RealDate {
                constructor(...a) { if (a.length) super(...a); else super(RealDate.now() + fast); }
                static now() { return RealDate.now() + fast; }
            }
            window.Date = FastDate;
        }
    }, [fastMs]];
}

let bus, pos, kitchen, burgerPos, burgerKitchen, dev, page;
const devices = [];

async function device(name, opts = {}) {
    const d = await openDevice({ name, ...opts });
    devices.push(d);
    return d;
}

before(async () => {
    bus = await startBus({ registry: registry(), env: { KB_BOARD_READY_FOR: `${READY_FOR_S}s` } });
    pos = await posDevice(bus, 'pizza');
    kitchen = await kitchenDevice(bus, 'pizza');
    burgerPos = await posDevice(bus, 'burger');
    burgerKitchen = await kitchenDevice(bus, 'burger');
    dev = await device('court-board', { viewport: { width: 1920, height: 1080 } });
    await dev.context.addInitScript(...stubs({ fastMs: FAST_MS }));
    page = await dev.page();
});

after(async () => {
    if (process.env.KB_WEB_LOGS) for (const d of devices) console.log(d.logs.join('\n'));
    for (const c of [pos, kitchen, burgerPos, burgerKitchen]) c?.client.end(true);
    await Promise.all(devices.map((d) => d.close()));
    await bus?.stop();
});

/** What the board shows for one tenant: {preparing: {shown, total, hidden, more}, ready: {...}, name}. */
const group = (p, tenant) => p.evaluate((t) => window.__kb.board().find((g) => g.tenant === t), tenant);
const untilBoard = (p, fn, arg, what, timeout = 5000) => until(p, fn, arg, { what, timeout });
const inColumn = (p, tenant, col, n, what, timeout) => untilBoard(p, ([t, c, num]) => window.__kb.board()
    .find((g) => g.tenant === t)?.[c].shown.includes(num), [tenant, col, n], what || `${n} under ${col} (${tenant})`, timeout);
const nowhere = (p, n, what, timeout) => untilBoard(p, (num) => window.__kb.board()
    .every((g) => !g.preparing.shown.includes(num) && !g.ready.shown.includes(num)), n, what || `${n} to leave the board`, timeout);

async function submit(p, k, tenant, extra = {}) {
    const o = makeOrder(tenant, extra);
    const ack = await p.submit(o);
    assert.equal(ack.result, 'accepted', JSON.stringify(ack));
    return o.order_number;
}
async function move(k, n, ...statuses) {
    for (const s of statuses) {
        const ack = await k.setStatus(n, s);
        assert.equal(ack.result, 'accepted', `${n} -> ${s}: ${JSON.stringify(ack)}`);
    }
}

test('login: a board device through the form, remembered across a reload; a kitchen device is refused', async () => {
    await loginWithForm(page, bus.url('/board'), 'court-board');
    const names = await page.evaluate(() => window.__kb.board().map((g) => [g.tenant, g.name]));
    assert.deepEqual(names, [['pizza', 'Pizza Paradise'], ['burger', 'Burger Station'], ['noodle', 'Noodle House']]);
    assert.equal(await page.textContent('[data-testid=brand]'), 'Demo Food Court');
    await page.reload();
    await until(page, () => window.__kb?.state === 'live', null, { timeout: 10000, what: 'live again after the reload' });
    assert.equal(await page.isVisible('#login'), false, 'no login form: the device is remembered');

    const other = await device('not-a-board');
    const p2 = await other.page();
    await p2.goto(bus.url('/board'));
    await p2.waitForSelector('#login:not([hidden])');
    await p2.fill('[data-testid=login-user]', 'pizza-kitchen');
    await p2.fill('[data-testid=login-pass]', 'pizza-kitchen');
    await p2.click('[data-testid=login-submit]');
    await until(p2, () => /not a board device/.test(document.querySelector('[data-testid=login-error]').textContent), null,
        { timeout: 10000, what: 'the refusal of a kitchen device' });
    assert.equal(await p2.isVisible('#login'), true);
    await other.close();
    devices.splice(devices.indexOf(other), 1);
});

test('a number shows under Preparing, turns Ready with a chime and its name said, and leaves when served', async () => {
    await armSound(page);
    await page.click('[data-testid=voice]');
    assert.equal(await page.getAttribute('[data-testid=voice]', 'aria-pressed'), 'true');
    await until(page, (fast) => window.__kb.clockOffset() < -fast + 5000 && window.__kb.clockOffset() > -fast - 5000, FAST_MS,
        { what: 'the page to have measured the bridge clock (10 minutes behind this tablet)' });
    const chimes = await page.evaluate(() => window.__kb.alertsPlayed);

    const n = await submit(pos, kitchen, 'pizza', { pickup_name: 'Ana' });
    await move(kitchen, n, 'accepted');
    await inColumn(page, 'pizza', 'preparing', n);
    await move(kitchen, n, 'preparing');
    // Still preparing: one more document, the same place; no chime for it.
    const g1 = await group(page, 'pizza');
    assert.deepEqual(g1.preparing.shown.filter((x) => x === n), [n]);
    assert.ok(!g1.ready.shown.includes(n));

    await move(kitchen, n, 'ready');
    await inColumn(page, 'pizza', 'ready', n);
    const g2 = await group(page, 'pizza');
    assert.ok(!g2.preparing.shown.includes(n), 'a ready number is no longer under Preparing');
    const tile = await page.evaluate((num) => {
        const li = document.querySelector(`.group[data-tenant="pizza"] .cell-ready li[data-number="${num}"]`);
        return { text: li.textContent, cls: li.className };
    }, n);
    assert.equal(tile.text, `${n}Ana`, 'the pickup name beside the number (pizza sets board_names)');
    assert.match(tile.cls, /\bfresh\b/, 'just called, by the bridge clock (this tablet is 10 minutes fast)');
    assert.doesNotMatch(tile.cls, /\bold\b/);
    await until(page, (c) => window.__kb.alertsPlayed === c + 1, chimes, { what: 'one chime' });
    const said = `Order ${n} for Ana, Pizza Paradise`;
    await until(page, (s) => window.__said.includes(s), said, { what: `"${said}" to be spoken` });
    assert.deepEqual(await page.evaluate(() => window.__kb.spoken.slice(-1)), [said]);

    await move(kitchen, n, 'served');
    await nowhere(page, n);
    assert.equal(await page.evaluate(() => window.__kb.alertsPlayed), chimes + 1, 'no chime for a served number');

    // A burger number: no name on the board (burger does not set board_names), the tenant's name said.
    const b = await submit(burgerPos, burgerKitchen, 'burger', { pickup_name: 'Bo' });
    await move(burgerKitchen, b, 'accepted', 'preparing', 'ready');
    await inColumn(page, 'burger', 'ready', b);
    assert.equal(await page.textContent(`.group[data-tenant="burger"] .cell-ready li[data-number="${b}"]`), b);
    await until(page, (s) => window.__said.includes(s), `Order ${b}, Burger Station`, { what: 'the burger number said' });
    await until(page, (c) => window.__kb.alertsPlayed === c + 2, chimes, { what: 'a second chime' });
    await move(burgerKitchen, b, 'served');
    await nowhere(page, b);

    // Only the board documents, the device's info and the health ever reached the page.
    const topics = await page.evaluate(() => window.__kb.topics());
    const allowed = new Set(['outlet/board/pizza', 'outlet/board/burger', 'outlet/board/noodle',
        'outlet/device/court-board/info', 'outlet/bridge/health']);
    assert.deepEqual(topics.filter((t) => !allowed.has(t)), [], `topics seen: ${topics.join(', ')}`);
    assert.ok(topics.includes('outlet/board/pizza'));
});

test('a board for one tenant\'s counter shows that tenant only, under its name', async () => {
    const d = await device('pizza-board', { viewport: { width: 1080, height: 1920 } });
    const p = await d.page();
    await loginWithForm(p, bus.url('/board'), 'pizza-board');
    const n = await submit(pos, kitchen, 'pizza');
    const b = await submit(burgerPos, burgerKitchen, 'burger');
    await move(kitchen, n, 'accepted');
    await move(burgerKitchen, b, 'accepted');
    await inColumn(p, 'pizza', 'preparing', n);
    await inColumn(page, 'burger', 'preparing', b, `${b} on the court board`);
    assert.deepEqual(await p.evaluate(() => window.__kb.board().map((g) => g.tenant)), ['pizza']);
    assert.equal(await p.textContent('[data-testid=brand]'), 'Pizza Paradise');
    assert.equal(await p.isVisible('.group h2'), false, 'no tenant heading on a one-tenant board');
    const topics = await p.evaluate(() => window.__kb.topics());
    assert.deepEqual(topics.sort(), ['outlet/board/pizza', 'outlet/bridge/health', 'outlet/device/pizza-board/info']);
    for (const [k, x] of [[kitchen, n], [burgerKitchen, b]]) await move(k, x, 'cancelled');
    await nowhere(p, n);
    await nowhere(page, b);
});

test(`a number left ready leaves the board after KB_BOARD_READY_FOR (${READY_FOR_S}s)`, async () => {
    const n = await submit(pos, kitchen, 'pizza');
    await move(kitchen, n, 'accepted', 'preparing', 'ready');
    await inColumn(page, 'pizza', 'ready', n);
    const shownAt = Date.now();
    // The bridge expires it at its 1 s tick after READY_FOR_S; allow for a slow machine.
    await nowhere(page, n, `${n} to expire from Ready`, (READY_FOR_S + 7) * 1000);
    const after = Date.now() - shownAt;
    assert.ok(after >= (READY_FOR_S - 1) * 1000, `it left after ${after} ms, not before ${READY_FOR_S} s`);
    // Still open: the kitchen may still serve it; it does not come back.
    await move(kitchen, n, 'served');
});

test('Offline: a big banner when the bridge is down or the broker is gone, and gone again when they are back', async () => {
    const n = await submit(pos, kitchen, 'pizza');
    await move(kitchen, n, 'accepted');
    await inColumn(page, 'pizza', 'preparing', n);
    assert.equal(await page.isVisible('[data-testid=offline]'), false);

    await bus.stopBridge();
    await until(page, () => window.__kb.banner, null, { timeout: 10000, what: 'the Offline banner (bridge down)' });
    assert.equal(await page.isVisible('[data-testid=offline]'), true);
    assert.match(await page.textContent('[data-testid=offline]'), /OFFLINE/);
    assert.deepEqual((await group(page, 'pizza')).preparing.shown.filter((x) => x === n), [n], 'the last numbers stay up (dimmed)');
    await bus.startBridge();
    await until(page, () => !window.__kb.banner && window.__kb.state === 'live', null, { timeout: 15000, what: 'the banner to go (bridge back)' });

    await bus.stopBroker();
    await until(page, () => window.__kb.banner && window.__kb.state === 'offline', null, { timeout: 10000, what: 'the Offline banner (broker gone)' });
    assert.equal(await page.isVisible('[data-testid=offline]'), true);
    await bus.startBroker();
    await bus.waitHealthy(15000);
    await until(page, () => !window.__kb.banner && window.__kb.state === 'live', null, { timeout: 20000, what: 'the board live again' });
    await inColumn(page, 'pizza', 'preparing', n, `${n} still under Preparing after the outage`);
    // The harness's MQTT devices do not reconnect: new ones.
    for (const c of [pos, kitchen, burgerPos, burgerKitchen]) c.client.end(true);
    pos = await posDevice(bus, 'pizza');
    kitchen = await kitchenDevice(bus, 'pizza');
    burgerPos = await posDevice(bus, 'burger');
    burgerKitchen = await kitchenDevice(bus, 'burger');
    await move(kitchen, n, 'preparing', 'ready', 'served');
    await nowhere(page, n);
});

/** An order number as the POS page makes them (kb/device.mjs newOrderNumber: "W-" and 9 characters). */
const posNumber = (i) => `W-${((i + 1) * 2654435761 % 2176782336).toString(36).toUpperCase().padStart(6, '0')}${String(i).padStart(3, '0')}`;

/** Checks a filled board against what was sent (`t[tenant].preparing`, oldest first, and
 *  `.ready`, newest first): no scrolling, nothing clipped, and in each cell the first
 *  numbers shown and "+N more" counting exactly the rest. Returns the hidden count. */
async function checkFit(p, name, t) {
    await untilBoard(p, (want) => want.every(([tn, np, nr]) => {
        const g = window.__kb.board().find((x) => x.tenant === tn);
        return g && g.preparing.total === np && g.ready.total === nr;
    }), Object.entries(t).map(([tn, x]) => [tn, x.preparing.length, x.ready.length]), `every number on the ${name} board`, 10000);
    // Sized for the board's present box (a banner gone or a resize re-fits 50 ms later).
    await until(p, () => {
        const r = document.querySelector('#groups').getBoundingClientRect();
        return window.__kb.fitBox === `${Math.round(r.width)}x${Math.round(r.height)}`;
    }, null, { what: `the ${name} board sized for its box` });
    const m = await p.evaluate(() => ({
        scrollHeight: document.scrollingElement.scrollHeight, scrollWidth: document.scrollingElement.scrollWidth,
        innerHeight, innerWidth,
        // Every number shown lies inside its cell (nothing cut off) and on the screen.
        clipped: [...document.querySelectorAll('#groups .cell li:not([hidden])')].filter((li) => {
            const r = li.getBoundingClientRect();
            const c = li.closest('.cell').getBoundingClientRect();
            return r.top < c.top - 0.5 || r.bottom > c.bottom + 0.5 || r.left < c.left - 0.5 || r.right > c.right + 0.5
                || r.bottom > innerHeight || r.right > innerWidth;
        }).map((li) => li.dataset.number || li.textContent),
    }));
    assert.ok(m.scrollHeight <= m.innerHeight, `${name}: scrollHeight ${m.scrollHeight} > innerHeight ${m.innerHeight}`);
    assert.ok(m.scrollWidth <= m.innerWidth, `${name}: scrollWidth ${m.scrollWidth} > innerWidth ${m.innerWidth}`);
    assert.deepEqual(m.clipped, [], `${name}: numbers cut off at the edge of their cell`);
    let hidden = 0;
    for (const tenant of Object.keys(t)) {
        const g = await group(p, tenant);
        for (const col of ['preparing', 'ready']) {
            const s = g[col];
            const want = t[tenant][col];
            assert.equal(s.total, want.length, `${name} ${tenant} ${col}: total`);
            assert.deepEqual(s.shown, want.slice(0, want.length - s.hidden), `${name} ${tenant} ${col}: the numbers shown`);
            assert.equal(s.more, s.hidden ? `+${s.hidden} more` : '', `${name} ${tenant} ${col}: the hidden count shown`);
            if (s.hidden) assert.equal(await p.isVisible(`.group[data-tenant="${tenant}"] .cell-${col} li.more`), true);
            hidden += s.hidden;
        }
    }
    assert.equal((await group(p, 'noodle')).preparing.total, 0);
    return hidden;
}

test('a rush fits: 30 preparing and 10 ready over 2 tenants on a 1080p TV and a portrait screen, without scrolling; beyond that, "+N more"', async (ctx) => {
    const big = await startBus({ registry: registry() });
    const clients = [];
    try {
        const t = {};
        for (const tenant of ['pizza', 'burger']) {
            const p = await posDevice(big, tenant);
            const k = await kitchenDevice(big, tenant);
            clients.push(p, k);
            t[tenant] = { p, k, preparing: [], ready: [] };
        }
        let count = 0;
        const add = async (tenant, ready, extra = {}) => {
            const x = t[tenant];
            const n = await submit(x.p, x.k, tenant, { order_number: posNumber(count++), ...extra });
            if (ready) { await move(x.k, n, 'accepted', 'preparing', 'ready'); x.ready.unshift(n); }   // newest ready first
            else { await move(x.k, n, ...(count % 3 ? ['accepted'] : ['accepted', 'preparing'])); x.preparing.push(n); }
        };
        const names = ['Ana', 'Bo', 'Christopher', '', 'Dee'];
        for (let i = 0; i < 30; i++) await add(i % 2 ? 'burger' : 'pizza', false);
        for (let i = 0; i < 10; i++) await add(i % 2 ? 'burger' : 'pizza', true, { pickup_name: names[i % 5] || undefined });

        const dir = path.join(process.env.KB_BUILD_DIR || path.join(ROOT, 'build'), 'screenshots');
        mkdirSync(dir, { recursive: true });
        const pages = {};
        for (const [name, viewport] of [['tv', { width: 1920, height: 1080 }], ['portrait', { width: 1080, height: 1920 }]]) {
            const d = await device(`board-${name}`, { viewport });
            await d.context.addInitScript(...stubs());
            const p = pages[name] = await d.page();
            await loginWithForm(p, big.url('/board'), 'court-board');
            await armSound(p);
            const hidden = await checkFit(p, name, t);
            assert.equal(hidden, 0, `${name}: 30 + 10 numbers of the POS page's length all fit`);
            await p.screenshot({ path: path.join(dir, `board-${name}.png`) });
        }

        // A rush beyond what a screen holds at a readable size: 70 more for pizza. Its row
        // grows at burger's expense, so either may show "+N more"; each count must be right.
        for (let i = 0; i < 70; i++) await add('pizza', false);
        for (const [name, p] of Object.entries(pages)) {
            const hidden = await checkFit(p, `${name} (rush)`, t);
            const g = await group(p, 'pizza');
            assert.ok(g.preparing.hidden > 0, `${name}: 85 pizza numbers do not all fit; "+N more" says how many are hidden`);
            ctx.diagnostic(`${name} rush: ${hidden} hidden (pizza preparing ${g.preparing.shown.length} shown + ${g.preparing.hidden})`);
        }
        await pages.tv.screenshot({ path: path.join(dir, 'board-tv-rush.png') });
    } finally {
        for (const c of clients) c.client.end(true);
        await big.stop();
    }
});
