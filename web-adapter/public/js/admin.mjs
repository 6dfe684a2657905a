// The device hub (/admin): a food court manager's page on a tablet or a
// laptop. It is a client of the bridge's admin HTTP API (docs/ADMIN-API.md)
// and does nothing else: log in as an admin of the registry; see the outlet's
// tenants, stations and devices with their presence; add a tenant, rename one,
// add a station; add a device of any role, pair a tablet to it (a one-time
// code, its address and the QR code of that address, drawn here by the
// vendored qrcode-generator), revoke the pairing, unpair or remove a device;
// and the outlet's health at a glance; the kitchen printers (GET
// /api/printers) with a test print each, and a reprint of an order.
//
// Every POST but the login carries the session's CSRF token (x-csrf-token). A
// change is made against the outlet's `version`: a 409 `stale` answer means
// someone else changed the registry, so the page reads /api/outlet again and
// says so. A 401 anywhere is the end of the session: back to the login form.
// Presence and the printers are polled (GET /api/devices and /api/printers
// every POLL_MS, /api/overview every other time), only while the page is visible. Ages run on the bridge's
// clock (kb/clock.mjs). Pure logic is in js/admin-view.mjs. The Reports
// tab (#reports, speed of service) is js/admin-reports.mjs, given this
// page's `call`; the address's fragment says which view is shown.
import qrcode from '../vendor/qrcode.mjs';
import { bridgeNow, clockMeasured, keepClock } from '../kb/clock.mjs';
import { $, clearToasts, el, toast } from './common.mjs';
import { mountReports } from './admin-reports.mjs';
import {
    devicesDiffer, formatAgo, formatCountdown, formatDuration, groupCode, groupDevices, onlineCount, printerFor, printerMode,
    printerScreens, printerState, printerWhere, printersDoc, qrPath, roleLabel, uplinkText,
} from './admin-view.mjs';

const POLL_MS = 3000;
const QR_MARGIN = 4;

// ---- state --------------------------------------------------------------------
let session = null;          // {user, csrf, expires_in}
let outlet = null;           // GET /api/outlet
let presence = [];           // GET /api/devices .devices
let legacy = [];             // GET /api/devices .legacy
let pairings = [];           // GET /api/pairings .pairings (the open ones)
let overview = null;         // GET /api/overview
let printing = null;         // GET /api/printers, as printersDoc() keeps it (null until read)
let pairing = null;          // the pairing dialog's: {username, code, url, deadline, revoked, pairedBefore, paired}
let pollTimer = null;
let polls = 0;
let clockTimer = null;
let reports = null;          // the Reports view (js/admin-reports.mjs)

// Test and support hooks: what the page shows and has done; nothing is simulated.
const kb = window.__kb = {
    state: 'starting', polls: 0, notices: [],
    version: () => outlet?.version ?? null,
    user: () => session?.user ?? null,
    /** A device as the page shows it: presence merged into the registry's entry. */
    device: (username) => {
        const g = groupDevices(outlet, presence);
        return [...g.tenants.flatMap((t) => t.devices), ...g.boards, ...g.admins, ...g.others].find((d) => d.username === username) || null;
    },
    /** The open pairing dialog: its code, URL and the QR code's modules (rows of 0/1). */
    /** The printers as the page last read them: {printing, printers}, or null. */
    printers: () => printing,
    pairing: () => (pairing ? { username: pairing.username, code: pairing.code, url: pairing.url, qr: pairing.qr, paired: !!pairing.paired } : null),
};

// ---- the API --------------------------------------------------------------------
class ApiError extends Error {
    constructor(status, body) {
        super(body?.message || `the bridge answered ${status}`);
        this.status = status;
        this.code = body?.error || '';
        this.handled = false;       // already shown to the admin (stale, session ended)
    }
}

/** One request; resolves with the JSON answer, rejects with an ApiError. */
async function request(path, body) {
    const post = body !== undefined;
    const headers = { accept: 'application/json' };
    if (post) {
        headers['content-type'] = 'application/json';
        if (session?.csrf) headers['x-csrf-token'] = session.csrf;
    }
    let res, text;
    try {
        res = await fetch(path, {
            method: post ? 'POST' : 'GET', headers, body: post ? JSON.stringify(body) : undefined,
            credentials: 'same-origin', cache: 'no-store',
        });
        text = await res.text();
    } catch (err) {
        throw new ApiError(0, { error: 'network', message: `Cannot reach the bridge (${err.message}). Check the network and try again.` });
    }
    let doc = null;
    try { doc = text ? JSON.parse(text) : null; } catch { doc = null; }
    if (res.ok) return doc && typeof doc === 'object' ? doc : {};
    throw new ApiError(res.status, doc && typeof doc === 'object' && (doc.error || doc.message) ? doc
        : { error: `http_${res.status}`, message: `The bridge answered ${res.status}${text ? `: ${text.trim().slice(0, 160)}` : ''}` });
}

/**
 * An admin request: a 401 ends the session (back to the login form), a 403
 * `csrf` fetches the session's token again and retries once, a 409 `stale`
 * reads the outlet again and tells the admin why nothing was saved.
 */
