// reports: the Reports view of /admin (issue 16, speed of service) in real
// headless Chromium against the real bus. The bridge runs with its test
// clock (KB_TEST_CLOCK=1): the test scripts a small day, setting the bridge's
// wall clock (POST /api/test/clock) before each step, so the orders get the
// times chosen here. An MQTT.js POS submits, a whole-order kitchen and two
// station screens (oven, cold) move the orders on: served orders, a station
// order whose cold part is ready before its oven part, a recall, a cancel, a
// late one (15 min 30 s, over the default 10 minutes), one still open, and a
// burger order for the tenant picker. The browser runs in Asia/Jakarta
// (UTC+07:00, no daylight saving) and the script's day is that zone's, so
// the hours and the day's bounds the page sends are checked for real.
//
// Then the admin logs in (demo admin/admin), opens Reports (its default day
// is the bridge's today), picks the day and pizza, and the test checks: the
// three charts are drawn by uPlot (canvases), the slowest table lists the
// late order first with its ticket time, the totals are the script's, the
// retention note, and the CSV link (the same query with format=csv). "All
// tenants" adds burger and a line for all. Screenshots:
// build/screenshots/reports.png (laptop; copied to docs/img/reports.png) and
// reports-tablet.png (portrait tablet).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT, DEMO_REGISTRY, startBus, posDevice, kitchenDevice, stationDevice, readJson } from '../lib/harness.mjs';
import { openDevice, until } from './browser.mjs';

const SHOTS = path.join(process.env.KB_BUILD_DIR || path.join(ROOT, 'build'), 'screenshots');
const DOC_SHOT = path.join(ROOT, 'docs/img/reports.png');
const ZONE = 'Asia/Jakarta';
const TZ = '+07:00';
const DAY = '2026-11-20';
/** "11:06:40" on the script's day in Jakarta -> the UTC ISO time the test clock takes. */
const at = (hms) => new Date(`${DAY}T${hms}${TZ}`).toISOString();
/** The day's bounds as the page sends them: its midnights in Jakarta, in UTC. */
const FROM = at('00:00:00');
const TO = new Date(Date.parse(FROM) + 86400000).toISOString();

let bus, session;
const clients = [];
const devices = [];

// ---- the admin API from the test -------------------------------------------------------------
async function login() {
    const res = await fetch(bus.url('/api/login'), {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'admin' }),
    });
    const body = await res.json().catch(() => ({}));
    assert.equal(res.status, 200, `admin login: ${res.status} ${JSON.stringify(body)}`);
    session = { cookie: res.headers.get('set-cookie').split(';')[0], csrf: body.csrf };
}

