// reports_view: the admin page's Reports view, its pure logic
// (web-adapter/public/js/reports-view.mjs) in plain Node: the UTC offset the
// API's `tz` takes, whole days at that offset turned into the API's from/to,
// the report's and the CSV's addresses, durations for a person ("6 min 40
// s"), the chart series made from the API's rows (docs/ADMIN-API.md
// "Reports"), the totals and slowest tables, the retention note and the
// view's address fragment. Also: the module does no I/O, and uPlot is a
// pinned dependency the web build vendors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PUBLIC, ROOT } from './adapter.mjs';
import { stripComments } from './c-source.mjs';
import {
    addDays, beforeRetention, browserTz, csvFileName, csvUrl, dayAt, dayCount, dayRange, formatDay, formatSeconds, formatTimeAt,
    formatTzOffset, hourLabel, hourSeries, isDay, minutesLabel, parseReportsHash, parseTzOffset, rangeProblem, reportUrl, reportsHash,
    retentionText, slowestTable, stationSeries, totalsTable,
} from '../../web-adapter/public/js/reports-view.mjs';

const fig = (count, avg, p50, p90, max) => ({ count, avg_s: avg, p50_s: p50, p90_s: p90, max_s: max });
const NONE = fig(0, null, null, null, null);

test('tz offsets: minutes east of UTC as ±HH:MM, and back', () => {
    assert.equal(formatTzOffset(420), '+07:00');
    assert.equal(formatTzOffset(0), '+00:00');
    assert.equal(formatTzOffset(-210), '-03:30');
    assert.equal(formatTzOffset(345), '+05:45');
    assert.equal(formatTzOffset(-600), '-10:00');
    assert.equal(formatTzOffset(840), '+14:00');
    // Date#getTimezoneOffset is minutes *behind* UTC: Jakarta says -420.
    assert.equal(browserTz({ getTimezoneOffset: () => -420 }), '+07:00');
    assert.equal(browserTz({ getTimezoneOffset: () => 300 }), '-05:00');
    assert.equal(browserTz({ getTimezoneOffset: () => 0 }), '+00:00');
    assert.match(browserTz(new Date()), /^[+-]\d{2}:\d{2}$/);
    for (const m of [420, 0, -210, 345, -600]) assert.equal(parseTzOffset(formatTzOffset(m)), m);
    assert.equal(parseTzOffset('Z'), 0);
    for (const bad of ['07:00', '+7:00', '+07', '+24:00', '+07:60', '', null, undefined]) assert.equal(parseTzOffset(bad), null, String(bad));
});

test('days at an offset: the API\'s from/to are the midnights around them, in UTC', () => {
    assert.deepEqual(dayRange('2026-11-20', '2026-11-20', '+07:00'), { from: '2026-11-19T17:00:00.000Z', to: '2026-11-20T17:00:00.000Z' });
    assert.deepEqual(dayRange('2026-11-20', '2026-11-20', '+00:00'), { from: '2026-11-20T00:00:00.000Z', to: '2026-11-21T00:00:00.000Z' });
    assert.deepEqual(dayRange('2026-11-01', '2026-11-30', '-03:30'), { from: '2026-11-01T03:30:00.000Z', to: '2026-12-01T03:30:00.000Z' });
    assert.deepEqual(dayRange('2026-12-31', '2026-12-31', '+05:45'), { from: '2026-12-30T18:15:00.000Z', to: '2026-12-31T18:15:00.000Z' });
    assert.equal(dayRange('2026-11-21', '2026-11-20', '+07:00'), null, 'the last day before the first');
    assert.equal(dayRange('2026-02-30', '2026-03-01', '+07:00'), null, 'no such day');
    assert.equal(dayRange('2026-11-20', '2026-11-20', 'Asia/Jakarta'), null);

    // The day of an instant at an offset (what "today" is where the admin is).
    assert.equal(dayAt(Date.parse('2026-11-20T16:59:59Z'), '+07:00'), '2026-11-20');
    assert.equal(dayAt(Date.parse('2026-11-20T17:00:00Z'), '+07:00'), '2026-11-21');
    assert.equal(dayAt(Date.parse('2026-11-20T02:00:00Z'), '-03:00'), '2026-11-19');
    assert.equal(addDays('2026-12-31', 1), '2027-01-01');
    assert.equal(addDays('2026-03-01', -1), '2026-02-28');
    assert.equal(addDays('2028-03-01', -1), '2028-02-29');
    assert.equal(dayCount('2026-11-01', '2026-11-30'), 30);
    assert.equal(dayCount('2026-11-20', '2026-11-20'), 1);
    assert.ok(isDay('2028-02-29'));
    assert.ok(!isDay('2026-02-29'));
    assert.ok(!isDay('2026-1-02'));

    assert.equal(rangeProblem('2026-11-20', '2026-11-20'), null);
    assert.match(rangeProblem('', '2026-11-20'), /first day/);
    assert.match(rangeProblem('2026-11-20', ''), /last day/);
    assert.match(rangeProblem('2026-11-21', '2026-11-20'), /before the first/);
    assert.equal(rangeProblem('2026-01-01', '2026-12-31'), null, '365 days');
    assert.equal(rangeProblem('2028-01-01', '2028-12-31'), null, '366 days (a leap year)');
    assert.match(rangeProblem('2026-01-01', '2027-01-02'), /366 days/);
});