async function call(path, body, retried = false) {
    try {
        return await request(path, body);
    } catch (e) {
        if (e.status === 401) {
            sessionEnded('Your session has ended (15 minutes without use, 8 hours after the login, or the bridge restarted). Log in again.');
            e.handled = true;
        } else if (e.status === 403 && e.code === 'csrf' && body !== undefined && !retried) {
            const s = await request('/api/session').catch(() => null);
            if (s?.csrf) {
                session = s;
                return call(path, body, true);
            }
        } else if (e.status === 409 && e.code === 'stale') {
            e.handled = true;
            await loadOutlet().catch(() => {});
            notice('Someone else changed the outlet (another admin, or an edit of the registry file) while you were working. '
                + 'Nothing of your last change was saved. The page now shows the outlet as it is: check it, then try again.', 'warn');
        }
        throw e;
    }
}

/** A change to the registry, made against the version the page shows; then the outlet is read again. */
async function change(path, fields) {
    const res = await call(path, { version: outlet?.version, ...fields });
    await loadOutlet();
    return res;
}

/** What to say in a form for a failed call (a stale answer or an ended session is already said). */
function failText(e) {
    if (e.status === 409 && e.code === 'stale') return 'Not saved: the outlet had changed. Check it and try again.';
    if (e.status === 401) return 'Not saved: your session has ended.';
    return e.message;
}

// ---- notices ----------------------------------------------------------------------
function notice(text, kind = 'bad') {
    const n = $('#notice');
    $('.notice-text', n).textContent = text;
    n.className = `notice notice-${kind}`;
    n.hidden = false;
    kb.notices.push({ kind, text });
}
function clearNotice() { $('#notice').hidden = true; }

// ---- session ----------------------------------------------------------------------
function showLogin(message = '') {
    kb.state = 'login';
    const box = $('#login');
    box.hidden = false;
    $('.login-error', box).textContent = message;
    $('#logout').hidden = true;
    $('#who').textContent = '';
    const user = $('input[name=username]', box);
    setTimeout(() => (user.value ? $('input[name=password]', box) : user).focus(), 0);
}

function sessionEnded(message) {
    if (!session) return;
    session = null;
    stopPolling();
    closePairing();
    closeConfirm();
    showLogin(message);
}

async function onLogin(ev) {
    ev.preventDefault();
    const form = ev.target;
    const username = form.username.value.trim();
    const password = form.password.value;
    const err = $('.login-error', form);
    if (!username) return;
    err.textContent = 'Logging in…';
    const button = $('button[type=submit]', form);
    button.disabled = true;
    try {
        session = await request('/api/login', { username, password });
        form.password.value = '';
        err.textContent = '';
        await enter();
    } catch (e) {
        session = null;
        // The bridge's 400 here is worded for a program ("send {username, password}"): say it for a person.
        err.textContent = e.code === 'bad_request' ? `“${username}” cannot be an admin name: names are lower-case letters, digits, “-” and “_”.`
            : e.code === 'bad_login' ? (e.message || 'Wrong admin name or password.')
                : e.code === 'not_admin' ? (e.message || `“${username}” is not an admin account.`) : e.message;
    } finally {
        button.disabled = false;
    }
}

async function logout() {
    try { await request('/api/logout', {}); } catch { /* the session ends here either way */ }
    session = null;
    stopPolling();
    closePairing();
    outlet = null;
    printing = null;
    $('#app').hidden = true;
    $('#reports').hidden = true;
    $('#views').hidden = true;
    showLogin('Logged out.');
}

/** Into the hub, with a session. */
async function enter() {
    $('#login').hidden = true;
    $('#logout').hidden = false;
    $('#who').textContent = session.user;
    kb.state = 'loading';
    try {
        await loadOutlet();
    } catch (e) {
        if (!e.handled) notice(`Cannot read the outlet: ${e.message}`);
        return;
    }
    $('#views').hidden = false;
    showView(viewOf(location.hash));
    kb.state = 'ready';
    startPolling();
}

