// presence: the pages' warnings from device presence (docs/CONTRACT.md
// "Presence"), in real headless Chromium against the real bus and the demo
// registry. The POS says "No kitchen screen is on for Pizza Paradise" while
// no kitchen screen of its tenant is on, and still takes orders; a kitchen
// page opening makes it go, closing makes it come back. The whole-order
// kitchen says "No screen is on for station oven" once the oven's screen has
// been on and is gone, and stops when it is back. A pickup board announces
// itself too (outlet/board/<me>/presence), and says offline when it closes.
// Screenshots: build/screenshots/pos-no-kitchen.png and kitchen-no-station.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startBus, mqttClient, subscribe, waitFor, parse, ROOT } from '../lib/harness.mjs';
import { openDevice, openLive, posSubmit, untilPosStatus, until } from './browser.mjs';

const SHOTS = path.join(process.env.KB_BUILD_DIR || path.join(ROOT, 'build'), 'screenshots');
const NO_KITCHEN = 'No kitchen screen is on for Pizza Paradise';
const NO_OVEN = 'No screen is on for station oven';

let bus;
const devices = [];

async function device(name) {
    const d = await openDevice({ name });
    devices.push(d);
    return d;
}

before(async () => { bus = await startBus(); });
after(async () => {
    if (process.env.KB_WEB_LOGS) for (const d of devices) console.log(d.logs.join('\n'));
    await Promise.all(devices.map((d) => d.close()));
    await bus?.stop();
});

/** The presence warnings a page shows (its banner, only while visible). */
const warnings = (page) => page.evaluate(() => {
    const box = document.querySelector('[data-testid=presence-warning]');
    return box.hidden ? [] : window.__kb.warnings();
});
const untilWarnings = (page, want, what, timeout = 10000) => until(page, (w) => {
    const box = document.querySelector('[data-testid=presence-warning]');
    const shown = box.hidden ? [] : window.__kb.warnings();
    return JSON.stringify(shown) === JSON.stringify(w);
}, want, { timeout, what });

test('the POS warns while no kitchen screen is on, and takes orders all the same', async () => {
    const posDevice = await device('pos');
    const pos = await posDevice.page();
    await openLive(pos, bus.url('/pos'), 'pizza-pos');
    await untilWarnings(pos, [NO_KITCHEN], 'the POS warning');
    assert.equal(await pos.locator('[data-testid=presence-warning]').innerText(), NO_KITCHEN);
    // A plain banner: nothing is blocked.
    const n = await posSubmit(pos, { items: ['Margherita'], table: '4' });
    await untilPosStatus(pos, n, 'new', { timeout: 10000 });
    mkdirSync(SHOTS, { recursive: true });
    await pos.screenshot({ path: path.join(SHOTS, 'pos-no-kitchen.png') });

    // A kitchen screen opens: the warning goes.
    const kitchenDevice = await device('kitchen');
    const kitchen = await kitchenDevice.page();
    await openLive(kitchen, bus.url('/kitchen'), 'pizza-kitchen');
    await untilWarnings(pos, [], 'the POS warning to go once the kitchen is on');
    assert.deepEqual(await warnings(kitchen), [], 'the whole-order kitchen has nothing to say (no station screen yet)');

    // It closes: the warning is back.
    await kitchen.close();
    await untilWarnings(pos, [NO_KITCHEN], 'the POS warning back once the kitchen page closed');

    // Opened again on the same tablet (its info remembered: the will from the first connection).
    const again = await kitchenDevice.context.newPage();
    await openLive(again, bus.url('/kitchen'), 'pizza-kitchen');
    await untilWarnings(pos, [], 'the POS warning to go again');
});

test('the whole-order kitchen warns for a station whose screen is gone', async () => {
    const kitchenDevice = devices.find((d) => d.dir.includes('kb-chromium-kitchen-'));
    const kitchen = kitchenDevice.context.pages().at(-1);
    const ovenDevice = await device('oven');
    const oven = await ovenDevice.page();
    await openLive(oven, bus.url('/kitchen'), 'pizza-oven');
    await until(kitchen, () => window.__kb.bus.presenceSynced
        && [...window.__kb.bus.presence.values()].some((d) => d?.online === true && d.station === 'oven'), null,
    { timeout: 10000, what: 'the kitchen to see the oven screen on' });
    assert.deepEqual(await warnings(kitchen), []);
    assert.deepEqual(await warnings(oven), [], 'a station screen shows no presence warning');

    await oven.close();
    await untilWarnings(kitchen, [NO_OVEN], 'the kitchen to warn for the oven');
    assert.equal(await kitchen.locator('[data-testid=presence-warning] [data-station=oven]').innerText(), NO_OVEN);
    // The cards still fit below the banner: nothing scrolls.
    await until(kitchen, () => window.__kb.paging().settled, null, { what: 'the layout to settle' });
    assert.equal(await kitchen.evaluate(() => document.scrollingElement.scrollHeight <= innerHeight), true);
    await kitchen.screenshot({ path: path.join(SHOTS, 'kitchen-no-station.png') });

    const back = await ovenDevice.context.newPage();
    await openLive(back, bus.url('/kitchen'), 'pizza-oven');
    await untilWarnings(kitchen, [], 'the oven warning to go');
});

test('a pickup board is on while its page is open, off once it closes', async () => {
    const admin = await mqttClient(bus, 'admin');
    const topic = 'outlet/board/court-board/presence';
    await subscribe(admin, [topic]);
    const boardDevice = await device('board');
    const board = await boardDevice.page();
    await openLive(board, bus.url('/board'), 'court-board');
    await waitFor(() => admin.received.some((m) => m.topic === topic && parse(m)?.online === true), { timeout: 10000, what: 'the board online' });
    const doc = parse(admin.received.find((m) => m.topic === topic && parse(m)?.online === true));
    assert.equal(doc.page, '/board');
    assert.match(doc.user_agent, /Chrom/);
    assert.equal(doc.version, (await (await fetch(bus.url('/config.json'))).json()).version);
    const from = admin.received.length;
    await board.close();
    await waitFor(() => admin.received.slice(from).some((m) => m.topic === topic && parse(m)?.online === false), { timeout: 10000, what: 'the board offline' });
    await admin.endAsync();
});