test('the report\'s address and the CSV link: the same query, "+" kept as an offset', () => {
    const q = { tenant: 'pizza', from: '2026-11-19T17:00:00.000Z', to: '2026-11-20T17:00:00.000Z', tz: '+07:00' };
    const url = reportUrl({ ...q, by: 'hour' });
    assert.equal(url, '/api/reports?tenant=pizza&from=2026-11-19T17%3A00%3A00.000Z&to=2026-11-20T17%3A00%3A00.000Z&by=hour&tz=%2B07%3A00');
    const back = new URLSearchParams(url.split('?')[1]);
    assert.equal(back.get('tz'), '+07:00', 'a "+" sent as it is would arrive as a space');
    assert.equal(back.get('from'), q.from);
    assert.equal(back.get('format'), null);

    const csv = csvUrl({ ...q, by: 'hour' });
    assert.equal(csv, `${url}&format=csv`);
    assert.equal(new URLSearchParams(csv.split('?')[1]).get('format'), 'csv');
    assert.equal(new URLSearchParams(reportUrl({ ...q, tenant: '*', by: 'station' }).split('?')[1]).get('tenant'), '*');
    assert.equal(new URLSearchParams(reportUrl({ ...q, tenant: '', by: 'station' }).split('?')[1]).get('tenant'), '*', 'no tenant: all');
    assert.equal(new URLSearchParams(reportUrl({ ...q, tz: '-03:30' }).split('?')[1]).get('tz'), '-03:30');
    assert.ok(!reportUrl({ ...q, tz: undefined }).includes('tz='), 'no tz: the API\'s default');

    assert.equal(csvFileName('pizza', '2026-11-20', '2026-11-20'), 'kitchen-bus-report-pizza-2026-11-20.csv');
    assert.equal(csvFileName('*', '2026-11-01', '2026-11-30'), 'kitchen-bus-report-all-2026-11-01-to-2026-11-30.csv');
});

test('seconds for a person: "6 min 40 s"', () => {
    assert.equal(formatSeconds(400), '6 min 40 s');
    assert.equal(formatSeconds(0), '0 s');
    assert.equal(formatSeconds(45), '45 s');
    assert.equal(formatSeconds(59.6), '1 min');
    assert.equal(formatSeconds(60), '1 min');
    assert.equal(formatSeconds(600), '10 min');
    assert.equal(formatSeconds(412.5), '6 min 53 s', 'an average is rounded to the second');
    assert.equal(formatSeconds(930), '15 min 30 s');
    assert.equal(formatSeconds(3599), '59 min 59 s');
    assert.equal(formatSeconds(3600), '1 h 00 min');
    assert.equal(formatSeconds(3900), '1 h 05 min');
    assert.equal(formatSeconds(26 * 3600), '26 h 00 min');
    assert.equal(formatSeconds(null), '—', 'a group with no ticket');
    assert.equal(formatSeconds(undefined), '—');
    assert.equal(formatSeconds('x'), '—');
    assert.equal(formatSeconds(-5), '0 s');
});

