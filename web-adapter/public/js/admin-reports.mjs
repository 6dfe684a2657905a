// The Reports view of /admin (issue 16, speed of service): a period of whole
// days in the browser's time zone (sent as `tz`, its UTC offset), a tenant
// or all of them, and what GET /api/reports (docs/ADMIN-API.md "Reports")
// says of it: the totals per tenant, ticket time (p50, p90) and orders by
// hour, the stations' prep times, the 20 slowest tickets, a CSV of the same
// query, and how far back the journal goes.
//
// One request per report, by=hour: its rows are the hours, and the totals,
// the stations' figures, the slowest tickets and the retention come with
// it (a bridge whose answer has no `stations` is asked again by=station,
// the grouping docs/ADMIN-API.md names for them). Charts are
// drawn by the vendored uPlot (vendor/uPlot.esm.js, copied from npm by
// web-adapter/build.mjs); the pure logic (query, series, texts) is
// js/reports-view.mjs. The API calls go through the hub's own `call` (its
// 401 ends the session for the whole page). "Today" is the bridge's day
// (kb/clock.mjs), as every time on these pages.
import uPlot from '../vendor/uPlot.esm.js';
import { bridgeNow } from '../kb/clock.mjs';
import { $, el } from './common.mjs';
import {
    addDays, beforeRetention, browserTz, csvFileName, csvUrl, dayAt, dayCount, dayRange, formatDay, formatSeconds, formatTimeAt,
    hourLabel, hourSeries, minutesLabel, parseReportsHash, rangeProblem, reportUrl, reportsHash, retentionText, slowestTable,
    stationSeries, totalsTable,
} from './reports-view.mjs';

const PALETTE = ['#4fa3ff', '#f5a524', '#2fbf71', '#a78bfa', '#f472b6', '#22d3ee', '#ef4444', '#e5e7eb'];
const CHART_HEIGHT = 240;

/**
 * Mounts the view on #reports. `call(path)` is the hub's API call; `hooks`
 * the page's test and support hooks (window.__kb), given `reports`.
 * Returns {setOutlet(outlet), open(fromHash), close()}.
 */