// ---- views: the device hub (#devices) and the reports (#reports…) ---------------------
const viewOf = (hash) => (/^#reports\b/.test(hash) ? 'reports' : 'devices');

function showView(name) {
    kb.view = name;
    $('#app').hidden = name !== 'devices';
    $('#reports').hidden = name !== 'reports';
    for (const tab of document.querySelectorAll('#views [role=tab]')) tab.setAttribute('aria-selected', String(tab.dataset.view === name));
    if (name === 'reports') reports.open(reports.parseHash(location.hash));
}

// ---- reading ----------------------------------------------------------------------
async function loadOutlet() {
    const doc = await call('/api/outlet');
    outlet = doc;
    reports?.setOutlet(doc);
    renderOutlet();
    applyPresence();
    return doc;
}

function startPolling() {
    stopPolling();
    polls = 0;
    poll();
}
function stopPolling() {
    clearTimeout(pollTimer);
    pollTimer = null;
}

/** One round of presence (and every other time the overview), then the next in POLL_MS. */
async function poll() {
    pollTimer = null;
    if (!session) return;
    if (!document.hidden) {
        const withOverview = polls % 2 === 0;
        polls++;
        const results = await Promise.allSettled([
            call('/api/devices'), call('/api/pairings'), withOverview ? call('/api/overview') : Promise.resolve(null),
            call('/api/printers'),
        ]);
        if (!session) return;
        const [d, p, o, pr] = results;
        if (d.status === 'fulfilled') {
            presence = Array.isArray(d.value.devices) ? d.value.devices : [];
            legacy = Array.isArray(d.value.legacy) ? d.value.legacy : [];
            // The registry changed under us (another admin, a hand edit): read the outlet again.
            if (outlet && devicesDiffer(outlet, presence)) await loadOutlet().catch(() => {});
        }
        if (p.status === 'fulfilled') pairings = Array.isArray(p.value.pairings) ? p.value.pairings : [];
        if (o.status === 'fulfilled' && o.value) overview = o.value;
        if (pr.status === 'fulfilled') printing = printersDoc(pr.value);
        const failed = results.find((r) => r.status === 'rejected' && !r.reason.handled);
        setReachable(failed ? failed.reason : null);
        applyPresence();
        renderPrinters();
        if (o.value || o.status === 'rejected') renderHealth();
        watchPairing();
        kb.polls++;
    }
    if (session && !pollTimer) pollTimer = setTimeout(poll, POLL_MS);
}

// ---- rendering: the outlet ------------------------------------------------------------
const tenantName = (id) => outlet?.tenants?.find((t) => t.id === id)?.name || id;

function renderOutlet() {
    const o = outlet;
    $('#outlet-name').textContent = o.outlet?.name || 'Device hub';
    $('#outlet-id').textContent = o.outlet?.id ? `${o.outlet.id} · device hub` : 'device hub';
    document.title = `${o.outlet?.name || 'Outlet'} · Device hub · Kitchen Bus`;
    $('#demo').hidden = !o.demo;

    const g = groupDevices(o, presence);
    $('#tenants').replaceChildren(...g.tenants.map(tenantCard));
    if (!g.tenants.length) $('#tenants').append(el('p', { class: 'muted', text: 'No tenant yet: add one on the right.' }));
    $('#boards').replaceChildren(g.boards.length ? deviceTable(g.boards)
        : el('p', { class: 'muted', text: 'No pickup board yet. Add one with the role “Pickup board”.' }));
    $('#admins').replaceChildren(...g.admins.map((a) => el('li', { dataset: { username: a.username } },
        el('b', { text: a.username }), a.username === session?.user ? el('small', { text: ' (you)' }) : null)));
    $('#others-wrap').hidden = !g.others.length;
    $('#others').replaceChildren(...(g.others.length ? [deviceTable(g.others)] : []));
    fillDeviceForm();
    fillReprintForm();
    renderPrinters();
}

function tenantCard(t) {
    const card = el('article', { class: 'tenant', dataset: { tenant: t.id }, 'data-testid': `tenant-${t.id}` });
    const error = el('div', { class: 'form-error', role: 'alert' });
    const title = el('div', { class: 'tenant-title' },
        el('h3', { class: 'tenant-name', text: t.name }), el('code', { class: 'tenant-id', text: t.id }),
        el('span', { class: 'tenant-online', dataset: { online: t.id } }),
        el('button', { type: 'button', class: 'small', 'data-testid': 'tenant-rename', onclick: () => startRename(card, t, error) }, 'Rename'));
    const stationInput = el('input', { name: 'station', maxlength: '32', placeholder: 'new station, e.g. grill', spellcheck: 'false',
        autocapitalize: 'none', 'aria-label': `New station of ${t.name}`, 'data-testid': 'station-name', required: true });
    const stationForm = el('form', { class: 'inline', 'data-testid': 'station-add-form', onsubmit: async (ev) => {
        ev.preventDefault();
        const station = stationInput.value.trim().toLowerCase();
        if (!station) return;
        error.textContent = '';
        try {
            await change('/api/station/add', { tenant: t.id, station });
            toast(`Station “${station}” added to ${t.name}.`);
        } catch (e) { error.textContent = failText(e); }
    } }, stationInput, el('button', { type: 'submit', class: 'small', 'data-testid': 'station-add' }, 'Add station'));
    const stations = el('div', { class: 'stations' },
        el('span', { class: 'label', text: 'Stations' }),
        t.stations.length ? t.stations.map((s) => el('span', { class: 'chip station-chip', dataset: { station: s }, text: s }))
            : el('span', { class: 'muted', text: 'none (one kitchen screen shows every item)' }),
        stationForm);
    card.append(el('header', {}, title), stations,
        t.devices.length ? deviceTable(t.devices) : el('p', { class: 'muted', text: 'No devices yet: add one with “Add a device”.' }),
        error);
    return card;
}

function startRename(card, t, error) {
    const title = $('.tenant-title', card);
    const input = el('input', { name: 'name', value: t.name, maxlength: '80', 'aria-label': `New name of ${t.id}`, 'data-testid': 'rename-name', required: true });
    const form = el('form', { class: 'inline rename', onsubmit: async (ev) => {
        ev.preventDefault();
        const name = input.value.trim();
        if (!name || name === t.name) { form.replaceWith(title); return; }
        error.textContent = '';
        try {
            await change('/api/tenant/rename', { id: t.id, name });
            toast(`${t.id} is now called “${name}”.`);
        } catch (e) { error.textContent = failText(e); }
    } }, input, el('button', { type: 'submit', class: 'small primary', 'data-testid': 'rename-save' }, 'Save'),
    el('button', { type: 'button', class: 'small', onclick: () => form.replaceWith(title) }, 'Cancel'));
    title.replaceWith(form);
    input.focus();
    input.select();
}

function deviceTable(devices) {
    return el('table', { class: 'devices' },
        el('thead', {}, el('tr', {}, ['Device', 'Status', 'Last seen', 'Page', 'Address', 'Pairing', ''].map((h) => el('th', { scope: 'col', text: h })))),
        el('tbody', {}, devices.map(deviceRow)));
}

function deviceRow(d) {
    const u = d.username;
    const actions = el('td', { class: 'actions' },
        el('button', { type: 'button', class: 'small primary', 'data-testid': 'pair', onclick: () => openPairing(u) }, 'Pair'),
        el('button', { type: 'button', class: 'small', 'data-testid': 'unpair', onclick: () => askUnpair(u) }, 'Unpair'),
        el('button', { type: 'button', class: 'small danger', 'data-testid': 'remove', onclick: () => askRemove(u) }, 'Remove'));
    return el('tr', { dataset: { username: u }, 'data-testid': `device-${u}` },
        el('td', { class: 'dev' }, el('b', { text: u }), el('small', { text: roleLabel(d, tenantName) })),
        el('td', { class: 'presence' }, el('span', { class: 'pres' }), el('small', { class: 'since' })),
        el('td', { class: 'seen' }), el('td', { class: 'page' }), el('td', { class: 'addr' }), el('td', { class: 'paired' }),
        actions);
}

/** Presence, pairings and ages into the rows the outlet drew (no rebuild: forms keep what is typed). */
function applyPresence() {
    if (!outlet) return;
    const now = bridgeNow();
    const g = groupDevices(outlet, presence);
    const open = new Map(pairings.map((p) => [p.username, p]));
    for (const d of [...g.tenants.flatMap((t) => t.devices), ...g.boards, ...g.others]) {
        const row = document.querySelector(`tr[data-username="${CSS.escape(d.username)}"]`);
        if (!row) continue;
        row.dataset.online = String(!!d.online);
        const pres = $('.pres', row);
        pres.className = `pres ${d.online ? 'pres-online' : d.since ? 'pres-offline' : 'pres-never'}`;
        pres.textContent = d.online ? 'Online' : d.since ? 'Offline' : 'Never seen';
        const since = d.since ? Date.parse(d.since) : NaN;
        $('.since', row).textContent = Number.isFinite(since) ? `for ${formatDuration((now - since) / 1000)}` : '';
        $('.since', row).title = d.since || '';
        $('.seen', row).textContent = d.online ? 'now' : formatAgo(d.last_seen, now, '—');
        $('.seen', row).title = d.last_seen || '';
        $('.page', row).textContent = d.page || '—';
        $('.page', row).title = [d.version && `version ${d.version}`, d.user_agent].filter(Boolean).join(' · ');
        $('.addr', row).textContent = d.address || '—';
        const p = open.get(d.username);
        const cell = $('.paired', row);
        cell.replaceChildren();
        if (p) {
            const left = Date.parse(p.expires_at) - now;
            cell.append(el('span', { class: 'chip code-open', title: `code ${p.code}, open until ${p.expires_at}` },
                `code open · ${formatCountdown(left)}`));
        } else if (d.paired) {
            cell.append(el('span', { title: d.paired, text: `paired ${formatAgo(d.paired, now)}` }));
        } else {
            cell.append(el('span', { class: 'muted', text: 'not paired' }));
        }
    }
    for (const t of g.tenants) {
        const span = document.querySelector(`.tenant-online[data-online="${CSS.escape(t.id)}"]`);
        if (span) span.textContent = t.devices.length ? `${onlineCount(t.devices)} of ${t.devices.length} online` : '';
    }
    if (legacy.length) {
        $('#legacy').hidden = false;
        const who = (c) => `${c.device || 'anonymous'} (${[c.type, c.tenant].filter(Boolean).join(', ') || '?'})`;
        $('#legacy').textContent = `Old sync clients connected: ${legacy.length}: ${legacy.map(who).join('; ')}`;
    } else {
        $('#legacy').hidden = true;
    }
}

// ---- rendering: the printers --------------------------------------------------------------
/** The printers into #printers: a row per printer, made once and then updated in place (a test
 *  print's answer beside its button stays across polls); rows of printers gone are removed. */
function renderPrinters() {
    const box = $('#printers');
    const none = $('#printers-none');
    const summary = $('#printing-summary');
    if (!printing) {
        box.hidden = true;
        none.hidden = true;
        $('#reprint-wrap').hidden = true;
        summary.textContent = '';
        return;
    }
    const list = printing.printers;
    none.hidden = list.length > 0;
    box.hidden = !list.length;
    $('#reprint-wrap').hidden = !list.length;
    const failing = list.filter((p) => p.state === 'degraded').length;
    summary.dataset.state = printing.printing;
    summary.textContent = !list.length ? ''
        : printing.printing === 'degraded'
            ? `${failing === 1 ? 'A printer is failing: its' : `${failing} printers are failing: their`} tickets wait and are retried. `
                + 'Orders still reach the screens.'
            : '';
    let tbody = $('tbody', box);
    if (!tbody) {
        tbody = el('tbody');
        box.replaceChildren(el('table', { class: 'devices printers' },
            el('thead', {}, el('tr', {}, ['Printer', 'Address', 'State', 'Screens', 'Pending', 'Printed', 'Last printed', '']
                .map((h) => el('th', { scope: 'col', text: h })))),
            tbody));
    }
    const rows = new Map([...tbody.rows].map((r) => [r.dataset.printer, r]));
    const now = bridgeNow();
    list.forEach((p, i) => {
        let row = rows.get(p.printer);
        if (!row) row = printerRow(p.printer);
        rows.delete(p.printer);
        if (tbody.rows[i] !== row) tbody.insertBefore(row, tbody.rows[i] || null);
        updatePrinterRow(row, p, now);
    });
    for (const gone of rows.values()) gone.remove();
}

function printerRow(key) {
    const result = el('span', { class: 'test-result', role: 'status', 'data-testid': 'printer-test-result' });
    const button = el('button', { type: 'button', class: 'small', 'data-testid': 'printer-test', onclick: () => testPrint(key, button, result) },
        'Test print');
    return el('tr', { dataset: { printer: key }, 'data-testid': 'printer-row' },
        el('td', { class: 'dev' }, el('b', { class: 'printer-tenant' }), el('small', { class: 'printer-for' })),
        el('td', { class: 'addr' }, el('span', { class: 'printer-where' }), el('small', { class: 'printer-mode' })),
        el('td', { class: 'state' }, el('span', { class: 'pstate', 'data-testid': 'printer-state' }),
            el('small', { class: 'printer-error', 'data-testid': 'printer-error' })),
        el('td', { class: 'screens', 'data-testid': 'printer-screens' }),
        el('td', { class: 'num pending', 'data-testid': 'printer-pending' }),
        el('td', { class: 'num printed', 'data-testid': 'printer-printed' }),
        el('td', { class: 'last', 'data-testid': 'printer-last' }),
        el('td', { class: 'actions' }, button, result));
}

/** Sets a node's text only when it changed (no needless DOM writes on every poll). */
function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
}

