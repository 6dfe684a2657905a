// The Reports view's pure logic (/admin, issue 16): the query of GET
// /api/reports (docs/ADMIN-API.md "Reports"), days cut at the browser's UTC
// offset, the chart series made from the API's rows, and the texts the view
// shows (durations, times of day, the retention note). No I/O (no DOM,
// storage, network or clock: "now" and the offset are passed in), so
// tests/unit-js/reports_view.test.mjs runs it in plain Node.

const DAY_MS = 86400000;
const pad2 = (n) => String(n).padStart(2, '0');

/** Minutes east of UTC -> the API's `tz`: 420 -> "+07:00", -210 -> "-03:30", 0 -> "+00:00". */
export function formatTzOffset(minutesEast) {
    const m = Math.round(Number(minutesEast) || 0);
    const a = Math.abs(m);
    return `${m < 0 ? '-' : '+'}${pad2(Math.floor(a / 60))}:${pad2(a % 60)}`;
}

/** The offset of the browser's time zone at `date` (a Date), as the API's `tz`. */
export function browserTz(date) {
    return formatTzOffset(-date.getTimezoneOffset());
}

/** "+07:00" / "-03:30" / "Z" -> minutes east of UTC, or null when it is not an offset. */
export function parseTzOffset(tz) {
    if (tz === 'Z' || tz === 'z') return 0;
    const m = /^([+-])(\d{2}):(\d{2})$/.exec(String(tz ?? ''));
    if (!m || Number(m[2]) > 23 || Number(m[3]) > 59) return null;
    return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

/** True for a calendar day "YYYY-MM-DD" that exists. */
export function isDay(day) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(day ?? ''));
    if (!m) return false;
    const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    return new Date(t).toISOString().slice(0, 10) === day;
}

/** The day ("YYYY-MM-DD") that `ms` (since 1970) falls on at offset `tz`. */
export function dayAt(ms, tz) {
    return new Date(ms + (parseTzOffset(tz) ?? 0) * 60000).toISOString().slice(0, 10);
}

/** `day` moved by `n` days. */
export function addDays(day, n) {
    return new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
}

/**
 * The period of the days `fromDay` to `toDay` (both included) at offset
 * `tz`: {from, to} as the UTC ISO times the API takes ("…Z"), `to` being the
 * midnight after `toDay`. Null when a day is not one, or `toDay` is before
 * `fromDay`.
 */
export function dayRange(fromDay, toDay, tz) {
    const off = parseTzOffset(tz);
    if (off === null || !isDay(fromDay) || !isDay(toDay) || toDay < fromDay) return null;
    const at = (day) => new Date(Date.parse(`${day}T00:00:00Z`) - off * 60000).toISOString();
    return { from: at(fromDay), to: at(addDays(toDay, 1)) };
}

/** How many days the period from `fromDay` to `toDay` (included) has. */
export const dayCount = (fromDay, toDay) => Math.round((Date.parse(toDay) - Date.parse(fromDay)) / DAY_MS) + 1;

/** The most days one report may cover (docs/ADMIN-API.md: "longer than 366 days" is refused). */
export const MAX_DAYS = 366;

/** Why the form's period cannot be asked for, or null when it can. */
export function rangeProblem(fromDay, toDay) {
    if (!isDay(fromDay)) return 'Choose the first day of the report.';
    if (!isDay(toDay)) return 'Choose the last day of the report.';
    if (toDay < fromDay) return 'The last day is before the first day.';
    if (dayCount(fromDay, toDay) > MAX_DAYS) return `A report covers at most ${MAX_DAYS} days.`;
    return null;
}

/**
 * The address of a report: GET /api/reports with tenant (an id, or "*"),
 * from, to (ISO), by (hour | day | station), tz (±HH:MM) and, for the CSV,
 * format=csv. URLSearchParams writes "+" as %2B, so "+07:00" stays an offset.
 */
export function reportUrl({ tenant = '*', from, to, by = 'hour', tz, format } = {}) {
    const q = new URLSearchParams({ tenant: tenant || '*', from, to, by });
    if (tz) q.set('tz', tz);
    if (format) q.set('format', format);
    return `/api/reports?${q}`;
}

/** The same report as CSV (the "Download CSV" link). */
export const csvUrl = (query) => reportUrl({ ...query, format: 'csv' });

/** The file name the CSV is saved under: "kitchen-bus-report-pizza-2026-11-20.csv" (or "…-2026-11-01-to-2026-11-30.csv"). */
export function csvFileName(tenant, fromDay, toDay) {
    const who = !tenant || tenant === '*' ? 'all' : tenant;
    return `kitchen-bus-report-${who}-${fromDay}${toDay && toDay !== fromDay ? `-to-${toDay}` : ''}.csv`;
}

/**
 * Seconds for a person: 45 -> "45 s", 400 -> "6 min 40 s", 600 -> "10 min",
 * 3900 -> "1 h 05 min"; rounded to the second; null (no figure) -> "—".
 */
