// stations: the kitchen page as a station screen and as the expo screen, in
// real headless Chromium against the real bus and the demo registry (pizza
// has stations oven, cold and bar; pizza-oven, pizza-cold and pizza-bar are
// bound to one each; pizza-expo is the expo). Orders come from an MQTT POS
// (tests/lib/harness.mjs). An order with oven and bar items shows on the oven
// and bar screens with only their items and never reaches the cold screen
// (the broker gives it nothing else); both stations bump their parts with the
// keyboard and the buttons, the expo sees its chips turn and the order go
// ready (then a bar recall, and the expo serves it); the expo may mark a
// preparing order ready, which finishes every part. A cancelled order (the
// station screens get no events: the bridge's closing view says so) is struck
// through and announced on the oven and bar screens until dismissed; a
// served one leaves quietly. A tablet whose clock runs
// 10 minutes fast shows true ages (the page runs on the bridge's clock).
// Screenshots: build/screenshots/station-oven.png and expo.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startBus, posDevice, makeOrder, ROOT } from '../lib/harness.mjs';
import { openDevice, openLive, until, untilCard, armSound } from './browser.mjs';

const SHOTS = path.join(process.env.KB_BUILD_DIR || path.join(ROOT, 'build'), 'screenshots');
const FAST_MS = 10 * 60 * 1000;

let bus, pos;
const devices = [];
const screens = {};               // oven, bar, cold, expo: pages

async function device(name, opts = {}) {
    const d = await openDevice({ name, ...opts });
    devices.push(d);
    return d;
}

/** A page's Date runs `fast` ms ahead (set before any script of the page). */
function fastClock(fast) {
    const RealDate = Date;
    class FastDate extends RealDate {
        constructor(...a) { if (a.length) super(...a); else super(RealDate.now() + fast); }
        static now() { return RealDate.now() + fast; }
    }
    window.Date = FastDate;
}

before(async () => {
    bus = await startBus();
    pos = await posDevice(bus, 'pizza');
    for (const [name, user, viewport] of [['oven', 'pizza-oven', { width: 1280, height: 800 }], ['bar', 'pizza-bar'],
        ['cold', 'pizza-cold'], ['expo', 'pizza-expo', { width: 1920, height: 1080 }]]) {
        const page = await (await device(user, viewport ? { viewport } : {})).page();
        await openLive(page, bus.url('/kitchen'), user);
        await armSound(page);
        screens[name] = page;
    }
});

after(async () => {
    if (process.env.KB_WEB_LOGS) for (const d of devices) console.log(d.logs.join('\n'));
    await pos?.client.endAsync();
    await Promise.all(devices.map((d) => d.close()));
    await bus?.stop();
});

/** The item names a screen shows for order `n` (its card and any continuation). */
function itemNames(page, n) {
    return page.evaluate((num) => [...document.querySelectorAll(`#cards [data-order="${num}"] .name, #cards [data-cont="${num}"] .name`)]
        .map((e) => e.textContent), n);
}

/** The expo's chips for order `n`: {station: part}. */
function chips(page, n) {
    return page.evaluate((num) => Object.fromEntries([...document.querySelectorAll(`#cards .card[data-order="${num}"] [data-testid=chip]`)]
        .map((c) => [c.dataset.station, c.dataset.part])), n);
}

function untilChips(page, n, want, what) {
    return until(page, ([num, w]) => {
        const got = Object.fromEntries([...document.querySelectorAll(`#cards .card[data-order="${num}"] [data-testid=chip]`)]
            .map((c) => [c.dataset.station, c.dataset.part]));
        return JSON.stringify(got) === JSON.stringify(w);
    }, [n, want], { what });
}

function untilPart(page, n, part, what) {
    return until(page, ([num, p]) => document.querySelector(`#cards .card[data-order="${num}"]`)?.dataset.part === p,
        [n, part], { what });
}

function untilGone(page, n, what) {
    return until(page, (num) => !document.querySelector(`#cards [data-order="${num}"], #cards [data-cont="${num}"]`), n, { what });
}

/** Selects order `n` with its slot key and bumps it with Enter (a bump bar). */
async function keyBump(page, n) {
    const slot = await page.locator(`#cards .card[data-order="${n}"] .slot`).innerText();
    assert.match(slot, /^[0-9]$/, `${n} has a slot key on the visible page`);
    await page.keyboard.press(slot);
    await until(page, (num) => document.querySelector(`#cards .card[data-order="${num}"]`)?.classList.contains('selected'), n,
        { what: `${n} selected` });
    await page.keyboard.press('Enter');
}

