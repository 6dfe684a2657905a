// The pickup board (/board): the customer-facing screen of a food court or of
// one tenant's counter. "Preparing" and "Ready" columns of order numbers, a
// row per tenant when it shows several; a chime (and, with Voice on, "Order
// 16, Pizza Paradise") when a number turns ready; a big Offline banner when
// the broker or the bridge is gone.
//
// A board device may read only its tenants' board documents, its own device
// info and the bridge's health (the broker's ACLs): no order, item, customer,
// table or note can reach this page. It is not a KitchenBus (that one reads a
// tenant's orders and keeps an outbox; a board sends nothing), so it keeps its
// own small connection here, on the same kb/ modules: link.mjs (connection,
// backoff, live/degraded/offline), topics.mjs, device.mjs and clock.mjs (the
// "ready since" runs on the bridge's clock). Like every device a page connects
// it announces its presence (kb/presence.mjs): outlet/board/<me>/presence, with
// its will; it may read no one's presence.
import mqtt from '../vendor/mqtt.esm.js';
import { Link, OFFLINE, connectionState, describeError } from '../kb/link.mjs';
import { HEALTH_TOPIC, boardTopic, deviceInfoTopic } from '../kb/topics.mjs';
import { loadInfo, lockClientId, saveInfo, stableClientId, tabClientId } from '../kb/device.mjs';
import { safeJson } from '../kb/util.mjs';
import { bridgeNow, clockOffset, keepClock } from '../kb/clock.mjs';
import { devicePresenceTopic, offlineDoc, onlineDoc } from '../kb/presence.mjs';
import { loadConfig } from '../kitchen-bus.mjs';
import { $, el, logout, showConnection, toast } from './common.mjs';
import { createAlerts } from './alerts.mjs';
import {
    MAX_SPOKEN, announcement, boardGroups, cleanDoc, largestFitting, moreLabel, newlyReady, readyStage, rowWeights,
} from './board-view.mjs';

const ROLE = 'board';
/** Announcements arriving within this long of each other make one chime. */
const CHIME_GATHER_MS = 150;

// Test and support hooks: they count real calls; nothing is simulated. The
// alert counters (alertsPlayed, alertsMissed, spoken, soundArmed) are kept by
// alerts.mjs; `called` lists the last 200 numbers this page announced as ready.
const kb = window.__kb = {
    state: 'offline', reason: 'starting', stateLog: [], banner: false, called: [], fits: 0, conn: null, clockOffset,
    /** Every topic a message came in on (a board reads its boards, its info and the health, nothing else). */
    topics: () => [...(conn?.topicsSeen || [])],
    /** What the screen shows, per tenant: the numbers visible and how many are hidden behind "+N more". */
    board: () => [...document.querySelectorAll('#groups .group')].map((g) => {
        const side = (cls) => {
            const cell = g.querySelector(cls);
            const shown = [...cell.querySelectorAll('li[data-number]')].filter((li) => !li.hidden).map((li) => li.dataset.number);
            const more = cell.querySelector('li.more');
            return { shown, total: Number(cell.dataset.total), hidden: Number(cell.dataset.hidden), more: more.hidden ? '' : more.textContent };
        };
        return { tenant: g.dataset.tenant, name: g.querySelector('h2').textContent, preparing: side('.cell-preparing'), ready: side('.cell-ready') };
    }),
};
const alerts = createAlerts(kb, { toast });

let conn = null;
const docs = new Map();          // tenant id -> cleaned board document
let pending = [];                // [{entry, tenantName}] waiting for the next chime
let chimeTimer = null;

// ---- the connection ---------------------------------------------------------------
function boardInfo(doc) {
    return doc && typeof doc === 'object' && doc.role && Array.isArray(doc.tenants || []) ? doc : null;
}

/** One board device's connection: device info and health, then its tenants' board topics. */
class BoardConnection {
    constructor({ url, username, password, version }) {
        this.url = url;
        this.username = username;
        this.password = password ?? '';
        this.version = version;
        this.clientId = stableClientId(username);
        this.info = boardInfo(safeJson(loadInfo(username)));
        this.health = null;
        this.subscribed = false;
        this.boardsKey = null;        // the board subscriptions made on this connection
        this.lastError = null;
        this.authRefused = false;
        this.state = { state: OFFLINE, reason: 'connecting' };
        this.listeners = { state: new Set(), info: new Set(), board: new Set() };
        this.docs = new Map();        // tenant id -> the last board document (replayed to a new listener)
        this.topicsSeen = new Set();
        this.link = null;
    }