async function api(method, p, body, retried = false) {
    const headers = { accept: 'application/json', cookie: session.cookie };
    if (method === 'POST') Object.assign(headers, { 'content-type': 'application/json', 'x-csrf-token': session.csrf });
    const res = await fetch(bus.url(p), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (res.status === 401 && !retried) {       // a session may end when the clock jumps: log in again
        await login();
        return api(method, p, body, true);
    }
    let json = null;
    try { json = JSON.parse(text); } catch { /* CSV, or an error page */ }
    return { status: res.status, json, text, type: res.headers.get('content-type') || '' };
}

/** Sets the bridge's wall clock (the test clock) to `hms` on the day. */
async function clock(hms) {
    const r = await api('POST', '/api/test/clock', { now: at(hms) });
    assert.equal(r.status, 200, `POST /api/test/clock ${at(hms)}: ${r.status} ${r.text.slice(0, 200)}`);
}

// ---- the day ---------------------------------------------------------------------------------------
// [time, who, order, action, station]: who is pos | kitchen | oven | cold (pizza's) or burger-pos |
// burger-kitchen. A station's report moves its part (and the order with it, docs/CONTRACT.md).
const SCRIPT = [
    ['11:00:00', 'pos', 'P-101', ['oven', 'cold']],
    ['11:01:00', 'kitchen', 'P-101', 'accepted'],
    ['11:01:30', 'oven', 'P-101', 'preparing'],
    ['11:02:00', 'cold', 'P-101', 'preparing'],
    ['11:04:00', 'cold', 'P-101', 'ready'],          // the cold part: 4 min
    ['11:06:40', 'oven', 'P-101', 'ready'],          // the last part: the ticket is 6 min 40 s
    ['11:08:00', 'kitchen', 'P-101', 'served'],
    ['11:10:00', 'pos', 'P-102', ['oven']],
    ['11:11:00', 'kitchen', 'P-102', 'accepted'],
    ['11:12:00', 'kitchen', 'P-102', 'preparing'],
    ['11:15:00', 'kitchen', 'P-102', 'ready'],       // 5 min
    ['11:16:00', 'kitchen', 'P-102', 'preparing'],   // the recall: the ticket stays 5 min
    ['11:18:00', 'kitchen', 'P-102', 'ready'],
    ['11:19:00', 'kitchen', 'P-102', 'served'],
    ['11:20:00', 'pos', 'P-103', ['oven']],
    ['11:21:00', 'kitchen', 'P-103', 'accepted'],
    ['11:22:00', 'kitchen', 'P-103', 'cancelled'],
    ['11:30:00', 'burger-pos', 'B-201', null],
    ['11:31:00', 'burger-kitchen', 'B-201', 'accepted'],
    ['11:31:30', 'burger-kitchen', 'B-201', 'preparing'],
    ['11:32:00', 'burger-kitchen', 'B-201', 'ready'],    // 2 min
    ['11:33:00', 'burger-kitchen', 'B-201', 'served'],
    ['12:05:00', 'pos', 'P-104', ['oven']],
    ['12:06:00', 'kitchen', 'P-104', 'accepted'],
    ['12:07:00', 'kitchen', 'P-104', 'preparing'],
    ['12:20:30', 'kitchen', 'P-104', 'ready'],       // 15 min 30 s: late
    ['12:22:00', 'kitchen', 'P-104', 'served'],
    ['12:30:00', 'pos', 'P-105', ['oven']],
    ['12:31:00', 'kitchen', 'P-105', 'accepted'],
    ['12:32:00', 'kitchen', 'P-105', 'preparing'],
    ['12:34:00', 'kitchen', 'P-105', 'ready'],       // 4 min
    ['12:35:00', 'kitchen', 'P-105', 'served'],
    ['12:40:00', 'pos', 'P-106', ['oven']],
    ['12:41:00', 'kitchen', 'P-106', 'accepted'],    // still open: counted, no ticket
];
// What the script makes for pizza (ticket: created -> first ready; p50/p90 nearest rank).
const PIZZA = { orders: 6, cancelled: 1, recalls: 1, late: 1, ticket: { count: 4, avg_s: (400 + 300 + 930 + 240) / 4, p50_s: 300, p90_s: 930, max_s: 930 } };
const PIZZA_HOURS = {
    11: { orders: 3, cancelled: 1, recalls: 1, late: 0, p50_s: 300, p90_s: 400 },
    12: { orders: 3, cancelled: 0, recalls: 0, late: 1, p50_s: 240, p90_s: 930 },
};
const SLOWEST = [['P-104', 930], ['P-101', 400], ['P-102', 300], ['P-105', 240]];
const NEAR = 0.01;      // seconds: the test clock stands still between calls, so the figures are exact (the API rounds to 3 decimals)

const near = (actual, expected, what) => assert.ok(Math.abs(Number(actual) - expected) <= NEAR, `${what}: ${actual}, expected ${expected}`);

before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    bus = await startBus({ registry: readJson(DEMO_REGISTRY), env: { KB_TEST_CLOCK: '1' } });
    await login();
    // Without the test clock (or before it landed in the bridge) there is no day to script: fail here, clearly.
    const probe = await api('POST', '/api/test/clock', { now: at('10:59:00') });
    assert.equal(probe.status, 200, `the bridge's test clock: POST /api/test/clock answered ${probe.status} `
        + `(${probe.text.slice(0, 160)}); this test needs KB_TEST_CLOCK=1 and the reports API of issue 16 in kb-bridge`);

    const d = {
        pos: await posDevice(bus, 'pizza'), kitchen: await kitchenDevice(bus, 'pizza'),
        oven: await stationDevice(bus, 'pizza', 'oven'), cold: await stationDevice(bus, 'pizza', 'cold'),
        'burger-pos': await posDevice(bus, 'burger'), 'burger-kitchen': await kitchenDevice(bus, 'burger'),
    };
    clients.push(...Object.values(d).map((x) => x.client));
    for (const [time, who, number, what] of SCRIPT) {
        await clock(time);
        let ack;
        if (who === 'pos' || who === 'burger-pos') {
            const tenant = who === 'pos' ? 'pizza' : 'burger';
            const items = (what || [null]).map((station) => ({ name: `${number} ${station || 'burger'}`, qty: 1, ...(station ? { station } : {}) }));
            ack = await d[who].submit({ order_number: number, tenant_id: tenant, items, customer_name: 'Budi' });
        } else if (who === 'oven' || who === 'cold') {
            ack = await d[who].report(number, what);
        } else {
            ack = await d[who].setStatus(number, what);
        }
        assert.equal(ack.result, 'accepted', `${time} ${who} ${number} ${what}: ${JSON.stringify(ack)}`);
    }
});