function updatePrinterRow(row, p, now) {
    const state = printerState(p.state);
    row.dataset.state = state;
    const dev = $('.dev', row);
    if (dev.title !== `printer ${p.printer}`) dev.title = `printer ${p.printer}`;
    setText($('.printer-tenant', row), tenantName(p.tenant));
    setText($('.printer-for', row), printerFor(p));
    setText($('.printer-where', row), printerWhere(p));
    setText($('.printer-mode', row), printerMode(p.mode));
    const badge = $('.pstate', row);
    const cls = `pstate pstate-${state}`;
    if (badge.className !== cls) badge.className = cls;
    setText(badge, state);
    setText($('.printer-error', row), p.error || '');
    setText($('.screens', row), printerScreens(p));
    setText($('.pending', row), String(p.pending ?? 0));
    $('.pending', row).classList.toggle('warn', Number(p.pending) > 0);
    setText($('.printed', row), String(p.printed ?? 0));
    const last = $('.last', row);
    setText(last, formatAgo(p.last_printed_at, now, 'never'));
    if (last.title !== (p.last_printed_at || '')) last.title = p.last_printed_at || '';
}

async function testPrint(key, button, result) {
    button.disabled = true;
    result.className = 'test-result';
    result.textContent = 'Sending…';
    try {
        await call('/api/printer/test', { printer: key });
        result.classList.add('ok');
        result.textContent = 'Test page queued.';
        pollSoon();
    } catch (e) {
        result.textContent = '';
        if (e.handled) return;
        result.classList.add('bad');
        result.textContent = e.message;
    } finally {
        button.disabled = false;
    }
}