    get connected() { return Boolean(this.link?.connected); }

    async start() {
        // Two tabs of one board must not share a client id (each would kick the other out).
        const { owned, release } = await lockClientId(this.clientId);
        this.releaseLock = release;
        if (!owned) this.clientId = tabClientId(this.clientId);
        this.link = new Link({
            connect: (url, opts) => mqtt.connect(url, opts),
            url: this.url,
            // Nothing queued for a board is worth keeping: every document is retained.
            options: { clientId: this.clientId, username: this.username, password: this.password,
                properties: { sessionExpiryInterval: 60 }, keepalive: 10,
                ...(this._will() ? { will: this._will() } : {}) },
            on: {
                connect: (connack, epoch) => this._onConnect(epoch),
                close: (was, restarted) => this._onClose(was, restarted),
                error: (err) => this._onError(err),
                message: (topic, payload) => this._onMessage(topic, payload),
                retry: () => this._setState(),
            },
        });
        this.link.start();
        this.timer = setInterval(() => this._setState(), 1000);      // the "retrying in N s" countdown
        // A closed, reloaded or navigated page says goodbye (best effort); one
        // back from the back/forward cache connects again.
        this.pageHandlers = {
            pagehide: () => { if (!this.link.closedByUser) { this._sayOffline(); this.link.stop(); this.link.end(); } },
            pageshow: (ev) => { if (ev.persisted) this.link.resume(); },
        };
        for (const [name, fn] of Object.entries(this.pageHandlers)) addEventListener(name, fn);
        this._setState();
        return this;
    }

    /** Stops for good, saying {"online": false} first (a clean DISCONNECT suppresses the will). */
    async close() {
        this.link?.stop();
        clearInterval(this.timer);
        for (const [name, fn] of Object.entries(this.pageHandlers || {})) removeEventListener(name, fn);
        const said = await this._sayOffline();
        await this.link?.end(said === false);
        this.releaseLock?.();
    }

    reconnectNow() { this.link?.reconnectNow(); }

    // ---- presence (docs/CONTRACT.md "Presence") ----
    /** {"online": false} on outlet/board/<me>/presence, once the info says this is a board. */
    _will() {
        const topic = this.info?.role === ROLE ? devicePresenceTopic(this.info, this.username) : null;
        return topic ? { topic, payload: JSON.stringify(offlineDoc(this.info)), qos: 1, retain: true } : null;
    }

    _announce() {
        const will = this.link?.willAtConnect;
        if (!will || this.noPresence || !this.connected || this.link.closedByUser) return;
        const doc = onlineDoc({ since: new Date(bridgeNow()).toISOString(), page: location.pathname, version: this.version,
            userAgent: navigator.userAgent });
        this.link.publish(will.topic, JSON.stringify(doc), () => {}, { retain: true });
    }

    /** Resolves true once the broker has {"online": false}, false if not in time, null if there is nothing to say. */
    _sayOffline(timeoutMs = 2000) {
        const will = this.link?.willAtConnect;
        if (!will || this.noPresence || !this.connected) return Promise.resolve(null);
        return new Promise((resolve) => {
            const timer = setTimeout(() => resolve(false), timeoutMs);
            this.link.publish(will.topic, will.payload, (err) => { clearTimeout(timer); resolve(!err); }, { retain: true });
        });
    }

    _onError(err) {
        const d = describeError(err);
        if (d.refused && this.link?.options.will && !this.willRefused) {
            // A will topic the broker does not grant is refused like a bad password: try without it once.
            this.willRefused = true;
            this.link.setWill(null);
            this.lastError = `${d.message} (with its presence will; trying without it)`;
        } else {
            this.lastError = d.message;
            this.authRefused = d.refused;
        }
        this._setState();
    }

    async _onConnect(epoch) {
        this.lastError = null;
        this.authRefused = false;
        this.subscribed = false;
        this.boardsKey = null;
        // In without the will it was refused with: no presence now, the next connection tries again.
        this.noPresence = Boolean(this.willRefused);
        if (this.willRefused) { this.willRefused = false; this.link.setWill(this._will()); }
        this._announce();
        this._setState();
        try {
            await this.link.subscribe([deviceInfoTopic(this.username), HEALTH_TOPIC]);
            if (epoch === this.link.epoch) await this._subscribeBoards(epoch);
        } catch (err) {
            if (epoch === this.link.epoch) { this.lastError = err.message; this._setState(); }
        }
    }