export function mountReports({ call, hooks = {} }) {
    const root = $('#reports');
    const form = $('#report-form', root);
    const status = $('#report-status', root);
    const error = $('#report-error', root);
    const csv = $('#report-csv', root);
    let outlet = null;
    let opened = false;
    let token = 0;
    let charts = [];
    let shown = null;          // {query, hour, station, tz, fromDay, toDay}

    const info = hooks.reports = {
        state: 'idle', loads: 0, error: null,
        /** The query of the report on screen: {tenant, from, to, tz, fromDay, toDay}. */
        query: () => (shown ? { ...shown.query, fromDay: shown.fromDay, toDay: shown.toDay } : null),
        /** The documents it was drawn from: {hour, station}. */
        docs: () => (shown ? { hour: shown.hour, station: shown.station } : null),
        /** The charts drawn: [{id, series: [labels], points}]. */
        charts: () => charts.map((c) => ({ id: c.id, series: c.u.series.slice(1).map((s) => s.label), points: c.u.data[0].length })),
    };

    const tenantIds = () => (outlet?.tenants || []).map((t) => t.id);
    const tenantName = (id) => (id === '*' ? 'All tenants' : outlet?.tenants?.find((t) => t.id === id)?.name || id);
    const todayTz = () => browserTz(new Date(bridgeNow()));
    const today = () => dayAt(bridgeNow(), todayTz());

    function fillTenants() {
        const sel = form.tenant;
        const keep = sel.value || '*';
        sel.replaceChildren(el('option', { value: '*', text: 'All tenants' }),
            ...(outlet?.tenants || []).map((t) => el('option', { value: t.id, text: t.name || t.id })));
        sel.value = [...sel.options].some((o) => o.value === keep) ? keep : '*';
    }

    function setRange(fromDay, toDay) {
        form.from.value = fromDay;
        form.to.value = toDay;
    }

    function quick(kind) {
        const t = today();
        if (kind === 'today') setRange(t, t);
        else if (kind === 'yesterday') setRange(addDays(t, -1), addDays(t, -1));
        else if (kind === '7d') setRange(addDays(t, -6), t);
        else if (kind === '30d') setRange(addDays(t, -29), t);
        load();
    }

    /** Runs the report the form asks for. */
    async function load() {
        const fromDay = form.from.value, toDay = form.to.value, tenant = form.tenant.value || '*';
        const problem = rangeProblem(fromDay, toDay);
        error.textContent = problem || '';
        if (problem) return;
        // The offset at the first day (a zone that changes its offset within the period cuts the rest an hour off).
        const tz = browserTz(new Date(`${fromDay}T12:00:00`));
        const range = dayRange(fromDay, toDay, tz);
        const query = { tenant, from: range.from, to: range.to, tz };
        const mine = ++token;
        info.state = 'loading';
        info.error = null;
        root.setAttribute('aria-busy', 'true');
        status.textContent = `Reading ${tenantName(tenant)}, ${periodText(fromDay, toDay)}…`;
        history.replaceState(null, '', reportsHash({ from: fromDay, to: toDay, tenant }));
        try {
            const hour = await call(reportUrl({ ...query, by: 'hour' }));
            if (mine !== token) return;
            const station = Array.isArray(hour.stations) ? hour : await call(reportUrl({ ...query, by: 'station' }));
            if (mine !== token) return;
            shown = { query, hour, station, tz, fromDay, toDay };
            render();
            status.textContent = `${tenantName(tenant)}, ${periodText(fromDay, toDay)} (times at UTC${tz}).`;
            info.state = 'ready';
        } catch (e) {
            if (mine !== token) return;
            info.state = 'error';
            info.error = { status: e.status, code: e.code, message: e.message };
            status.textContent = '';
            if (!e.handled) error.textContent = failText(e);
        } finally {
            if (mine === token) {
                root.removeAttribute('aria-busy');
                info.loads++;
            }
        }
    }

    function failText(e) {
        if (e.status === 404) return 'This bridge has no reports (GET /api/reports answered 404): it needs a newer version of Kitchen Bus.';
        if (e.status === 503) return 'The bridge is busy with other reports right now. Try again in a moment.';
        if (e.status === 400) return `The bridge refused this report: ${e.message}`;
        return `Cannot read the report: ${e.message}`;
    }

    // ---- rendering -----------------------------------------------------------------
    function render() {
        const { hour, station, query, fromDay, toDay, tz } = shown;
        const order = tenantIds();
        const many = query.tenant === '*';

        // The CSV of what is on screen.
        csv.href = csvUrl({ ...query, by: 'hour' });
        csv.setAttribute('download', csvFileName(query.tenant, fromDay, toDay));
        csv.hidden = false;

        $('#report-retention', root).textContent = retentionText(hour, tz);
        const old = $('#report-old', root);
        old.hidden = !beforeRetention(hour, bridgeNow());
        old.textContent = old.hidden ? '' : `Part of this period is older than the journal keeps (${hour.retention_days} days): `
            + `closed orders from before ${formatDay(dayAt(bridgeNow() - hour.retention_days * 86400000, tz))} are no longer there.`;

        renderTotals(hour, order, many);
        destroyCharts();
        const hs = hourSeries(hour.rows, order);
        const none = !hs.hours.length;
        $('#report-empty', root).hidden = !none;
        $('#report-empty', root).textContent = none ? `No orders for ${tenantName(query.tenant)} ${periodText(fromDay, toDay)}.` : '';
        if (!none) {
            ticketChart(hs, many, lateLimit(hour.totals));
            ordersChart(hs);
        } else {
            for (const id of ['chart-ticket', 'chart-orders']) $(`#${id}`, root).replaceChildren(el('p', { class: 'muted chart-none', text: 'No orders.' }));
        }
        stationsChart(stationSeries(station, order, { withTenant: many }), query.tenant);
        renderSlowest(hour, many, fromDay !== toDay);
    }

    function renderTotals(doc, order, many) {
        const lines = totalsTable(doc.totals, order);
        const cell = (k, v, text = v == null ? '—' : String(v), cls = 'num') => el('td', { class: cls, dataset: { k, value: v ?? '' }, text });
        const time = (k, v) => cell(k, v, formatSeconds(v));
        $('#report-totals tbody', root).replaceChildren(...(lines.length ? lines.map((l) => el('tr', { dataset: { tenant: l.tenant }, class: l.tenant === '*' ? 'sum' : null },
            el('th', { scope: 'row', text: l.tenant === '*' ? 'All tenants' : tenantName(l.tenant) }),
            cell('orders', l.orders), cell('cancelled', l.cancelled), cell('recalls', l.recalls),
            cell('late', l.late, String(l.late), `num${l.late ? ' late' : ''}`),
            time('avg', l.avg_s), time('p50', l.p50_s), time('p90', l.p90_s), time('max', l.max_s)))
            : [el('tr', {}, el('td', { colspan: '9', class: 'muted', text: 'No tenant in this report.' }))]));
        const limits = lines.filter((l) => l.tenant !== '*' && l.late_after_s != null);
        const same = limits.length && limits.every((l) => l.late_after_s === limits[0].late_after_s);
        $('#report-late-note', root).textContent = !limits.length ? ''
            : `Ticket: created → first ready. Late: a ticket over ${same ? formatSeconds(limits[0].late_after_s)
                : limits.map((l) => `${formatSeconds(l.late_after_s)} (${tenantName(l.tenant)})`).join(', ')}.`
              + (many && lines.length > 2 ? ' The tenants’ percentiles cannot be added up, so the “All tenants” line has none.' : '');
    }

    function renderSlowest(doc, many, withDay) {
        const rows = slowestTable(doc.slowest, doc.totals);
        $('#report-slowest thead tr', root).replaceChildren(...['#', 'Order', ...(many ? ['Tenant'] : []), 'Created', 'Ready', 'Ticket']
            .map((h) => el('th', { scope: 'col', text: h })));
        $('#report-slowest tbody', root).replaceChildren(...(rows.length ? rows.map((s) => el('tr', { dataset: { order: s.order_number, tenant: s.tenant }, class: s.late ? 'late' : null },
            el('td', { class: 'num rank', text: String(s.rank) }),
            el('td', { class: 'order' }, el('b', { text: s.order_number }), s.late ? el('span', { class: 'chip late-chip', text: 'late' }) : null),
            ...(many ? [el('td', { text: tenantName(s.tenant) })] : []),
            el('td', { class: 'time', title: s.created_at || '', text: formatTimeAt(s.created_at, shown.tz, withDay) }),
            el('td', { class: 'time', title: s.ready_at || '', text: formatTimeAt(s.ready_at, shown.tz, withDay) }),
            el('td', { class: 'num tkt', dataset: { value: s.ticket_s ?? '' }, text: formatSeconds(s.ticket_s) })))
            : [el('tr', {}, el('td', { colspan: many ? '6' : '5', class: 'muted', text: 'No ticket was ready in this period.' }))]));
    }

    // ---- charts (uPlot) -----------------------------------------------------------------
    function colors() {
        const css = getComputedStyle(document.documentElement);
        const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
        const px = parseFloat(css.fontSize) || 16;
        return {
            fg: v('--fg', '#f4f6f8'), muted: v('--muted', '#a9b4c0'), line: v('--line', '#38424e'), accent: v('--accent', '#4fa3ff'),
            amber: v('--amber', '#f5a524'), red: v('--red', '#ef4444'), font: `${Math.round(px * 0.8)}px system-ui, "DejaVu Sans", sans-serif`,
        };
    }

    function axis(c, extra = {}) {
        return { stroke: c.muted, font: c.font, grid: { stroke: c.line, width: 1 }, ticks: { stroke: c.line, width: 1, size: 4 }, ...extra };
    }

    /** A y scale from 0 to a little over the highest value (at least `min`). */
    const fromZero = (min) => (u, lo, hi) => [0, Math.max(min, (Number.isFinite(hi) ? hi : 0) * 1.15)];

    function draw(id, opts, data) {
        const holder = $(`#${id}`, root);
        holder.replaceChildren();
        const width = Math.max(240, holder.clientWidth || 480);
        const u = new uPlot({ width, height: CHART_HEIGHT, cursor: { drag: { x: false, y: false } }, ...opts }, data, holder);
        const ro = new ResizeObserver(() => {
            const w = Math.max(240, holder.clientWidth);
            if (w && Math.abs(w - u.width) > 1) u.setSize({ width: w, height: CHART_HEIGHT });
        });
        ro.observe(holder);
        charts.push({ id, u, ro });
        holder.dataset.drawn = 'true';
        return u;
    }

    function destroyCharts() {
        for (const c of charts) {
            c.ro.disconnect();
            c.u.destroy();
            $(`#${c.id}`, root).dataset.drawn = 'false';
        }
        charts = [];
    }

    const hourAxis = (c, hours) => axis(c, { values: (u, splits) => splits.map((v) => hourLabel(v)), incrs: [1, 2, 3, 4, 6, 12], space: 46 });
    const hourRange = (hours) => () => [hours[0] - 0.5, hours[hours.length - 1] + 0.5];
    const hourSeriesX = { label: 'Hour', value: (u, v) => (v == null ? '—' : `${hourLabel(v)}–${hourLabel((v + 1) % 24)}`) };

    /** The late limit (seconds) when every tenant of the report has the same one, else null. */
    function lateLimit(totals) {
        const limits = [...new Set((totals || []).map((t) => t.late_after_s).filter((v) => v != null))];
        return limits.length === 1 ? limits[0] : null;
    }

    /** A plugin drawing the late limit across a chart of minutes: a dashed red line, labelled. */
    function limitLine(limitS, c) {
        return {
            hooks: {
                draw: [(u) => {
                    const y = Math.round(u.valToPos(limitS / 60, 'y', true));
                    const { left, width } = u.bbox;
                    const ctx = u.ctx;
                    ctx.save();
                    ctx.strokeStyle = c.red;
                    ctx.lineWidth = Math.max(1, devicePixelRatio);
                    ctx.setLineDash([4 * devicePixelRatio, 4 * devicePixelRatio]);
                    ctx.beginPath();
                    ctx.moveTo(left, y);
                    ctx.lineTo(left + width, y);
                    ctx.stroke();
                    ctx.setLineDash([]);
                    ctx.fillStyle = c.red;
                    ctx.font = c.font.replace(/^(\d+)px/, (m, n) => `${Math.round(n * devicePixelRatio)}px`);
                    ctx.textAlign = 'right';
                    ctx.textBaseline = 'bottom';
                    ctx.fillText(`late: over ${formatSeconds(limitS)}`, left + width - 4 * devicePixelRatio, y - 3 * devicePixelRatio);
                    ctx.restore();
                }],
            },
        };
    }

    function ticketChart(hs, many, limitS) {
        const c = colors();
        const one = hs.tenants.length === 1 && !many;
        const series = [hourSeriesX];
        const data = [hs.hours];
        hs.tenants.forEach((t, i) => {
            const color = one ? null : PALETTE[i % PALETTE.length];
            const name = one ? '' : `${tenantName(t.tenant)} `;
            for (const [k, dash] of [['p50', null], ['p90', [7, 5]]]) {
                const stroke = color || (k === 'p50' ? c.accent : c.amber);
                series.push({
                    label: `${name}${k}`, stroke, width: 2.5, dash: dash || undefined, spanGaps: false,
                    points: { show: true, size: 7, fill: stroke, stroke },
                    value: (u, v) => (v == null ? '—' : formatSeconds(v * 60)),
                });
                data.push(t[k].map((s) => (s == null ? null : s / 60)));
            }
        });
        draw('chart-ticket', {
            scales: { x: { time: false, range: hourRange(hs.hours) }, y: { range: fromZero(limitS ? (limitS / 60) * 1.15 : 1) } },
            plugins: limitS ? [limitLine(limitS, c)] : [],
            axes: [hourAxis(c, hs.hours), axis(c, { values: (u, splits) => splits.map(minutesLabel), size: 62 })],
            series,
        }, data);
    }

    function ordersChart(hs) {
        const c = colors();
        const bars = (size) => uPlot.paths.bars({ size, gap: 2 });
        draw('chart-orders', {
            scales: { x: { time: false, range: hourRange(hs.hours) }, y: { range: fromZero(2) } },
            axes: [hourAxis(c, hs.hours), axis(c, { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], values: (u, s) => s.map(String), size: 46 })],
            series: [
                hourSeriesX,
                { label: 'Orders', stroke: c.accent, fill: `${c.accent}bb`, width: 1, paths: bars([0.7, 56]), points: { show: false } },
                { label: 'Late', stroke: c.red, fill: c.red, width: 1, paths: bars([0.32, 24]), points: { show: false } },
            ],
        }, [hs.hours, hs.orders, hs.late.map((n) => n || null)]);
    }

    function stationsChart(ss, tenant) {
        const holder = $('#chart-stations', root);
        if (!ss.labels.length) {
            const t = outlet?.tenants?.find((x) => x.id === tenant);
            holder.replaceChildren(el('p', { class: 'muted chart-none', text: tenant !== '*' && t && !(t.stations || []).length
                ? `${tenantName(tenant)} has no stations: one kitchen screen makes every item.`
                : tenant === '*' && !(outlet?.tenants || []).some((x) => (x.stations || []).length) ? 'No tenant lists stations.'
                    : 'No station had a part ready in this period.' }));
            return;
        }
        const c = colors();
        const idx = ss.labels.map((_, i) => i);
        const bars = (size) => uPlot.paths.bars({ size, gap: 2 });
        const value = (u, v) => (v == null ? '—' : formatSeconds(v * 60));
        draw('chart-stations', {
            scales: { x: { time: false, range: () => [-0.5, idx.length - 0.5] }, y: { range: fromZero(1) } },
            axes: [
                // Each station with how many of its parts were ready (the figures' count).
                axis(c, { splits: () => idx, values: (u, splits) => splits.map((i) => (ss.labels[i] == null ? '' : `${ss.labels[i]} (${ss.count[i]})`)),
                    grid: { show: false } }),
                axis(c, { values: (u, splits) => splits.map(minutesLabel), size: 62 }),
            ],
            series: [
                { label: 'Station', value: (u, v) => (v == null ? '—' : `${ss.labels[v] ?? ''} (${ss.count[v] ?? 0} ready)`) },
                { label: 'p90', stroke: c.amber, fill: `${c.amber}cc`, width: 1, paths: bars([0.6, 72]), points: { show: false }, value },
                { label: 'p50', stroke: c.accent, fill: c.accent, width: 1, paths: bars([0.3, 36]), points: { show: false }, value },
            ],
        }, [idx, ss.p90.map((s) => (s == null ? null : s / 60)), ss.p50.map((s) => (s == null ? null : s / 60))]);
    }

    function periodText(fromDay, toDay) {
        if (fromDay === toDay) return fromDay === today() ? `today (${formatDay(fromDay)})` : formatDay(fromDay);
        return `${formatDay(fromDay)} to ${formatDay(toDay)} (${dayCount(fromDay, toDay)} days)`;
    }

    // ---- wiring ----------------------------------------------------------------------------
    form.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
    form.tenant.addEventListener('change', () => load());
    for (const k of ['from', 'to']) form[k].addEventListener('input', () => { error.textContent = ''; });
    for (const b of root.querySelectorAll('[data-range]')) b.addEventListener('click', () => quick(b.dataset.range));

    return {
        setOutlet(doc) {
            outlet = doc;
            fillTenants();
        },
        /** The view is shown: the first time (or with a report in the address), run it. */
        open(fromHash = null) {
            const h = fromHash || {};
            const first = !opened;
            opened = true;
            if (first && !h.from) setRange(today(), today());
            if (h.from) setRange(h.from, h.to || h.from);
            if (h.tenant && [...form.tenant.options].some((o) => o.value === h.tenant)) form.tenant.value = h.tenant;
            if (first || h.from || h.tenant) {
                load();
                return;
            }
            // Back to a report drawn while the view was hidden: size its charts to the view.
            for (const c of charts) c.u.setSize({ width: Math.max(240, $(`#${c.id}`, root).clientWidth), height: CHART_HEIGHT });
        },
        close() { /* nothing runs in the background */ },
        parseHash: parseReportsHash,
    };
}