after(async () => {
    if (process.env.KB_WEB_LOGS) for (const dev of devices) console.log(dev.logs.join('\n'));
    for (const c of clients) c.end(true);
    await Promise.all(devices.map((dev) => dev.close()));
    await bus?.stop();
});

const reportQuery = (tenant, by) => `/api/reports?${new URLSearchParams({
    tenant, from: FROM, to: TO, by, tz: TZ })}`;

test('the API says what the script did (the figures the page shows next)', async () => {
    const r = await api('GET', reportQuery('pizza', 'hour'));
    assert.equal(r.status, 200, `GET /api/reports: ${r.status} ${r.text.slice(0, 300)}`);
    const [t] = r.json.totals;
    assert.equal(t.tenant, 'pizza');
    for (const k of ['orders', 'cancelled', 'recalls', 'late']) assert.equal(t[k], PIZZA[k], `totals.${k}`);
    assert.equal(t.ticket.count, PIZZA.ticket.count);
    for (const k of ['avg_s', 'p50_s', 'p90_s', 'max_s']) near(t.ticket[k], PIZZA.ticket[k], `totals.ticket.${k}`);
    assert.deepEqual(r.json.rows.map((x) => x.key), ['11', '12'], 'hours in UTC+07:00');
    assert.deepEqual(r.json.slowest.map((s) => s.order_number), SLOWEST.map(([n]) => n));
});

let hub, page;