// ---- reprint ---------------------------------------------------------------------------------
function fillReprintForm() {
    const form = $('#reprint');
    const tenants = outlet?.tenants || [];
    const keep = form.tenant.value;
    form.tenant.replaceChildren(...tenants.map((t) => el('option', { value: t.id, text: `${t.name} (${t.id})` })));
    if (tenants.some((t) => t.id === keep)) form.tenant.value = keep;
    fillReprintStations();
}

function fillReprintStations() {
    const form = $('#reprint');
    const t = outlet?.tenants?.find((x) => x.id === form.tenant.value);
    const stations = Array.isArray(t?.stations) ? t.stations : [];
    const keep = form.station.value;
    form.station.replaceChildren(el('option', { value: '', text: stations.length ? 'any: every printer of the order' : 'none (no stations)' }),
        ...stations.map((s) => el('option', { value: s, text: s })));
    if (stations.includes(keep)) form.station.value = keep;
    form.station.disabled = !stations.length;
}

async function onReprint(ev) {
    ev.preventDefault();
    const form = ev.target;
    const err = $('.form-error', form);
    const ok = $('.form-ok', form);
    err.textContent = '';
    ok.textContent = '';
    const tenant = form.tenant.value;
    const number = form.order_number.value.trim();
    if (!tenant) { err.textContent = 'Add a tenant first.'; return; }
    if (!number) { err.textContent = 'Type the order number to print again.'; return; }
    const body = { tenant, order_number: number };
    if (form.station.value) body.station = form.station.value;
    const button = $('button[type=submit]', form);
    button.disabled = true;
    try {
        await call('/api/order/reprint', body);
        ok.textContent = `Reprint of ${number} queued${body.station ? ` on the ${body.station} station’s printer` : ''}.`;
        pollSoon();
    } catch (e) {
        if (!e.handled) err.textContent = e.message;
    } finally {
        button.disabled = false;
    }
}