test('the station screens: each shows only its items, the cold screen never sees the order, the filter is hidden', async () => {
    const o = makeOrder('pizza', { order_number: 'A-17', table: '4', customer_name: 'Sari', notes: 'birthday',
        items: [{ name: 'Margherita', qty: 2, station: 'oven' }, { name: 'Cola', qty: 3, station: 'bar' }, { name: 'Calzone', qty: 1, station: 'oven' }] });
    assert.equal((await pos.submit(o)).result, 'accepted');
    const n = o.order_number;
    await untilCard(screens.oven, n);
    await untilCard(screens.bar, n);
    await untilCard(screens.expo, n);
    assert.deepEqual(await itemNames(screens.oven, n), ['Margherita', 'Calzone']);
    assert.deepEqual(await itemNames(screens.bar, n), ['Cola']);
    assert.deepEqual((await itemNames(screens.expo, n)).sort(), ['Calzone', 'Cola', 'Margherita']);
    // Number, table, customer and notes stay on a station's card.
    const text = await screens.bar.locator(`#cards .card[data-order="${n}"]`).innerText();
    for (const s of [n, '4', 'Sari', 'birthday']) assert.ok(text.includes(s), `the bar card shows ${s}`);
    assert.equal(await screens.oven.locator(`#cards .card[data-order="${n}"]`).getAttribute('data-part'), 'new');
    assert.deepEqual(await chips(screens.expo, n), { oven: 'new', bar: 'new' });

    // A later order with a cold item reaches the cold screen; the first one never did.
    const c = makeOrder('pizza', { order_number: 'A-18', items: [{ name: 'Caesar salad', qty: 1, station: 'cold' }] });
    assert.equal((await pos.submit(c)).result, 'accepted');
    await untilCard(screens.cold, c.order_number);
    assert.equal(await screens.cold.evaluate((num) => window.__kb.bus.orders.has(num), n), false, 'the cold screen never received it');
    assert.deepEqual(await itemNames(screens.cold, c.order_number), ['Caesar salad']);
    for (const name of ['oven', 'bar']) {
        assert.equal(await screens[name].evaluate((num) => window.__kb.bus.orders.has(num), c.order_number), false,
            `the ${name} screen never received the cold-only order`);
    }
    for (const name of ['oven', 'bar', 'cold']) {
        assert.equal(await screens[name].evaluate(() => window.__kb.mode()), 'station');
        assert.equal(await screens[name].isVisible('[data-testid=station]'), false, `no station filter on the ${name} screen`);
    }
    assert.equal(await screens.expo.evaluate(() => window.__kb.mode()), 'expo');

    // A few more orders in mixed states, moved on by the station screens themselves (for the screenshots).
    const more = [
        makeOrder('pizza', { order_number: 'A-19', table: '9', customer_name: 'Andi',
            items: [{ name: 'Diavola', qty: 1, station: 'oven', modifiers: ['extra chili'] }, { name: 'Caesar salad', qty: 2, station: 'cold' },
                { name: 'Lemonade', qty: 2, station: 'bar' }] }),
        makeOrder('pizza', { order_number: 'A-20', table: '2', items: [{ name: 'Tiramisu', qty: 2, station: 'cold' }, { name: 'Espresso', qty: 2, station: 'bar' }] }),
        makeOrder('pizza', { order_number: 'A-21', table: '5', priority: 'rush', notes: 'no cheese on half',
            items: [{ name: 'Quattro formaggi', qty: 1, station: 'oven' }, { name: 'Garlic bread', qty: 2, station: 'oven' }] }),
    ];
    for (const m of more) assert.equal((await pos.submit(m)).result, 'accepted');
    await untilCard(screens.bar, 'A-20');
    await untilCard(screens.cold, 'A-20');
    const report = (name, num, st) => screens[name].evaluate(([x, y]) => window.__kb.bus.setStatus(x, y).then((a) => a.result), [num, st]);
    for (const st of ['preparing', 'ready']) assert.equal(await report('bar', 'A-19', st), 'accepted');
    assert.equal(await report('cold', 'A-19', 'preparing'), 'accepted');
    assert.equal(await report('cold', 'A-20', 'ready'), 'accepted', 'a part may go straight to ready');
    await untilChips(screens.expo, 'A-19', { oven: 'new', cold: 'preparing', bar: 'ready' }, 'A-19 in three states');
    await untilChips(screens.expo, 'A-20', { cold: 'ready', bar: 'new' }, 'A-20 half done');
    await untilCard(screens.oven, 'A-21');
    mkdirSync(SHOTS, { recursive: true });
    await screens.oven.screenshot({ path: path.join(SHOTS, 'station-oven.png') });

    // The stations bump: the oven with its button, then its bump bar; the expo follows.
    await screens.oven.click(`#cards .card[data-order="${n}"] [data-testid=bump]`);
    await untilPart(screens.oven, n, 'preparing', 'the oven part in progress');
    await untilChips(screens.expo, n, { oven: 'preparing', bar: 'new' }, 'the oven chip in progress');
    await untilCard(screens.expo, n, 'preparing');
    await screens.expo.screenshot({ path: path.join(SHOTS, 'expo.png') });
    await keyBump(screens.oven, n);
    await untilGone(screens.oven, n, 'the done oven part to leave the oven screen');
    await untilChips(screens.expo, n, { oven: 'ready', bar: 'new' }, 'the oven chip done');
    assert.equal(await screens.expo.locator(`#cards .card[data-order="${n}"]`).getAttribute('data-status'), 'preparing',
        'one part done: the order is still preparing');

    // The bar: Enter with nothing selected bumps the first ticket of its page, twice.
    assert.equal((await screens.bar.evaluate(() => window.__kb.paging().shown))[0], n, 'the oldest bar ticket comes first');
    await screens.bar.keyboard.press('Enter');
    await untilChips(screens.expo, n, { oven: 'ready', bar: 'preparing' }, 'the bar chip in progress');
    await untilPart(screens.bar, n, 'preparing', 'the bar part in progress');
    await screens.bar.keyboard.press('Enter');
    await untilGone(screens.bar, n, 'the done bar part to leave the bar screen');
    await untilChips(screens.expo, n, { oven: 'ready', bar: 'ready' }, 'both chips done');
    await untilCard(screens.expo, n, 'ready');

    // The bar recalls its part: the order goes back to preparing, the card comes back.
    await screens.bar.keyboard.press('r');
    await untilPart(screens.bar, n, 'preparing', 'the recalled bar part back on the bar screen');
    await untilChips(screens.expo, n, { oven: 'ready', bar: 'preparing' }, 'the bar chip back in progress');
    await untilCard(screens.expo, n, 'preparing');
    await screens.bar.click(`#cards .card[data-order="${n}"] [data-testid=bump]`);
    await untilCard(screens.expo, n, 'ready');
    // Every report is acked (a part's ack names the order's status, not the part's).
    for (const name of ['oven', 'bar']) {
        await until(screens[name], () => window.__kb.bus.pending().length === 0, null, { what: `the ${name} screen's reports acked` });
    }

    // The expo serves it: Enter with nothing selected takes the page's first ready order.
    await screens.expo.keyboard.press('Escape');
    await screens.expo.keyboard.press('Enter');
    await untilGone(screens.expo, n, 'the served order to leave the expo');
    for (const name of ['oven', 'bar']) {
        await until(screens[name], (num) => !window.__kb.bus.orders.get(num)?.open, n, { what: `the ${name} screen to close it` });
        assert.equal(await screens[name].locator(`#cards [data-order="${n}"]`).count(), 0, `no CLOSED card on the ${name} screen`);
    }
});