    _onClose(was, restarted = false) {
        this.subscribed = false;
        this.boardsKey = null;
        this.health = null;
        if (was && !restarted) this.lastError = 'connection to the broker lost';
        this._setState();
    }

    /** Subscribes to the board topic of each tenant the info lists (once per connection and list). */
    async _subscribeBoards(epoch) {
        if (!this.info || this.info.role !== ROLE || !this.connected) return;
        const ids = (this.info.tenants || []).map((t) => t.id).filter(Boolean);
        const key = `${epoch}:${ids.join(',')}`;
        if (key === this.boardsKey) return;
        this.boardsKey = key;
        try {
            if (ids.length) await this.link.subscribe(ids.map(boardTopic));
            if (this.boardsKey === key) { this.subscribed = true; this.lastError = null; }
        } catch (err) {
            if (this.boardsKey === key) { this.subscribed = false; this.lastError = err.message; }
        }
        this._setState();
    }

    _onMessage(topic, payload) {
        this.topicsSeen.add(topic);
        const doc = safeJson(payload);
        if (topic === HEALTH_TOPIC) {
            this.health = doc === undefined ? { status: 'offline', reason: 'no bridge health published' } : (doc || { status: 'unknown' });
            return this._setState();
        }
        if (topic === deviceInfoTopic(this.username)) return this._onInfo(doc);
        const t = (this.info?.tenants || []).find((x) => boardTopic(x.id) === topic);
        if (!t) return;
        const clean = doc === undefined ? null : cleanDoc(doc);
        this.docs.set(t.id, clean);
        for (const fn of this.listeners.board) fn(t.id, clean);
    }

    _onInfo(doc) {
        const info = boardInfo(doc);
        if (!info) return;
        this.info = info;
        saveInfo(this.username, info);
        for (const fn of this.listeners.info) fn(info);
        const want = this._will();
        const have = this.link.willAtConnect;
        if (want && !this.noPresence && this.connected && (!have || have.topic !== want.topic)) {
            // Nothing cached at the first connect, so no will: connect again, once, with it.
            this.link.setWill(want);
            this.link.restart();
            return;
        }
        this._subscribeBoards(this.link.epoch);
        this._setState();
    }

    _setState() {
        const s = connectionState({ connected: this.connected, lastError: this.lastError, nextRetryAt: this.link?.nextRetryAt,
            info: this.info, subscribed: this.subscribed, health: this.health });
        if (s.state === this.state.state && s.reason === this.state.reason) return;
        this.state = s;
        for (const fn of [...this.listeners.state]) fn(s);
    }

    onState(cb) { this.listeners.state.add(cb); cb(this.state); return () => this.listeners.state.delete(cb); }
    onInfo(cb) { this.listeners.info.add(cb); if (this.info) cb(this.info); return () => this.listeners.info.delete(cb); }
    /** cb(tenant, doc|null) for every board document (the ones received so far first). */
    onBoard(cb) {
        this.listeners.board.add(cb);
        for (const [t, d] of this.docs) cb(t, d);
        return () => this.listeners.board.delete(cb);
    }
}

// ---- login (as on the kitchen page: ?user=&pass=, else remembered, else the form) ----
const LOGIN_KEY = `kb:login:${ROLE}`;

async function login() {
    const params = new URLSearchParams(location.search);
    let creds = null;
    if (params.get('user')) creds = { username: params.get('user'), password: params.get('pass') ?? params.get('user') };
    else { try { creds = JSON.parse(localStorage.getItem(LOGIN_KEY) || 'null'); } catch { creds = null; } }
    let cfg;
    for (;;) {
        try { cfg = await loadConfig(); break; } catch (err) {
            loginMessage(`Cannot reach the server (${err.message}); retrying…`);
            await new Promise((r) => setTimeout(r, 2000));
        }
    }
    for (;;) {
        if (!creds) creds = await askLogin();
        const c = await new BoardConnection({ url: cfg.url, version: cfg.version, ...creds }).start();
        const verdict = await firstVerdict(c);
        if (verdict === 'ok') {
            localStorage.setItem(LOGIN_KEY, JSON.stringify(creds));
            $('#login').hidden = true;
            if (params.get('user')) history.replaceState(null, '', location.pathname);   // no password in the address bar
            return c;
        }
        await c.close();
        creds = null;
        localStorage.removeItem(LOGIN_KEY);
        loginMessage(verdict);
    }
}