// ---- rendering: health ------------------------------------------------------------------
let unreachable = null;
let lastRefusal = '';
function setReachable(err) {
    unreachable = err && err.status === 0 ? err : null;
    const refusal = err && err.status !== 0 ? `The bridge refused a request: ${err.message}` : '';
    if (refusal && refusal !== lastRefusal) notice(refusal);
    lastRefusal = refusal;
}

function renderHealth() {
    const pill = $('#health-pill');
    const h = overview?.health;
    let state = 'live', label = 'Healthy', reason = '';
    if (unreachable) { state = 'offline'; label = 'Unreachable'; reason = 'cannot reach the bridge'; }
    else if (!h) { state = 'degraded'; label = '…'; }
    else if (h.status !== 'ok') {
        state = h.broker === 'connected' ? 'degraded' : 'offline';
        label = 'Degraded';
        reason = h.broker !== 'connected' ? `broker ${h.broker}` : h.journal !== 'ok' ? 'journal failing' : h.status;
    }
    pill.className = `conn conn-${state}`;
    pill.dataset.state = state;
    $('.conn-label', pill).textContent = label;
    $('.conn-reason', pill).textContent = reason;
    if (!h) return;
    const good = (ok, text, why) => [el('dd', { class: ok ? 'ok' : 'bad', text: text ?? '?' }), ...(why ? [el('dd', { class: 'why', text: why })] : [])];
    $('#health').replaceChildren(
        el('dt', { text: 'Broker' }), ...good(h.broker === 'connected', h.broker, h.broker_reason),
        el('dt', { text: 'Device access' }), ...good(h.access === 'synced', h.access),
        el('dt', { text: 'Journal' }), ...good(h.journal === 'ok', h.journal, h.journal_error),
        el('dt', { text: 'Uplink' }), el('dd', { 'data-testid': 'uplink', text: uplinkText(h) }),
        el('dt', { text: 'Open orders' }), el('dd', { text: String(h.orders_open ?? '—') }),
        el('dt', { text: 'Bridge' }), el('dd', { text: `${h.version || '?'} · up ${formatDuration(h.uptime_s)}${h.mode === 'demo' ? ' · demo' : ''}` }));
    $('#overview').replaceChildren(...(overview.tenants || []).map((t) => el('tr', { dataset: { tenant: t.id } },
        el('th', { scope: 'row', text: t.name || t.id }),
        el('td', { class: 'num', text: String(t.open_orders ?? 0) }),
        el('td', { class: `num${t.oldest_open_age_s >= 600 ? ' late' : t.oldest_open_age_s >= 300 ? ' warn' : ''}`,
            text: t.open_orders ? formatDuration(t.oldest_open_age_s) : '—' }),
        el('td', { class: 'num', text: String(t.screens_online ?? 0) }))));
}

// ---- adding ---------------------------------------------------------------------------------
function fillDeviceForm() {
    const form = $('#add-device');
    const tenants = outlet?.tenants || [];
    const tSel = form.tenant;
    const keep = tSel.value;
    tSel.replaceChildren(...tenants.map((t) => el('option', { value: t.id, text: `${t.name} (${t.id})` })));
    if (tenants.some((t) => t.id === keep)) tSel.value = keep;
    const checks = $('.tenant-checks', form);
    const chosen = new Set([...checks.querySelectorAll('input:checked')].map((i) => i.value));
    checks.replaceChildren(...tenants.map((t) => el('label', { class: 'check' },
        el('input', { type: 'checkbox', name: 'board-tenant', value: t.id, checked: chosen.has(t.id) }), ` ${t.name}`)));
    fillStations();
    showRoleFields();
}

function fillStations() {
    const form = $('#add-device');
    const t = outlet?.tenants?.find((x) => x.id === form.tenant.value);
    const keep = form.station.value;
    const stations = t?.stations || [];
    form.station.replaceChildren(el('option', { value: '', text: stations.length ? 'none: every station' : 'none (no stations)' }),
        ...stations.map((s) => el('option', { value: s, text: s })));
    if (stations.includes(keep)) form.station.value = keep;
}

function showRoleFields() {
    const form = $('#add-device');
    const role = form.role.value;
    $('[data-for=tenant]', form).hidden = role === 'board';
    $('[data-for=station]', form).hidden = role !== 'kitchen';
    $('[data-for=tenants]', form).hidden = role !== 'board';
    $('.tenant-checks', form).classList.toggle('off', form['board-scope'].value !== 'list');
}

async function onAddDevice(ev) {
    ev.preventDefault();
    const form = ev.target;
    const err = $('.form-error', form);
    err.textContent = '';
    $('.form-ok', form)?.remove();
    const username = form.username.value.trim();
    const role = form.role.value;
    const body = { username, role };
    if (role === 'board') {
        if (form['board-scope'].value === '*') body.tenants = '*';
        else {
            body.tenants = [...form.querySelectorAll('input[name=board-tenant]:checked')].map((i) => i.value);
            if (!body.tenants.length) { err.textContent = 'Choose the tenants this board shows, or “every tenant”.'; return; }
        }
    } else {
        body.tenant = form.tenant.value;
        if (!body.tenant) { err.textContent = 'Add a tenant first: every POS, kitchen and expo belongs to one.'; return; }
        if (role === 'kitchen' && form.station.value) body.station = form.station.value;
    }
    try {
        await change('/api/device/add', body);
        form.username.value = '';
        form.append(el('div', { class: 'form-ok', role: 'status', 'data-testid': 'device-added' },
            `${username} added (${roleLabel(body, tenantName)}). `,
            el('button', { type: 'button', class: 'small primary', 'data-testid': 'device-added-pair', onclick: (e) => {
                e.target.closest('.form-ok').remove();
                openPairing(username);
            } }, 'Pair a tablet to it')));
    } catch (e) { err.textContent = failText(e); }
}