test('times and days as the view shows them, at the report\'s offset', () => {
    assert.equal(formatDay('2026-10-04'), '4 Oct 2026');
    assert.equal(formatDay('2026-12-25'), '25 Dec 2026');
    assert.equal(formatTimeAt('2026-11-20T05:05:07.123Z', '+07:00'), '12:05:07');
    assert.equal(formatTimeAt('2026-11-20T20:00:00Z', '+07:00', true), '21 Nov 03:00:00');
    assert.equal(formatTimeAt(null, '+07:00'), '—');
    assert.equal(hourLabel(9), '09:00');
    assert.equal(hourLabel(23), '23:00');
    assert.equal(hourLabel(24), '');
    assert.equal(hourLabel(1.5), '');
    assert.equal(minutesLabel(0), '0');
    assert.equal(minutesLabel(5), '5 min');
    assert.equal(minutesLabel(2.5), '2.5 min');
    assert.equal(minutesLabel(120), '2 h');

    const doc = { from: '2026-11-19T17:00:00.000Z', retention_days: 30, oldest_available: '2026-10-21T17:00:00.000Z' };
    assert.equal(retentionText(doc, '+07:00'), 'The journal keeps closed orders for 30 days; the oldest available is 22 Oct 2026.');
    assert.equal(retentionText(doc, '+00:00'), 'The journal keeps closed orders for 30 days; the oldest available is 21 Oct 2026.');
    assert.equal(retentionText({ retention_days: 30, oldest_available: null }, '+00:00'),
        'The journal keeps closed orders for 30 days; it has no order yet.', 'the bridge\'s null: no order at all');
    assert.equal(retentionText({ retention_days: 1 }, '+00:00'), 'The journal keeps closed orders for 1 day.');
    assert.equal(retentionText({}, '+00:00'), '');
    // Before what the journal can still have: older than retention_days before now (the bridge's clock).
    const now = Date.parse('2026-11-20T06:00:00Z');
    assert.equal(beforeRetention(doc, now), false);
    assert.equal(beforeRetention({ ...doc, from: '2026-10-21T06:00:00Z' }, now), false, 'exactly 30 days back');
    assert.equal(beforeRetention({ ...doc, from: '2026-10-21T05:59:59Z' }, now), true);
    assert.equal(beforeRetention({ ...doc, from: '2026-10-01T00:00:00Z', oldest_available: '2026-11-19T00:00:00Z' }, now), true,
        'whatever the oldest order is');
    assert.equal(beforeRetention({ ...doc, from: '2026-11-01T00:00:00Z', oldest_available: '2026-11-19T00:00:00Z' }, now), false,
        'a period before the first order ever is not a pruned one');
    assert.equal(beforeRetention(doc, undefined), false);
});

// The rows of a by=hour report for two tenants, as docs/ADMIN-API.md shows them.
const HOUR_ROWS = [
    { tenant: 'burger', key: '11', orders: 1, cancelled: 0, recalls: 0, late: 0, ticket: fig(1, 120, 120, 120, 120) },
    { tenant: 'pizza', key: '12', orders: 3, cancelled: 0, recalls: 0, late: 1, ticket: fig(2, 585, 240, 930, 930) },
    { tenant: 'pizza', key: '11', orders: 3, cancelled: 1, recalls: 1, late: 0, ticket: fig(2, 350, 300, 400, 400) },
    { tenant: 'pizza', key: '14', orders: 1, cancelled: 1, recalls: 0, late: 0, ticket: NONE },
];