test('the expo marks a preparing order ready: every part is done, and the station screens drop it', async () => {
    const o = makeOrder('pizza', { order_number: 'B-1', items: [{ name: 'Diavola', qty: 1, station: 'oven' }, { name: 'Lemonade', qty: 2, station: 'bar' }] });
    assert.equal((await pos.submit(o)).result, 'accepted');
    const n = o.order_number;
    await untilCard(screens.oven, n);
    await screens.oven.click(`#cards .card[data-order="${n}"] [data-testid=bump]`);
    await untilCard(screens.expo, n, 'preparing');
    assert.equal(await screens.expo.locator(`#cards .card[data-order="${n}"] [data-testid=bump]`).innerText(), 'Ready');
    await screens.expo.click(`#cards .card[data-order="${n}"] [data-testid=bump]`);
    await untilCard(screens.expo, n, 'ready');
    await untilChips(screens.expo, n, { oven: 'ready', bar: 'ready' }, 'every chip done');
    await untilGone(screens.oven, n, 'the oven part done');
    await untilGone(screens.bar, n, 'the bar part done');
    await screens.expo.click(`#cards .card[data-order="${n}"] [data-testid=bump]`);
    await untilGone(screens.expo, n, 'served');
});

/** Speech recorded in the page (window.__said), not spoken, and the Voice switch on. */
async function recordSpeech(page) {
    await page.evaluate(() => {
        window.__said = [];
        const synth = { speak: (u) => window.__said.push(u.text), cancel() {}, pause() {}, resume() {}, getVoices: () => [],
            speaking: false, pending: false, paused: false, addEventListener() {}, removeEventListener() {} };
        Object.defineProperty(window, 'speechSynthesis', { configurable: true, get: () => synth });
    });
    if (await page.locator('#speech').getAttribute('aria-pressed') !== 'true') await page.click('#speech');
    await until(page, () => document.querySelector('#speech').getAttribute('aria-pressed') === 'true', null, { what: 'Voice on' });
}