async function onAddTenant(ev) {
    ev.preventDefault();
    const form = ev.target;
    const err = $('.form-error', form);
    err.textContent = '';
    const id = form.elements.namedItem('id').value.trim();        // (form.id is the form's own id)
    const name = form.elements.namedItem('name').value.trim();
    try {
        await change('/api/tenant/add', { id, name });
        form.reset();
        toast(`Tenant “${name}” added. Add its devices next.`);
    } catch (e) { err.textContent = failText(e); }
}

// ---- pairing ---------------------------------------------------------------------------------
async function openPairing(username) {
    const box = $('#pairing');
    $('#pairing-error').textContent = '';
    $('#pairing-title').textContent = `Pair a tablet as ${username}`;
    const d = kb.device(username);
    const before = d?.paired ?? null;
    try {
        const p = await call('/api/pairing/create', { username });
        pairing = {
            username, code: p.code, url: p.url || `${location.origin}/pair?code=${encodeURIComponent(p.code)}`,
            deadline: pairingDeadline(p),
            expires_at: p.expires_at, revoked: false, pairedBefore: before, paired: null, qr: null,
        };
    } catch (e) {
        if (e.handled) return;
        if (box.hidden) { notice(`Cannot pair ${username}: ${e.message}`); return; }
        $('#pairing-error').textContent = e.message;
        return;
    }
    box.hidden = false;
    clearToasts();                      // nothing over the code
    renderPairing();
    clearInterval(clockTimer);
    clockTimer = setInterval(tickPairing, 250);
    $('#pairing-close').focus();
    pollSoon();
}

/** When a pairing ends, on this device's clock: from `expires_at` by the bridge's clock once
 *  measured (to the millisecond), else from `expires_in` (whole seconds). */
function pairingDeadline(p) {
    const at = Date.parse(p.expires_at);
    if (clockMeasured() && Number.isFinite(at)) return Date.now() + (at - bridgeNow());
    return Date.now() + Number(p.expires_in ?? 0) * 1000;
}

function renderPairing() {
    const p = pairing;
    $('#pairing-code').textContent = groupCode(p.code);
    $('#pairing-code').dataset.code = p.code;
    // Text, not a link: opened here, the code would pair this browser, not the tablet.
    $('#pairing-url').textContent = p.url;
    try { $('#pairing-page').textContent = new URL('/pair', p.url).href; } catch { $('#pairing-page').textContent = '/pair'; }
    drawQr(p.url);
    $('#pairing-done').hidden = true;
    $('#pairing').classList.remove('done', 'expired', 'revoked');
    $('#pairing-revoke').disabled = false;
    tickPairing();
}

/** The QR code of `text`, drawn as an SVG path (crisp at any size, and in a screenshot). */
function drawQr(text) {
    const q = qrcode(0, 'M');
    q.addData(text);
    q.make();
    const n = q.getModuleCount();
    const size = n + 2 * QR_MARGIN;
    const svg = $('#qr');
    svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
    svg.setAttribute('shape-rendering', 'crispEdges');
    const ns = 'http://www.w3.org/2000/svg';
    const bg = document.createElementNS(ns, 'rect');
    bg.setAttribute('width', String(size));
    bg.setAttribute('height', String(size));
    bg.setAttribute('fill', '#fff');
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', qrPath(n, (r, c) => q.isDark(r, c), QR_MARGIN));
    path.setAttribute('fill', '#000');
    svg.replaceChildren(bg, path);
    svg.dataset.text = text;
    pairing.qr = Array.from({ length: n }, (_, r) => Array.from({ length: n }, (_, c) => (q.isDark(r, c) ? '1' : '0')).join(''));
}

function tickPairing() {
    const p = pairing;
    if (!p) return;
    const left = p.deadline - Date.now();
    const exp = $('#pairing-expiry');
    const box = $('#pairing');
    if (p.paired) {
        exp.textContent = '';
    } else if (p.revoked) {
        exp.textContent = 'This code has been revoked: it no longer works.';
    } else if (left <= 0) {
        box.classList.add('expired');
        exp.textContent = 'This code has expired. Make a new one.';
        $('#pairing-revoke').disabled = true;
    } else {
        exp.textContent = `Expires in ${formatCountdown(left)}`;
    }
    applyPresence();     // the rows' "code open" countdowns
}

/** After a poll: has the tablet used the code? (the device's `paired` moved on, and its code is no longer open) */
function watchPairing() {
    const p = pairing;
    if (!p || p.paired || p.revoked) return;
    const d = kb.device(p.username);
    const stillOpen = pairings.some((x) => x.code === p.code);
    if (d?.paired && d.paired !== p.pairedBefore && !stillOpen) {
        p.paired = d.paired;
        const box = $('#pairing');
        box.classList.add('done');
        const done = $('#pairing-done');
        done.hidden = false;
        done.textContent = `Paired: ${p.username} is set up${d.address ? ` on the tablet at ${d.address}` : ''}. You can close this.`;
        $('#pairing-revoke').disabled = true;
        tickPairing();
    }
}