/** 'ok' once the device is known to be a board (or we are offline with a board remembered). */
function firstVerdict(c) {
    return new Promise((resolve) => {
        const offs = [];
        let done = false;
        const check = () => {
            if (done) return;
            let v = null;
            if (c.authRefused) v = 'Wrong username or password.';
            else if (c.info) v = c.info.role === ROLE ? 'ok' : `“${c.username}” is a ${c.info.role} device, not a board device.`;
            else if (!$('#login').hidden) $('#login .login-error').textContent = `${c.username}: ${c.state.reason}…`;
            if (v === null) return;
            done = true;
            queueMicrotask(() => offs.forEach((off) => off()));
            resolve(v);
        };
        offs.push(c.onState(check), c.onInfo(check));
    });
}

function askLogin() {
    const box = $('#login');
    box.hidden = false;
    const form = $('form', box);
    setTimeout(() => $('input[name=username]', form).focus(), 0);
    return new Promise((resolve) => {
        form.onsubmit = (ev) => {
            ev.preventDefault();
            const username = $('input[name=username]', form).value.trim();
            if (!username) return;
            $('.login-error', box).textContent = 'Connecting…';
            resolve({ username, password: $('input[name=password]', form).value });
        };
    });
}

function loginMessage(msg) {
    $('#login').hidden = false;
    $('#login .login-error').textContent = msg;
}

// ---- rendering ----------------------------------------------------------------------
function tenants() { return conn?.info?.tenants || []; }

function render() {
    const groups = boardGroups(tenants(), docs);
    const single = groups.length === 1;
    document.body.classList.toggle('single', single);
    const info = conn?.info;
    const title = single ? groups[0].name : (info?.outlet_name || info?.outlet || 'Pickup');
    $('#brand').textContent = title;
    document.title = `${title} · pickup board`;
    const root = $('#groups');
    root.style.gridTemplateRows = rowWeights(groups).join(' ') || 'minmax(0, 1fr)';
    root.replaceChildren(...groups.map((g) => el('section', { class: `group${g.preparing.length || g.ready.length ? '' : ' quiet'}`, 'data-tenant': g.id, 'data-testid': 'group' },
        el('h2', { text: g.name }),
        cell('cell-preparing', g.preparing.map((n) => el('li', { 'data-number': n, text: n }))),
        cell('cell-ready', g.ready.map((r) => el('li', { 'data-number': r.number, 'data-since': r.since },
            el('span', { class: 'n', text: r.number }), r.name ? el('span', { class: 'pickup', text: r.name }) : null))))));
    const quiet = !groups.some((g) => g.preparing.length || g.ready.length);
    $('#board').classList.toggle('all-quiet', quiet);
    $('#board-empty').hidden = !quiet || !conn?.info;
    stage();
    fitAll();
}

function cell(cls, items) {
    return el('div', { class: `cell ${cls}`, 'data-testid': cls, 'data-total': String(items.length), 'data-hidden': '0' },
        el('ul', { class: 'nums' }, ...items, el('li', { class: 'more', hidden: true })));
}

/** The smallest size a number may take, in px: readable from a few metres. */
function minSize(ready) {
    const short = Math.min(innerWidth, innerHeight);
    return Math.max(16, Math.round(short * (ready ? 0.04 : 0.03)));
}

/** Sizes every cell's numbers to the largest that fits; below the smallest
 *  readable size, shows as many as fit and "+N more". */
function fitAll() {
    for (const c of document.querySelectorAll('#groups .cell')) fitCell(c);
    const box = $('#groups').getBoundingClientRect();
    kb.fits++;
    kb.fitBox = `${Math.round(box.width)}x${Math.round(box.height)}`;     // the board's size the numbers were sized for
}