test('hour series: every hour from the first to the last with orders, p50/p90 per tenant, orders summed', () => {
    const s = hourSeries(HOUR_ROWS, ['pizza', 'burger', 'noodle']);
    assert.deepEqual(s.hours, [11, 12, 13, 14], 'an hour without orders (13) is on the axis too');
    assert.deepEqual(s.tenants.map((t) => t.tenant), ['pizza', 'burger'], 'the outlet\'s order; a tenant without rows has no series');
    const [pizza, burger] = s.tenants;
    assert.deepEqual(pizza.p50, [300, 240, null, null], 'no ticket that hour: a gap, not a zero');
    assert.deepEqual(pizza.p90, [400, 930, null, null]);
    assert.deepEqual(pizza.orders, [3, 3, 0, 1]);
    assert.deepEqual(pizza.late, [0, 1, 0, 0]);
    assert.deepEqual(burger.p50, [120, null, null, null]);
    assert.deepEqual(s.orders, [4, 3, 0, 1]);
    assert.deepEqual(s.late, [0, 1, 0, 0]);

    assert.deepEqual(hourSeries([], []), { hours: [], tenants: [], orders: [], late: [] });
    assert.deepEqual(hourSeries(undefined).hours, []);
    // Rows of another grouping (days) are not hours.
    assert.deepEqual(hourSeries([{ tenant: 'pizza', key: '2026-11-20', orders: 1, ticket: NONE }]).hours, []);
    assert.deepEqual(hourSeries([{ tenant: 'pizza', key: '00', orders: 2, late: 0, ticket: fig(1, 60, 60, 60, 60) }]).hours, [0]);
});

test('station series: from the report\'s stations, else a by=station report\'s rows', () => {
    const doc = {
        by: 'station',
        stations: [
            { tenant: 'pizza', station: 'oven', ready: fig(4, 467.5, 300, 930, 930) },
            { tenant: 'pizza', station: 'cold', ready: fig(1, 240, 240, 240, 240) },
            { tenant: 'pizza', station: 'bar', ready: NONE },
        ],
        rows: [],
    };
    const s = stationSeries(doc, ['pizza']);
    assert.deepEqual(s.labels, ['oven', 'cold', 'bar']);
    assert.deepEqual(s.p50, [300, 240, null]);
    assert.deepEqual(s.p90, [930, 240, null]);
    assert.deepEqual(s.count, [4, 1, 0]);
    assert.deepEqual(stationSeries(doc, ['pizza'], { withTenant: true }).labels, ['pizza · oven', 'pizza · cold', 'pizza · bar']);

    // Only rows (key = the station), with `ready` figures or, failing that, `ticket`.
    const rows = { by: 'station', rows: [
        { tenant: 'noodle', key: 'wok', orders: 2, ready: fig(2, 100, 90, 110, 110) },
        { tenant: 'pizza', key: 'oven', orders: 4, ticket: fig(4, 467.5, 300, 930, 930) },
    ] };
    const r = stationSeries(rows, ['pizza', 'noodle']);
    assert.deepEqual(r.labels, ['pizza · oven', 'noodle · wok'], 'two tenants: each label names its tenant, in the outlet\'s order');
    assert.deepEqual(r.p50, [300, 90]);
    assert.deepEqual(stationSeries({ by: 'hour', rows: HOUR_ROWS }).labels, [], 'hour rows are not stations');
    assert.deepEqual(stationSeries(null).labels, []);
});

test('the totals table: a line per tenant, and one for them all without percentiles', () => {
    const totals = [
        { tenant: 'burger', late_after_s: 600, orders: 1, cancelled: 0, recalls: 0, late: 0, ticket: fig(1, 120, 120, 120, 120) },
        { tenant: 'pizza', late_after_s: 600, orders: 7, cancelled: 2, recalls: 1, late: 1, ticket: fig(4, 467.5, 300, 930, 930) },
        { tenant: 'noodle', late_after_s: 900, orders: 0, cancelled: 0, recalls: 0, late: 0, ticket: NONE },
    ];
    const t = totalsTable(totals, ['pizza', 'burger', 'noodle']);
    assert.deepEqual(t.map((l) => l.tenant), ['pizza', 'burger', 'noodle', '*']);
    assert.deepEqual(t[0], { tenant: 'pizza', orders: 7, cancelled: 2, recalls: 1, late: 1, late_after_s: 600, count: 4, avg_s: 467.5, p50_s: 300,
        p90_s: 930, max_s: 930 });
    assert.equal(t[2].avg_s, null);
    const all = t[3];
    assert.deepEqual([all.orders, all.cancelled, all.recalls, all.late, all.count], [8, 2, 1, 1, 5]);
    assert.equal(all.avg_s, (467.5 * 4 + 120) / 5, 'weighted by tickets');
    assert.equal(all.max_s, 930);
    assert.equal(all.p50_s, null);
    assert.equal(all.p90_s, null);
    assert.equal(totalsTable([totals[1]]).length, 1, 'one tenant: no line for all');
    assert.deepEqual(totalsTable(undefined), []);
});