/** From now on, records every card of order `n` the page shows (window.__shown[n]: its data-status values). */
function watchCards(page, n) {
    return page.evaluate((num) => {
        window.__shown = window.__shown || {};
        const seen = window.__shown[num] = [];
        const look = () => { for (const c of document.querySelectorAll(`#cards [data-order="${num}"]`)) seen.push(c.dataset.status); };
        new MutationObserver(look).observe(document.querySelector('#cards'), { childList: true, subtree: true, attributes: true });
    }, n);
}

test('a POS cancels an order the oven is making: the oven and bar screens strike it through and announce it until a cook dismisses it', async () => {
    const oven = screens.oven;
    await recordSpeech(oven);
    const o = makeOrder('pizza', { order_number: 'D-1', table: '6', items: [{ name: 'Capricciosa', qty: 1, station: 'oven' }, { name: 'Spritz', qty: 2, station: 'bar' }] });
    assert.equal((await pos.submit(o)).result, 'accepted');
    const n = o.order_number;
    await untilCard(oven, n);
    await untilCard(screens.bar, n);
    await oven.click(`#cards .card[data-order="${n}"] [data-testid=bump]`);
    await untilPart(oven, n, 'preparing', 'the oven part in progress');
    const before = await Promise.all([oven, screens.bar].map((p) => p.evaluate(() => window.__kb.cancelAlertsPlayed)));

    assert.equal((await pos.submit({ order_number: n, action: 'cancel' })).result, 'accepted');
    await untilCard(oven, n, 'cancelled');
    await untilCard(screens.bar, n, 'cancelled');
    const card = oven.locator(`#cards .card[data-order="${n}"]`);
    assert.equal(await card.locator('[data-testid=stamp]').innerText(), 'CANCELLED');
    assert.match(await card.locator('ul.items').evaluate((e) => getComputedStyle(e).textDecorationLine), /line-through/);
    assert.deepEqual(await itemNames(oven, n), ['Capricciosa'], 'still only the oven\'s items');
    assert.equal(await oven.evaluate(() => window.__kb.cancelAlertsPlayed), before[0] + 1, 'the oven screen sounded the cancel alert once');
    assert.equal(await screens.bar.evaluate(() => window.__kb.cancelAlertsPlayed), before[1] + 1, 'and the bar screen');
    const said = `Order ${n}, table 6 is cancelled`;
    await until(oven, (s) => window.__said.includes(s), said, { what: `"${said}" spoken` });
    assert.deepEqual(await oven.evaluate(() => window.__kb.spoken.slice(-1)), [said]);
    assert.match(await oven.locator('#toast').innerText(), new RegExp(`Order ${n} CANCELLED`));
    // A plain message after it (a burst's "2 new orders" timer can fire now) stacks under the warning and never hides it.
    await oven.evaluate(async () => (await import('/js/common.mjs')).toast('2 new orders'));
    const lines = await oven.locator('#toast > div').allInnerTexts();
    assert.ok(lines.some((l) => l.startsWith(`Order ${n} CANCELLED`)) && lines.includes('2 new orders'), `both shown: ${JSON.stringify(lines)}`);

    // The retained clear came right after: the card stays, past the grace of a close without a reason.
    await until(oven, (num) => window.__kb.bus.orders.get(num)?.open === false, n, { what: 'the oven view closed' });
    await oven.waitForTimeout(2500);
    assert.equal(await card.getAttribute('data-status'), 'cancelled', 'still shown, struck through');
    assert.equal(await card.locator('[data-testid=stamp]').innerText(), 'CANCELLED');
    assert.equal(await oven.evaluate(() => window.__kb.cancelAlertsPlayed), before[0] + 1, 'announced once');
    // Its bump is a dismissal; then it is gone for good.
    await card.locator('[data-testid=dismiss]').click();
    await untilGone(oven, n, 'the dismissed card to go');
    await screens.bar.click(`#cards .card[data-order="${n}"] [data-testid=dismiss]`);
    await untilGone(screens.bar, n, 'the dismissed bar card to go');
    await oven.waitForTimeout(300);
    assert.equal(await oven.locator(`#cards [data-order="${n}"]`).count(), 0);
});