function fitCell(c) {
    const list = c.querySelector('.nums');
    const items = [...list.querySelectorAll('li[data-number]')];
    const more = list.querySelector('li.more');
    const ready = c.classList.contains('cell-ready');
    const fits = () => list.scrollHeight <= c.clientHeight - padY(c) + 0.5 && list.scrollWidth <= list.clientWidth + 0.5;
    const size = (px) => list.style.setProperty('--fs', `${px}px`);
    const show = (k) => {
        items.forEach((li, i) => { li.hidden = i >= k; });
        more.hidden = k >= items.length;
        more.textContent = moreLabel(items.length - k);
        c.dataset.hidden = String(items.length - k);
    };
    show(items.length);
    if (!items.length) return;
    const lo = minSize(ready);
    const hi = Math.max(lo, Math.min(Math.floor((c.clientHeight - padY(c)) / (ready ? 1.7 : 1.25)), 360));
    const px = largestFitting(lo, hi, (p) => { size(p); return fits(); });
    size(px);
    if (fits()) return;
    // Even the smallest size is too big: as many numbers as fit, then "+N more".
    const k = largestFitting(0, items.length - 1, (n) => { show(n); return fits(); });
    show(k);
}

function padY(c) {
    const s = getComputedStyle(c);
    return parseFloat(s.paddingTop) + parseFloat(s.paddingBottom);
}

/** The ready numbers' look by how long they have been ready (the bridge's clock). */
function stage() {
    const now = bridgeNow();
    for (const li of document.querySelectorAll('#groups .cell-ready li[data-number]')) {
        const s = readyStage(li.dataset.since, now);
        li.classList.toggle('fresh', s === 'fresh');
        li.classList.toggle('old', s === 'old');
    }
}

// ---- offline -------------------------------------------------------------------------
function showOffline(s) {
    const bridgeGone = conn?.health?.status === 'offline';
    const off = s.state === 'offline' || bridgeGone;
    kb.banner = off;
    $('#offline').hidden = !off;
    $('#offline-reason').textContent = off ? ` (${bridgeGone && s.state !== 'offline' ? 'the order system is down' : 'no connection'})` : '';
    document.body.classList.toggle('stale', off);     // the banner's height change re-fits (the ResizeObserver)
}

// ---- documents from the bus --------------------------------------------------------------
function onBoard(tenant, doc) {
    const prev = docs.get(tenant);
    if (doc) docs.set(tenant, doc); else docs.delete(tenant);
    const name = doc?.tenant_name || tenants().find((t) => t.id === tenant)?.name || tenant;
    for (const entry of newlyReady(prev, doc)) pending.push({ entry, tenantName: name });
    if (pending.length && !chimeTimer) chimeTimer = setTimeout(callReady, CHIME_GATHER_MS);
    render();
}

/** One chime for the numbers that just turned ready, then each said aloud (Voice on). */
function callReady() {
    chimeTimer = null;
    const now = pending;
    pending = [];
    if (!now.length) return;
    kb.called.push(...now.map((p) => p.entry.number));
    if (kb.called.length > 200) kb.called.splice(0, kb.called.length - 200);
    alerts.play('new');
    for (const p of now.slice(-MAX_SPOKEN)) alerts.speak(announcement(p.entry, p.tenantName));
}

// ---- start ----------------------------------------------------------------------------
async function start() {
    alerts.installSound();
    alerts.installSwitches();
    alerts.arm();                 // a kiosk browser that allows autoplay needs no tap
    alerts.show();
    document.addEventListener('keydown', () => { if (!alerts.soundOn()) alerts.arm(); });   // a TV remote's key is a gesture too
    $('#settings').addEventListener('click', () => {
        if (prompt('Type "logout" to log this screen out.', '') === 'logout') logout(ROLE);
    });
    keepClock();
    setInterval(stage, 1000);
    // A resized window, a banner shown or gone: the board's box changed, so the numbers are sized again.
    let resizeTimer = null;
    new ResizeObserver(() => { clearTimeout(resizeTimer); resizeTimer = setTimeout(fitAll, 50); }).observe($('#groups'));
    document.fonts?.ready?.then(fitAll);
    window.addEventListener('online', () => conn?.reconnectNow());
    render();

    conn = kb.conn = await login();
    conn.onInfo(() => render());
    conn.onBoard(onBoard);
    showConnection(conn, $('#conn'), (s) => {
        kb.state = s.state;
        kb.reason = s.reason;
        kb.stateLog.push(s.state);
        showOffline(s);
    });
    render();
}

start();