async function revokePairing() {
    const p = pairing;
    if (!p) return;
    $('#pairing-error').textContent = '';
    try {
        await call('/api/pairing/revoke', { code: p.code });
        p.revoked = true;
        $('#pairing').classList.add('revoked');
        $('#pairing-revoke').disabled = true;
        tickPairing();
        pollSoon();
    } catch (e) {
        if (e.handled) return;
        $('#pairing-error').textContent = e.status === 404
            ? 'That code was no longer open: it was used, it expired, or it was revoked already.' : e.message;
    }
}

function closePairing() {
    $('#pairing').hidden = true;
    clearInterval(clockTimer);
    clockTimer = null;
    pairing = null;
}

/** The next poll now (after a change the rows should show soon). */
function pollSoon() {
    if (!session || !pollTimer) return;
    clearTimeout(pollTimer);
    pollTimer = null;
    poll();
}

// ---- unpair and remove (with a confirm step) ---------------------------------------------------------
let confirmAction = null;

function askConfirm({ title, text, ok, action }) {
    $('#confirm-title').textContent = title;
    $('#confirm-text').textContent = text;
    $('#confirm-ok').textContent = ok;
    $('#confirm-error').textContent = '';
    $('#confirm-ok').disabled = false;
    confirmAction = action;
    $('#confirm').hidden = false;
    $('#confirm-cancel').focus();
}

function closeConfirm() {
    $('#confirm').hidden = true;
    confirmAction = null;
}

async function onConfirm() {
    if (!confirmAction) return;
    const button = $('#confirm-ok');
    button.disabled = true;
    try {
        await confirmAction();
        closeConfirm();
    } catch (e) {
        if (e.handled) closeConfirm();
        else $('#confirm-error').textContent = e.message;
    } finally {
        button.disabled = false;
    }
}

function askUnpair(username) {
    askConfirm({
        title: `Unpair ${username}?`,
        text: `The tablet now paired as ${username} is logged out at once and cannot log in again (its password is replaced by one nobody knows). `
            + 'The device stays in the outlet: pair another tablet to it when you are ready.',
        ok: 'Unpair',
        action: async () => {
            await call('/api/device/unpair', { username });
            toast(`${username} is unpaired: its tablet is logged out.`);
            pollSoon();
        },
    });
}

function askRemove(username) {
    askConfirm({
        title: `Remove ${username}?`,
        text: `${username} is unpaired (its tablet is logged out at once), then removed from the outlet’s registry and the broker. `
            + 'This cannot be undone; you can add a device of that name again later.',
        ok: 'Remove device',
        action: async () => {
            await change('/api/device/remove', { username });
            toast(`${username} removed.`);
        },
    });
}

// ---- start ------------------------------------------------------------------------------------------
async function start() {
    reports = mountReports({ call, hooks: kb });
    window.addEventListener('hashchange', () => { if (session && outlet) showView(viewOf(location.hash)); });
    $('#login form').addEventListener('submit', onLogin);
    $('#logout').addEventListener('click', logout);
    $('.notice-close').addEventListener('click', clearNotice);
    const deviceForm = $('#add-device');
    deviceForm.addEventListener('submit', onAddDevice);
    deviceForm.role.addEventListener('change', showRoleFields);
    deviceForm.tenant.addEventListener('change', fillStations);
    for (const r of deviceForm.querySelectorAll('input[name=board-scope]')) r.addEventListener('change', showRoleFields);
    $('#add-tenant').addEventListener('submit', onAddTenant);
    const reprintForm = $('#reprint');
    reprintForm.addEventListener('submit', onReprint);
    reprintForm.tenant.addEventListener('change', fillReprintStations);
    reprintForm.addEventListener('input', () => { $('.form-ok', reprintForm).textContent = ''; });
    // A refusal beside a form stays until the admin changes something in it.
    for (const form of [deviceForm, $('#add-tenant'), reprintForm]) {
        const clear = () => { $('.form-error', form).textContent = ''; };
        form.addEventListener('input', clear);
        form.addEventListener('change', clear);
    }
    $('#pairing-close').addEventListener('click', () => { closePairing(); pollSoon(); });
    $('#pairing-revoke').addEventListener('click', revokePairing);
    $('#pairing-new').addEventListener('click', () => pairing && openPairing(pairing.username));
    $('#confirm-cancel').addEventListener('click', closeConfirm);
    $('#confirm-ok').addEventListener('click', onConfirm);
    document.addEventListener('keydown', (e) => {
        if (e.key !== 'Escape') return;
        if (!$('#confirm').hidden) closeConfirm();
        else if (!$('#pairing').hidden) closePairing();
    });
    document.addEventListener('visibilitychange', () => { if (!document.hidden) pollSoon(); });
    keepClock();

    try {
        session = await request('/api/session');
    } catch (e) {
        session = null;
        showLogin(e.status === 401 || e.status === 403 ? '' : e.message);
        return;
    }
    await enter();
}

start();