test('the slowest table: longest first, late over the tenant\'s late_after', () => {
    const slowest = [
        { tenant: 'pizza', order_number: 'A-1', created_at: '2026-11-20T04:00:00.000Z', ready_at: '2026-11-20T04:06:40.000Z', ticket_s: 400 },
        { tenant: 'pizza', order_number: 'A-4', created_at: '2026-11-20T05:05:00.000Z', ready_at: '2026-11-20T05:20:30.000Z', ticket_s: 930 },
        { tenant: 'burger', order_number: 'B-1', created_at: '2026-11-20T04:30:00.000Z', ready_at: '2026-11-20T04:32:00.000Z', ticket_s: 120 },
        { tenant: 'noodle', order_number: 'N-1', ticket_s: 700 },
    ];
    const totals = [{ tenant: 'pizza', late_after_s: 600 }, { tenant: 'burger', late_after_s: 60 }, { tenant: 'noodle', late_after_s: 900 }];
    const t = slowestTable(slowest, totals);
    assert.deepEqual(t.map((s) => [s.rank, s.order_number, s.late]), [[1, 'A-4', true], [2, 'N-1', false], [3, 'A-1', false], [4, 'B-1', true]]);
    assert.equal(t[0].created_at, slowest[1].created_at);
    assert.deepEqual(slowestTable(slowest).map((s) => s.late), [false, false, false, false], 'no totals: no limit known');
    assert.deepEqual(slowestTable(undefined), []);
});

test('the view\'s address fragment', () => {
    const h = reportsHash({ from: '2026-11-20', to: '2026-11-21', tenant: 'pizza' });
    assert.equal(h, '#reports?from=2026-11-20&to=2026-11-21&tenant=pizza');
    assert.deepEqual(parseReportsHash(h), { from: '2026-11-20', to: '2026-11-21', tenant: 'pizza' });
    assert.deepEqual(parseReportsHash(reportsHash({ tenant: '*' })), { from: null, to: null, tenant: '*' });
    assert.equal(reportsHash({}), '#reports');
    assert.deepEqual(parseReportsHash('#reports'), { from: null, to: null, tenant: null });
    assert.deepEqual(parseReportsHash('#reports?from=2026-13-01'), { from: null, to: null, tenant: null }, 'not a day');
    assert.equal(parseReportsHash('#devices'), null);
    assert.equal(parseReportsHash(''), null);
});

test('reports-view.mjs is pure: it imports nothing and uses no browser I/O or clock', () => {
    const code = stripComments(readFileSync(path.join(PUBLIC, 'js/reports-view.mjs'), 'utf8')).replace(/(['"`])(?:\\.|(?!\1).)*\1/g, '""');
    assert.doesNotMatch(code, /\bimport\b/);
    const m = /\b(indexedDB|localStorage|sessionStorage|navigator|document|window|location|fetch|XMLHttpRequest|WebSocket|setTimeout|setInterval|console|Date\.now)\b|new Date\(\)/.exec(code);
    assert.equal(m, null, `reports-view.mjs uses ${m?.[0]}`);
});

test('uPlot is a pinned dependency, vendored by the web build, loaded by the Reports view and /admin', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    assert.match(pkg.dependencies.uplot, /^\d+\.\d+\.\d+$/, 'an exact version (npm install --save-exact)');
    const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
    assert.equal(lock.packages['node_modules/uplot']?.version, pkg.dependencies.uplot, 'package-lock.json agrees');
    const build = readFileSync(path.join(ROOT, 'web-adapter/build.mjs'), 'utf8');
    assert.match(build, /uPlot\.esm\.js/);
    assert.match(build, /uPlot\.min\.css/);
    assert.match(readFileSync(path.join(PUBLIC, 'js/admin-reports.mjs'), 'utf8'), /from '\.\.\/vendor\/uPlot\.esm\.js'/);
    assert.match(readFileSync(path.join(PUBLIC, 'admin.html'), 'utf8'), /href="\/vendor\/uPlot\.min\.css"/);
});