test('an order the expo serves leaves the oven screen quietly', async () => {
    const oven = screens.oven;
    const o = makeOrder('pizza', { order_number: 'D-2', items: [{ name: 'Marinara', qty: 1, station: 'oven' }] });
    assert.equal((await pos.submit(o)).result, 'accepted');
    const n = o.order_number;
    await untilCard(oven, n);
    await untilCard(screens.expo, n);
    const before = await oven.evaluate(() => ({ cancel: window.__kb.cancelAlertsPlayed, spoken: window.__kb.spoken.length }));
    await watchCards(oven, n);
    // The oven finishes its part (the last one: the order is ready), the expo serves it.
    await screens.oven.click(`#cards .card[data-order="${n}"] [data-testid=bump]`);
    await untilPart(oven, n, 'preparing', 'the oven part in progress');
    await screens.oven.click(`#cards .card[data-order="${n}"] [data-testid=bump]`);
    await untilGone(oven, n, 'the done part to leave');
    await untilCard(screens.expo, n, 'ready');
    await screens.expo.click(`#cards .card[data-order="${n}"] [data-testid=bump]`);
    await untilGone(screens.expo, n, 'served');
    await until(oven, (num) => window.__kb.bus.orders.get(num)?.open === false && window.__kb.bus.orders.get(num)?.status === 'served', n,
        { what: 'the oven screen to learn it was served' });
    await oven.waitForTimeout(2000);
    assert.equal(await oven.locator(`#cards [data-order="${n}"]`).count(), 0, 'no CLOSED or CANCELLED card');
    const shown = await oven.evaluate((num) => window.__shown[num], n);
    assert.ok(!shown.some((s) => s !== 'new' && s !== 'preparing'), `never shown closed: ${shown}`);
    assert.deepEqual(await oven.evaluate(() => ({ cancel: window.__kb.cancelAlertsPlayed, spoken: window.__kb.spoken.length })), before,
        'no alert, nothing spoken');
    const toast = oven.locator('#toast');
    assert.ok(!(await toast.isVisible()) || !(await toast.innerText()).includes(n), 'no toast about it');
});

test('a tablet whose clock runs 10 minutes fast shows true ages, not red cards', async () => {
    const d = await device('fast-oven');
    await d.context.addInitScript(fastClock, FAST_MS);
    const page = await d.page();
    await openLive(page, bus.url('/kitchen'), 'pizza-oven');
    assert.ok(await page.evaluate(() => Date.now() - performance.timeOrigin - performance.now()) > FAST_MS - 60000,
        'the tablet\'s clock is fast');
    await until(page, () => window.__kb.clock().measured, null, { what: 'the bridge clock measured' });
    const { offset } = await page.evaluate(() => window.__kb.clock());
    assert.ok(Math.abs(offset + FAST_MS) < 5000, `offset ${offset} ms is about -10 min`);
    const o = makeOrder('pizza', { order_number: 'C-1', items: [{ name: 'Marinara', qty: 1, station: 'oven' }] });
    assert.equal((await pos.submit(o)).result, 'accepted');
    await untilCard(page, o.order_number);
    const age = await until(page, (num) => document.querySelector(`#cards .card[data-order="${num}"] .age`)?.textContent || null,
        o.order_number, { what: 'the age shown' }).then((h) => h.jsonValue());
    const [m, s] = age.split(':').map(Number);
    assert.ok(m * 60 + s < 60, `age ${age} is under a minute`);
    const cls = await page.locator(`#cards .card[data-order="${o.order_number}"]`).getAttribute('class');
    assert.doesNotMatch(cls, /age-warn|age-late/);
    // The top bar's clock is the bridge's too (read between two readings of the true time; the
    // page redraws it once a second, so the earlier reading allows for one redraw's age).
    const hm = (t) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const early = hm(Date.now() - 1500);
    const shown = await page.locator('#clock').innerText();
    assert.ok([early, hm(Date.now())].includes(shown), `the clock shows ${shown}, not the tablet's ${hm(Date.now() + FAST_MS)}`);
    await d.close();
    devices.splice(devices.indexOf(d), 1);
});