export function formatSeconds(seconds) {
    if (seconds == null || seconds === '' || !Number.isFinite(Number(seconds))) return '—';
    const s = Math.max(0, Math.round(Number(seconds)));
    if (s < 60) return `${s} s`;
    if (s < 3600) return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
    const m = Math.round(s / 60);
    return `${Math.floor(m / 60)} h ${pad2(m % 60)} min`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "2026-10-04" -> "4 Oct 2026". */
export function formatDay(day) {
    if (!isDay(day)) return String(day ?? '—');
    const [y, m, d] = day.split('-').map(Number);
    return `${d} ${MONTHS[m - 1]} ${y}`;
}

/** The time of day of `iso` at offset `tz`: "12:05:07"; with `withDay`, "20 Nov 12:05:07". "—" when it is no time. */
export function formatTimeAt(iso, tz, withDay = false) {
    const t = Date.parse(iso ?? '');
    if (!Number.isFinite(t)) return '—';
    const local = new Date(t + (parseTzOffset(tz) ?? 0) * 60000).toISOString();
    const time = local.slice(11, 19);
    if (!withDay) return time;
    const [, m, d] = local.slice(0, 10).split('-').map(Number);
    return `${d} ${MONTHS[m - 1]} ${time}`;
}

/**
 * The retention note: "The journal keeps closed orders for 30 days; the
 * oldest available is 4 Oct 2026." `oldest_available` is the creation of
 * the oldest order the journal still has (null: none yet).
 */
export function retentionText(doc, tz) {
    const days = Number(doc?.retention_days);
    const t = Date.parse(doc?.oldest_available ?? '');
    if (!Number.isFinite(days) && !Number.isFinite(t)) return '';
    const keeps = Number.isFinite(days) ? `The journal keeps closed orders for ${days} day${days === 1 ? '' : 's'}` : 'The journal keeps closed orders for a while';
    if (Number.isFinite(t)) return `${keeps}; the oldest available is ${formatDay(dayAt(t, tz))}.`;
    return doc && 'oldest_available' in doc ? `${keeps}; it has no order yet.` : `${keeps}.`;
}

/**
 * True when the period asked for starts before what the journal can still
 * have at `nowMs` (the bridge's clock): closed orders older than
 * retention_days are gone, so the report cannot see that far back.
 */
export function beforeRetention(doc, nowMs) {
    const days = Number(doc?.retention_days);
    const from = Date.parse(doc?.from ?? '');
    return Number.isFinite(days) && Number.isFinite(from) && Number.isFinite(nowMs) && from < nowMs - days * DAY_MS;
}

/** The tenants a report names, in the order of `order` (the outlet's tenant ids), then any others. */
function tenantsOf(list, order = []) {
    const seen = [...new Set((list || []).map((r) => r.tenant))];
    return [...order.filter((t) => seen.includes(t)), ...seen.filter((t) => !order.includes(t))];
}

/** Hours "00"–"23" -> numbers, anything else -> null. */
function hourOf(key) {
    const h = /^\d{1,2}$/.test(String(key ?? '')) ? Number(key) : NaN;
    return h >= 0 && h <= 23 ? h : null;
}

/**
 * A by=hour report's rows as chart data: every hour from the first to the
 * last that had orders (x, numbers 0–23), and per tenant (in the outlet's
 * order) the ticket p50 and p90 in seconds (null: no ticket that hour), its
 * orders and late orders; `orders` and `late` also summed over the tenants.
 * {hours, tenants: [{tenant, p50, p90, orders, late}], orders, late}.
 */
export function hourSeries(rows, tenantOrder = []) {
    const valid = (rows || []).filter((r) => hourOf(r.key) !== null);
    if (!valid.length) return { hours: [], tenants: [], orders: [], late: [] };
    const hs = valid.map((r) => hourOf(r.key));
    const first = Math.min(...hs), last = Math.max(...hs);
    const hours = Array.from({ length: last - first + 1 }, (_, i) => first + i);
    const tenants = tenantsOf(valid, tenantOrder).map((tenant) => {
        const s = { tenant, p50: hours.map(() => null), p90: hours.map(() => null), orders: hours.map(() => 0), late: hours.map(() => 0) };
        for (const r of valid.filter((x) => x.tenant === tenant)) {
            const i = hourOf(r.key) - first;
            const t = r.ticket || {};
            s.p50[i] = t.count ? t.p50_s ?? null : null;
            s.p90[i] = t.count ? t.p90_s ?? null : null;
            s.orders[i] += Number(r.orders) || 0;
            s.late[i] += Number(r.late) || 0;
        }
        return s;
    });
    const sum = (k) => hours.map((_, i) => tenants.reduce((a, t) => a + t[k][i], 0));
    return { hours, tenants, orders: sum('orders'), late: sum('late') };
}

/**
 * The stations' prep times (created → the station's part first ready) as
 * chart data: one entry per tenant's station, in the outlet's tenant order.
 * From the report's `stations` ([{tenant, station, ready}]) when it has them,
 * else from a by=station report's rows ({tenant, key, ready | ticket}).
 * {labels, p50, p90, count, stations: [{tenant, station}]}; a station
 * without a ready part has null figures.
 */
export function stationSeries(doc, tenantOrder = [], { withTenant } = {}) {
    let list = Array.isArray(doc?.stations) && doc.stations.length ? doc.stations.map((s) => ({ tenant: s.tenant, station: s.station, fig: s.ready }))
        : (doc?.by === 'station' && Array.isArray(doc?.rows) ? doc.rows.map((r) => ({ tenant: r.tenant, station: r.key, fig: r.ready || r.ticket })) : []);
    list = list.filter((s) => s.station != null);
    const order = tenantsOf(list, tenantOrder);
    list.sort((a, b) => order.indexOf(a.tenant) - order.indexOf(b.tenant));
    const named = withTenant ?? order.length > 1;
    const fig = (s, k) => (s.fig?.count ? s.fig[k] ?? null : null);
    return {
        labels: list.map((s) => (named ? `${s.tenant} · ${s.station}` : String(s.station))),
        p50: list.map((s) => fig(s, 'p50_s')),
        p90: list.map((s) => fig(s, 'p90_s')),
        count: list.map((s) => Number(s.fig?.count) || 0),
        stations: list.map((s) => ({ tenant: s.tenant, station: s.station })),
    };
}

/**
 * The totals table: one line per tenant (outlet order) and, for more than
 * one, a line for them all: counts summed, the average weighted by tickets,
 * the longest ticket; p50 and p90 of several tenants cannot be added up, so
 * that line has none.
 */
export function totalsTable(totals, tenantOrder = []) {
    const order = tenantsOf(totals, tenantOrder);
    const lines = [...(totals || [])].sort((a, b) => order.indexOf(a.tenant) - order.indexOf(b.tenant)).map((t) => ({
        tenant: t.tenant, orders: t.orders ?? 0, cancelled: t.cancelled ?? 0, recalls: t.recalls ?? 0, late: t.late ?? 0,
        late_after_s: t.late_after_s ?? null,
        count: t.ticket?.count ?? 0, avg_s: t.ticket?.avg_s ?? null, p50_s: t.ticket?.p50_s ?? null, p90_s: t.ticket?.p90_s ?? null,
        max_s: t.ticket?.max_s ?? null,
    }));
    if (lines.length < 2) return lines;
    const add = (k) => lines.reduce((a, l) => a + (Number(l[k]) || 0), 0);
    const count = add('count');
    const maxes = lines.map((l) => l.max_s).filter((v) => v != null);
    lines.push({
        tenant: '*', orders: add('orders'), cancelled: add('cancelled'), recalls: add('recalls'), late: add('late'), late_after_s: null,
        count, avg_s: count ? lines.reduce((a, l) => a + (l.count && l.avg_s != null ? l.avg_s * l.count : 0), 0) / count : null,
        p50_s: null, p90_s: null, max_s: maxes.length ? Math.max(...maxes) : null,
    });
    return lines;
}

/** The slowest tickets, longest first, each marked late when it is over its tenant's late_after_s (from `totals`). */
export function slowestTable(slowest, totals = []) {
    const lateAfter = new Map((totals || []).map((t) => [t.tenant, t.late_after_s]));
    return [...(slowest || [])].sort((a, b) => (b.ticket_s ?? 0) - (a.ticket_s ?? 0)).map((s, i) => {
        const limit = lateAfter.get(s.tenant);
        return { rank: i + 1, ...s, late: limit != null && s.ticket_s > limit };
    });
}

/**
 * The view's state in the address's fragment, so a reload or a shared link
 * opens the same report: "#reports?from=2026-11-20&to=2026-11-20&tenant=pizza".
 */
export function reportsHash({ from, to, tenant } = {}) {
    const q = new URLSearchParams();
    if (from) q.set('from', from);
    if (to) q.set('to', to);
    if (tenant) q.set('tenant', tenant);
    const s = q.toString();
    return `#reports${s ? `?${s}` : ''}`;
}

/** What reportsHash wrote (null when the fragment is not the Reports view's): {from, to, tenant}, each possibly null. */
export function parseReportsHash(hash) {
    const m = /^#reports(?:\?(.*))?$/.exec(String(hash ?? ''));
    if (!m) return null;
    const q = new URLSearchParams(m[1] || '');
    const day = (k) => (isDay(q.get(k)) ? q.get(k) : null);
    return { from: day('from'), to: day('to'), tenant: q.get('tenant') || null };
}

/** The y-axis ticks of a time chart, in minutes: "0", "5 min", "1 h". */
export function minutesLabel(min) {
    if (!Number.isFinite(min)) return '';
    if (min === 0) return '0';
    if (min >= 60 && min % 60 === 0) return `${min / 60} h`;
    return `${Math.round(min * 10) / 10} min`;
}

/** An hour of the day as a chart's label: 9 -> "09:00". */
export const hourLabel = (h) => (Number.isInteger(h) && h >= 0 && h <= 23 ? `${pad2(h)}:00` : '');
