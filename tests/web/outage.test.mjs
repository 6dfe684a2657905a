// outage: the browser outbox across a broker outage and a page reload, and the
// connection indicator going Offline and back to Live. Real Chromium, real
// Mosquitto, real bridge (tests/lib/harness.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startBus, mqttClient, subscribe, waitFor } from '../lib/harness.mjs';
import { openDevice, armSound, openLive, posSubmit, untilPosStatus, untilCard, until } from './browser.mjs';

let bus;
const devices = [];
let kitchen, pos;

before(async () => {
    bus = await startBus();
    const k = await openDevice({ name: 'kitchen' });
    const p = await openDevice({ name: 'pos' });
    devices.push(k, p);
    kitchen = await k.page();
    pos = await p.page();
    await openLive(kitchen, bus.url('/kitchen'), 'pizza-kitchen');
    await armSound(kitchen);
    await openLive(pos, bus.url('/pos'), 'pizza-pos');
});

after(async () => {
    if (process.env.KB_WEB_LOGS) for (const d of devices) console.log(d.logs.join('\n'));
    await Promise.all(devices.map((d) => d.close()));
    await bus?.stop();
});

const pill = (page) => page.evaluate(() => document.querySelector('[data-testid=conn]').dataset.state);

test('broker down: three orders wait in the outbox across a reload and arrive once when it is back', async () => {
    const alertsBefore = await kitchen.evaluate(() => window.__kb.alertsPlayed);
    await kitchen.evaluate(() => { window.__kb.stateLog.length = 0; });
    await pos.evaluate(() => { window.__kb.stateLog.length = 0; });

    await bus.stopBroker();
    await until(pos, () => window.__kb.state === 'offline', null, { what: 'the POS to show Offline' });
    await until(kitchen, () => window.__kb.state === 'offline', null, { what: 'the kitchen to show Offline' });
    assert.equal(await pill(pos), 'offline');
    assert.equal(await pill(kitchen), 'offline');

    const numbers = [];
    numbers.push(await posSubmit(pos, { items: ['Margherita'], table: '1' }));
    numbers.push(await posSubmit(pos, { items: ['Pepperoni'], table: '2' }));
    numbers.push(await posSubmit(pos, { items: ['Cola', 'Cola'], table: '3' }));
    await until(pos, () => window.__kb.outbox === 3, null, { what: 'three orders in the outbox' });
    assert.match(await pos.locator('[data-testid=outbox]').innerText(), /3 in outbox/);

    // A reload (or a closed tab) while offline loses nothing: the outbox is in IndexedDB.
    await pos.reload();
    await until(pos, () => window.__kb?.bus && window.__kb.outbox === 3, null, { what: 'the outbox after the reload' });
    assert.equal(await pos.evaluate(() => window.__kb.state), 'offline');
    const pending = await pos.evaluate(() => window.__kb.bus.pending().map((e) => e.order_number));
    assert.deepEqual(pending, numbers);

    await bus.startBroker();
    for (const n of numbers) await untilPosStatus(pos, n, 'new', { timeout: 20000 });
    await until(pos, () => window.__kb.outbox === 0 && window.__kb.state === 'live', null, { timeout: 15000, what: 'the POS outbox to drain' });
    for (const n of numbers) await untilCard(kitchen, n, 'new', { timeout: 20000 });
    await until(kitchen, () => window.__kb.state === 'live', null, { timeout: 15000, what: 'the kitchen to be Live again' });

    // Each order arrived once: one card each, one `created` event each on the wire, one alert burst.
    for (const n of numbers) {
        assert.equal(await kitchen.locator(`#cards .card[data-order="${n}"]`).count(), 1, `one card for ${n}`);
    }
    const created = await kitchen.evaluate((ns) => ns.map((n) => window.__kb.bus.stats.created.get(n) || 0), numbers);
    assert.deepEqual(created, [1, 1, 1], 'one created event per order');
    const alerts = await kitchen.evaluate(() => window.__kb.alertsPlayed);
    assert.ok(alerts >= alertsBefore + 1 && alerts <= alertsBefore + 3, `alerts ${alertsBefore} -> ${alerts}`);

    // The bridge has each order once: an admin sees exactly these three open orders retained.
    const admin = await mqttClient(bus, 'admin');
    await subscribe(admin, ['outlet/tenant/pizza/orders/+']);
    await waitFor(() => numbers.every((n) => admin.received.some((m) => m.topic.endsWith(`/${n}`))), { what: 'retained orders' });
    for (const n of numbers) assert.equal(admin.received.filter((m) => m.topic.endsWith(`/${n}`)).length, 1);
    await admin.endAsync();

    // The indicator went Offline and came back to Live on both screens.
    for (const page of [kitchen, pos]) {
        const log = await page.evaluate(() => window.__kb.stateLog);
        const off = log.indexOf('offline');
        assert.ok(off >= 0 && log.indexOf('live', off) > off, `state log ${log.join(' > ')}`);
    }
    assert.equal(await pill(kitchen), 'live');
    assert.equal(await pill(pos), 'live');
});

test('bridge down: the screens say Degraded and orders wait until it is back', async () => {
    await bus.stopBridge();
    // A stopped bridge publishes its health as offline before it goes (or its will does).
    await until(pos, () => window.__kb.state === 'degraded', null, { timeout: 10000, what: 'the POS to show Degraded' });
    await until(kitchen, () => window.__kb.state === 'degraded', null, { timeout: 10000, what: 'the kitchen to show Degraded' });
    const n = await posSubmit(pos, { items: ['Garlic bread'] });
    await until(pos, () => window.__kb.outbox === 1, null, { what: 'the order waiting in the outbox' });
    await bus.startBridge();
    await untilPosStatus(pos, n, 'new', { timeout: 20000 });
    await untilCard(kitchen, n, 'new', { timeout: 20000 });
    await until(kitchen, () => window.__kb.state === 'live', null, { timeout: 10000, what: 'the kitchen to be Live' });
    await until(pos, () => window.__kb.state === 'live' && window.__kb.outbox === 0, null, { timeout: 10000, what: 'the POS to be Live' });
});