test('the admin opens Reports: today is the bridge\'s day, then the scripted day for pizza', async () => {
    hub = await openDevice({ name: 'reports', viewport: { width: 1280, height: 800 } });
    devices.push(hub);
    page = await hub.page();
    // The browser's time zone: Jakarta (playwright-core's own way, through the DevTools protocol).
    const cdp = await hub.context.newCDPSession(page);
    await cdp.send('Emulation.setTimezoneOverride', { timezoneId: ZONE });
    await page.goto(bus.url('/admin'));
    await page.waitForSelector('#login:not([hidden])', { timeout: 5000 });
    await page.fill('[data-testid=login-user]', 'admin');
    await page.fill('[data-testid=login-pass]', 'admin');
    await page.click('[data-testid=login-submit]');
    await until(page, () => window.__kb.state === 'ready', null, { timeout: 10000, what: 'the hub to be ready' });
    assert.equal(await page.isVisible('[data-testid=tenants]'), true, 'the device hub first');
    assert.equal(await page.isVisible('[data-testid=reports]'), false);

    await page.click('[data-testid=tab-reports]');
    await until(page, () => window.__kb.reports?.state === 'ready' || window.__kb.reports?.state === 'error', null,
        { timeout: 10000, what: 'the first report (today)' });
    assert.equal(await page.evaluate(() => window.__kb.reports.error?.message ?? null), null, 'the first report');
    assert.equal(await page.isVisible('[data-testid=tenants]'), false, 'the device hub is hidden behind its tab');
    assert.match(new URL(page.url()).hash, /^#reports/);
    // The bridge's clock is on the scripted day (the page times everything on it), and the browser is in Jakarta.
    const first = await page.evaluate(() => window.__kb.reports.query());
    assert.equal(first.fromDay, DAY, 'the default period is the bridge\'s today');
    assert.equal(first.toDay, DAY);
    assert.equal(first.tz, TZ, 'tz is the browser\'s offset');
    assert.equal(first.tenant, '*');
    assert.equal(first.from, FROM);
    assert.equal(first.to, TO);

    // The admin picks the day and the tenant (choosing a tenant runs the report).
    await page.fill('[data-testid=report-from]', DAY);
    await page.fill('[data-testid=report-to]', DAY);
    const loads = await page.evaluate(() => window.__kb.reports.loads);
    await page.selectOption('[data-testid=report-tenant]', 'pizza');
    await until(page, (n) => window.__kb.reports.loads > n && window.__kb.reports.state === 'ready'
        && window.__kb.reports.query().tenant === 'pizza', loads, { timeout: 10000, what: 'the pizza report' });
    assert.match(new URL(page.url()).hash, new RegExp(`from=${DAY}&to=${DAY}&tenant=pizza`), 'the report is in the address');
});

test('the charts are drawn by uPlot: ticket time and orders by hour, prep time per station', async () => {
    for (const id of ['chart-ticket', 'chart-orders', 'chart-stations']) {
        const canvases = await page.locator(`[data-testid=${id}] .uplot canvas`).count();
        assert.ok(canvases >= 1, `${id}: a uPlot canvas`);
        const box = await page.locator(`[data-testid=${id}] .uplot canvas`).first().boundingBox();
        assert.ok(box.width > 200 && box.height > 100, `${id}: a canvas of a readable size (${JSON.stringify(box)})`);
    }
    const charts = Object.fromEntries((await page.evaluate(() => window.__kb.reports.charts())).map((c) => [c.id, c]));
    assert.deepEqual(charts['chart-ticket'].series, ['p50', 'p90']);
    assert.equal(charts['chart-ticket'].points, 2, 'the hours 11:00 and 12:00');
    assert.deepEqual(charts['chart-orders'].series, ['Orders', 'Late']);
    assert.deepEqual(charts['chart-stations'].series, ['p90', 'p50']);
    assert.ok(charts['chart-stations'].points >= 2, 'oven and cold (at least)');
    // The chart's data are the API's figures (seconds drawn as minutes).
    const data = await page.evaluate(() => window.__kb.reports.docs().hour.rows.map((r) => ({ key: r.key, orders: r.orders, late: r.late,
        cancelled: r.cancelled, recalls: r.recalls, p50: r.ticket.p50_s, p90: r.ticket.p90_s })));
    for (const r of data) {
        const want = PIZZA_HOURS[Number(r.key)];
        assert.ok(want, `an hour of the script: ${r.key}`);
        for (const k of ['orders', 'late', 'cancelled', 'recalls']) assert.equal(r[k], want[k], `${r.key}:00 ${k}`);
        near(r.p50, want.p50_s, `${r.key}:00 p50`);
        near(r.p90, want.p90_s, `${r.key}:00 p90`);
    }
    // The oven's and the cold station's prep times.
    const stations = await page.evaluate(() => {
        const d = window.__kb.reports.docs().station;
        const list = Array.isArray(d.stations) && d.stations.length ? d.stations.map((s) => [s.station, s.ready])
            : d.rows.map((r) => [r.key, r.ready || r.ticket]);
        return Object.fromEntries(list);
    });
    assert.equal(stations.oven.count, 4);
    near(stations.oven.p50_s, 300, 'oven p50');
    near(stations.oven.p90_s, 930, 'oven p90');
    assert.equal(stations.cold.count, 1);
    near(stations.cold.p50_s, 240, 'cold p50 (ready before the oven part)');
});

test('the slowest tickets: the late order first, with its ticket time', async () => {
    const rows = await page.evaluate(() => [...document.querySelectorAll('[data-testid=report-slowest] tbody tr')].map((tr) => ({
        order: tr.dataset.order, late: tr.classList.contains('late'), ticket: tr.querySelector('.tkt')?.textContent,
        created: tr.querySelector('.time')?.textContent, cells: [...tr.cells].map((c) => c.textContent) })));
    assert.deepEqual(rows.map((r) => r.order), SLOWEST.map(([n]) => n));
    assert.equal(rows[0].order, 'P-104');
    assert.equal(rows[0].late, true, 'marked late');
    assert.equal(rows[0].ticket, '15 min 30 s');
    assert.match(rows[0].cells[1], /P-104\s*late/);
    assert.equal(rows[0].created, '12:05:00', 'created at 12:05 in Jakarta');
    assert.deepEqual(rows.slice(1).map((r) => [r.ticket, r.late]), [['6 min 40 s', false], ['5 min', false], ['4 min', false]]);
});

test('the totals are what the script did; the retention note; the CSV link', async () => {
    const cells = await page.evaluate(() => [...document.querySelectorAll('[data-testid=report-totals] tbody tr')].map((tr) => ({
        tenant: tr.dataset.tenant, name: tr.querySelector('th').textContent,
        ...Object.fromEntries([...tr.querySelectorAll('td[data-k]')].map((td) => [td.dataset.k, { text: td.textContent, value: td.dataset.value }])) })));
    assert.equal(cells.length, 1, 'one tenant');
    const t = cells[0];
    assert.equal(t.tenant, 'pizza');
    assert.equal(t.name, 'Pizza Paradise');
    for (const k of ['orders', 'cancelled', 'recalls', 'late']) assert.equal(t[k].text, String(PIZZA[k]), `totals ${k}`);
    assert.equal(t.p50.text, '5 min');
    assert.equal(t.p90.text, '15 min 30 s');
    assert.equal(t.max.text, '15 min 30 s');
    near(t.avg.value, PIZZA.ticket.avg_s, 'avg');
    assert.equal(t.avg.text, '7 min 48 s', '467.5 s, rounded to the second');
    assert.match(await page.textContent('#report-late-note'), /over 10 min/);

    const retention = await page.textContent('[data-testid=report-retention]');
    assert.match(retention, /^The journal keeps closed orders for 30 days; the oldest available is \d{1,2} [A-Z][a-z]{2} \d{4}\.$/, retention);
    const doc = await page.evaluate(() => window.__kb.reports.docs().hour);
    assert.equal(doc.retention_days, 30);
    assert.equal(await page.isVisible('[data-testid=report-old]'), false, 'the day is within what the journal keeps');

    // Download CSV: the same query as the page's, with format=csv, and what it gives.
    const href = await page.getAttribute('[data-testid=report-csv]', 'href');
    const q = new URLSearchParams(href.split('?')[1]);
    assert.equal(new URL(href, bus.url('/')).pathname, '/api/reports');
    assert.deepEqual(Object.fromEntries(q), {
        tenant: 'pizza', from: FROM, to: TO, by: 'hour', tz: TZ, format: 'csv' });
    assert.equal(await page.getAttribute('[data-testid=report-csv]', 'download'), `kitchen-bus-report-pizza-${DAY}.csv`);
    const csv = await page.evaluate(async (url) => {
        const res = await fetch(url, { credentials: 'same-origin' });
        return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
    }, href);
    assert.equal(csv.status, 200);
    assert.match(csv.type, /^text\/csv/);
    const lines = csv.text.trim().split(/\r?\n/);
    assert.equal(lines[0], 'tenant,key,orders,cancelled,recalls,late,ticket_count,ticket_avg_s,ticket_p50_s,ticket_p90_s,ticket_max_s');
    assert.deepEqual(lines.slice(1).map((l) => l.split(',').slice(0, 6).join(',')), ['pizza,11,3,1,1,0', 'pizza,12,3,0,0,1']);

    // The laptop's screenshot, for the README (no focus ring left on the date field).
    await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
    const shot = path.join(SHOTS, 'reports.png');
    await page.screenshot({ path: shot, fullPage: true });
    mkdirSync(path.dirname(DOC_SHOT), { recursive: true });
    copyFileSync(shot, DOC_SHOT);
});

test('all tenants: burger too, and a line for them all', async () => {
    const loads = await page.evaluate(() => window.__kb.reports.loads);
    await page.selectOption('[data-testid=report-tenant]', '*');
    await until(page, (n) => window.__kb.reports.loads > n && window.__kb.reports.state === 'ready', loads,
        { timeout: 10000, what: 'the report of all tenants' });
    const rows = await page.evaluate(() => [...document.querySelectorAll('[data-testid=report-totals] tbody tr')].map((tr) => [tr.dataset.tenant,
        tr.querySelector('td[data-k=orders]').textContent, tr.querySelector('td[data-k=p50]').textContent]));
    // A line per tenant (pizza, burger; noodle had no order), then the line for all.
    const byTenant = Object.fromEntries(rows.map(([t, orders, p50]) => [t, { orders, p50 }]));
    assert.equal(byTenant.pizza.orders, '6');
    assert.equal(byTenant.burger.orders, '1');
    assert.equal(byTenant.burger.p50, '2 min');
    assert.equal(byTenant['*'].orders, '7', 'the line for all tenants adds them up');
    assert.equal(byTenant['*'].p50, '—', 'percentiles do not add up');
    assert.equal(rows.at(-1)[0], '*');
    const slowest = await page.evaluate(() => [...document.querySelectorAll('[data-testid=report-slowest] tbody tr')].map((tr) => tr.dataset.order));
    assert.deepEqual(slowest, ['P-104', 'P-101', 'P-102', 'P-105', 'B-201']);
    const series = (await page.evaluate(() => window.__kb.reports.charts())).find((c) => c.id === 'chart-ticket').series;
    assert.deepEqual(series, ['Pizza Paradise p50', 'Pizza Paradise p90', 'Burger Station p50', 'Burger Station p90']);
});

test('a portrait tablet: one column, charts as wide as the page; the device hub is one tap away', async () => {
    const tablet = await openDevice({ name: 'reports-tablet', viewport: { width: 800, height: 1280 } });
    devices.push(tablet);
    const p = await tablet.page();
    const cdp = await tablet.context.newCDPSession(p);
    await cdp.send('Emulation.setTimezoneOverride', { timezoneId: ZONE });
    // A link to the report opens it (after the login).
    await p.goto(bus.url(`/admin#reports?from=${DAY}&to=${DAY}&tenant=pizza`));
    await p.waitForSelector('#login:not([hidden])', { timeout: 5000 });
    await p.fill('[data-testid=login-user]', 'admin');
    await p.fill('[data-testid=login-pass]', 'admin');
    await p.click('[data-testid=login-submit]');
    await until(p, () => window.__kb.reports?.state === 'ready' && window.__kb.reports.query().tenant === 'pizza', null,
        { timeout: 10000, what: 'the linked report on the tablet' });
    assert.equal((await p.evaluate(() => window.__kb.reports.query())).fromDay, DAY);
    const widths = await p.evaluate(() => ['chart-ticket', 'chart-orders', 'chart-stations'].map((id) => Math.round(
        document.querySelector(`#${id} .uplot canvas`).getBoundingClientRect().width)));
    for (const w of widths) assert.ok(w > 600, `a chart across the tablet (${widths})`);
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `nothing wider than the tablet (${overflow} px)`);
    await p.screenshot({ path: path.join(SHOTS, 'reports-tablet.png'), fullPage: true });

    await p.click('[data-testid=tab-devices]');
    await until(p, () => !document.querySelector('[data-testid=tenants]').closest('main').hidden
        && document.querySelector('[data-testid=reports]').hidden, null, { what: 'the device hub back' });
    assert.equal(await p.isVisible('[data-tenant=pizza]'), true);
});
