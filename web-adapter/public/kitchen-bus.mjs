// kitchen-bus.mjs - the browser side of the Kitchen Bus (see docs/CONTRACT.md).
//
// One ES module, no build step beyond vendoring MQTT.js (web-adapter/build.mjs):
//
//   import { connect } from '/kitchen-bus.mjs';
//   const bus = await connect({ url: 'ws://192.168.1.10:3001', username, password });
//   bus.onState(s => ...);                 // {state: 'live'|'degraded'|'offline', reason}
//   await bus.submitOrder({...});          // POS: resolves on accepted/duplicate ack
//   bus.onOrder(ev => ...);                // kitchen + POS: {type: 'new'|'update'|'closed', order, ...}
//   await bus.setStatus('A-1001', 'ready') // kitchen
//
// Every submit and status change goes through a durable outbox in IndexedDB and
// stays there until the bridge acks it, so a reload, a closed tab, a broker or
// bridge outage or dead Wi-Fi loses nothing; entries are re-sent on every
// reconnect (the bridge answers a re-sent message with `duplicate`).
//
// At the bottom: a compatibility layer with the old local-sync client
// (broadcastOrderToKitchen, broadcastOrderUpdate, onNewOrder, acknowledgeOrder,
// localSyncStatus / kitchenSyncStatus / liveOrders stores).
import mqtt from './vendor/mqtt.esm.js';

export const VERSION = '1.0.0';
export const LIVE = 'live';
export const DEGRADED = 'degraded';
export const OFFLINE = 'offline';

const LIFECYCLE = ['new', 'accepted', 'preparing', 'ready', 'served'];
const CLOSED_STATUSES = new Set(['served', 'cancelled']);
/** The status a kitchen moves an order on to, or null at the end. */
export function nextStatus(status) {
    const i = LIFECYCLE.indexOf(status);
    return i >= 0 && i < LIFECYCLE.length - 1 ? LIFECYCLE[i + 1] : null;
}

// ---------------------------------------------------------------------------
// A minimal store with the Svelte store contract (subscribe calls back at once
// and returns an unsubscribe function), so `$store` works in Svelte.
export function writable(value) {
    const subs = new Set();
    return {
        set(v) { value = v; for (const fn of [...subs]) fn(value); },
        update(fn) { this.set(fn(value)); },
        subscribe(fn) { subs.add(fn); fn(value); return () => subs.delete(fn); },
        get() { return value; },
    };
}

// ---------------------------------------------------------------------------
// The durable outbox: one IndexedDB database per device (username).
class Outbox {
    constructor(name) { this.name = name; this.db = null; this.mem = new Map(); this.nextId = 1; }

    async open() {
        if (typeof indexedDB === 'undefined') return this;      // memory only (no IDB)
        this.db = await new Promise((resolve, reject) => {
            const req = indexedDB.open(this.name, 1);
            req.onupgradeneeded = () => req.result.createObjectStore('outbox', { keyPath: 'id', autoIncrement: true });
            req.onsuccess = () => resolve(req.result);
            req.onerror = () => reject(req.error);
            req.onblocked = () => reject(new Error('outbox database blocked by another tab'));
        });
        return this;
    }

    _tx(mode, fn) {
        return new Promise((resolve, reject) => {
            const tx = this.db.transaction('outbox', mode);
            let result;
            const req = fn(tx.objectStore('outbox'));
            if (req) req.onsuccess = () => { result = req.result; };
            tx.oncomplete = () => resolve(result);          // durable once the transaction commits
            tx.onerror = () => reject(tx.error);
            tx.onabort = () => reject(tx.error || new Error('outbox transaction aborted'));
        });
    }

    async add(entry) {
        if (!this.db) { const id = this.nextId++; this.mem.set(id, { ...entry, id }); return id; }
        return this._tx('readwrite', (s) => s.add(entry));
    }

    async put(entry) {
        if (!this.db) { this.mem.set(entry.id, { ...entry }); return; }
        await this._tx('readwrite', (s) => s.put(entry));
    }

    async delete(id) {
        if (!this.db) { this.mem.delete(id); return; }
        await this._tx('readwrite', (s) => s.delete(id));
    }

    async all() {
        if (!this.db) return [...this.mem.values()].sort((a, b) => a.id - b.id);
        const rows = await this._tx('readonly', (s) => s.getAll());
        return rows.sort((a, b) => a.id - b.id);
    }
}

// ---------------------------------------------------------------------------
function storage() {
    try { return typeof localStorage !== 'undefined' ? localStorage : null; } catch { return null; }
}

function randomId() {
    const a = new Uint8Array(6);
    (globalThis.crypto || { getRandomValues: (x) => x.map(() => Math.random() * 256) }).getRandomValues(a);
    return [...a].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** A stable MQTT client id for this device on this browser (kept in localStorage). */
export function stableClientId(username) {
    const ls = storage();
    const key = `kb:client-id:${username}`;
    let id = ls?.getItem(key);
    if (!id) {
        id = `kb-${username}-${randomId()}`.slice(0, 64);
        ls?.setItem(key, id);
    }
    return id;
}

/** A new order number: short, unique enough per POS, valid per the contract. */
export function newOrderNumber(prefix = 'W') {
    const t = Date.now().toString(36).toUpperCase().slice(-6);
    return `${prefix}-${t}${randomId().slice(0, 3).toUpperCase()}`;
}

function safeJson(buf) {
    if (!buf || buf.length === 0) return undefined;      // empty retained = cleared
    try {
        const text = typeof buf === 'string' ? buf : new TextDecoder().decode(buf);
        return JSON.parse(text);
    } catch {
        return null;
    }
}

const REFUSED = {
    134: 'bad username or password', 135: 'not authorized', 4: 'bad username or password',
    5: 'not authorized', 136: 'server unavailable', 137: 'server busy', 138: 'banned',
};

// ---------------------------------------------------------------------------
export class KitchenBus {
    /**
     * @param {object} o
     * @param {string} o.url        ws://host:port (MQTT over WebSockets)
     * @param {string} o.username   the device's registry username
     * @param {string} o.password
     * @param {string} [o.clientId] defaults to a stable per-device id in localStorage
     * @param {number} [o.sessionExpiry] seconds the broker keeps the session (default 7 days)
     * @param {number} [o.backoffMinMs] first reconnect delay (default 500)
     * @param {number} [o.backoffMaxMs] reconnect delay cap (default 10000)
     * @param {number} [o.resendAfterMs] re-send an entry the bridge has not acked after this long (default 8000)
     * @param {number} [o.keepalive] MQTT keepalive seconds (default 10: a dead Wi-Fi shows within ~15 s)
     */
    constructor(o) {
        if (!o || !o.url || !o.username) throw new Error('connect({url, username, password}) needs url and username');
        this.url = o.url;
        this.username = o.username;
        this.password = o.password ?? '';
        this.clientId = o.clientId || stableClientId(o.username);
        this.explicitClientId = Boolean(o.clientId);
        this.sessionExpiry = o.sessionExpiry ?? 7 * 24 * 3600;
        this.backoffMinMs = o.backoffMinMs ?? 500;
        this.backoffMaxMs = o.backoffMaxMs ?? 10000;
        this.resendAfterMs = o.resendAfterMs ?? 8000;
        this.keepalive = o.keepalive ?? 10;
        this.log = o.log || (() => {});

        const cached = storage()?.getItem(`kb:info:${this.username}`);
        this.info = cached ? safeJson(cached) : null;            // {device, role, tenant, tenant_name, outlet}
        this.health = null;                                      // last outlet/bridge/health document
        this.connected = false;
        this.subscribed = false;                                 // tenant topics subscribed on this connection
        this.epoch = 0;                                          // connection counter
        this.attempt = 0;
        this.lastError = null;
        this.closedByUser = false;
        this.state = { state: OFFLINE, reason: 'connecting', since: Date.now(), outbox: 0 };

        this.outbox = new Outbox(`kitchen-bus-outbox:${this.username}`);
        this.queue = [];                                         // in-memory mirror of the outbox, by id
        this.waiters = new Map();                                // outbox id -> {resolve, reject}
        this.orders = new Map();                                 // order_number -> {order, seq, open, status}
        this.listeners = { order: new Set(), state: new Set(), ack: new Set(), outbox: new Set(), info: new Set() };
        this.sync = null;                                        // {seen: Set} while the retained snapshot arrives
        // Raw counts for support and tests (before dedup): messages by kind, created events by order.
        this.stats = { orders: 0, cleared: 0, events: 0, acks: 0, created: new Map() };
    }

    // ---- lifecycle --------------------------------------------------------
    async start() {
        await this._claimClientId();
        await this.outbox.open();
        this.queue = await this.outbox.all();
        this._emitOutbox();
        this.client = mqtt.connect(this.url, {
            clientId: this.clientId,
            username: this.username,
            password: this.password,
            protocolVersion: 5,
            clean: false,                                        // persistent session: QoS 1 queued while away
            properties: { sessionExpiryInterval: this.sessionExpiry },
            keepalive: this.keepalive,
            reconnectPeriod: 0,                                  // we reconnect ourselves, with capped backoff
            connectTimeout: 5000,
            resubscribe: false,                                  // we subscribe on every connect ourselves
        });
        this.client.on('connect', (connack) => this._onConnect(connack));
        this.client.on('close', () => this._onClose());
        this.client.on('error', (err) => this._onError(err));
        this.client.on('message', (topic, payload, packet) => this._onMessage(topic, payload, packet));
        this.timer = setInterval(() => this._tick(), 1000);
        this._setState();
        return this;
    }

    /** Two tabs of one device on one browser must not share a client id (the broker
     *  would let each connection kick the other out, forever). The first tab keeps
     *  the stable id; another one gets its own, short-lived session. */
    async _claimClientId() {
        this.ownsClientId = true;
        if (this.explicitClientId || typeof navigator === 'undefined' || !navigator.locks) return;
        const got = await new Promise((resolve) => {
            navigator.locks.request(`kitchen-bus:${this.clientId}`, { ifAvailable: true }, (lock) => {
                resolve(Boolean(lock));
                return lock ? new Promise((release) => { this.releaseLock = release; }) : undefined;
            }).catch(() => resolve(true));
        });
        if (!got) {
            this.ownsClientId = false;
            this.clientId = `${this.clientId.slice(0, 50)}-tab${randomId().slice(0, 6)}`;
            this.sessionExpiry = Math.min(this.sessionExpiry, 600);
        }
    }

    /** Stop for good (the outbox stays in IndexedDB for next time). */
    async close() {
        this.closedByUser = true;
        clearInterval(this.timer);
        clearTimeout(this.reconnectTimer);
        for (const rec of this.orders.values()) clearTimeout(rec.closeTimer);
        await new Promise((r) => this.client ? this.client.end(false, {}, r) : r());
        this.releaseLock?.();
        this.connected = false;
        this._setState('closed');
    }

    _scheduleReconnect() {
        if (this.closedByUser || this.reconnectTimer) return;
        const base = Math.min(this.backoffMaxMs, this.backoffMinMs * 2 ** Math.min(this.attempt, 10));
        const delay = Math.round(base / 2 + Math.random() * base / 2);   // capped, jittered
        this.attempt++;
        this.nextRetryAt = Date.now() + delay;
        this.reconnectTimer = setTimeout(() => {
            this.reconnectTimer = null;
            if (!this.closedByUser && !this.client.connected) this.client.reconnect();
        }, delay);
        this._setState();
    }

    /** Try to reconnect now (e.g. the browser says it is back online). */
    reconnectNow() {
        if (this.closedByUser || this.client.connected) return;
        clearTimeout(this.reconnectTimer);
        this.reconnectTimer = null;
        this.attempt = 0;
        this.client.reconnect();
    }

    _onError(err) {
        const code = err && (err.code ?? err.reasonCode);
        this.lastError = REFUSED[code] ? `login refused: ${REFUSED[code]}` : (err?.message || String(err));
        this.authRefused = Boolean(REFUSED[code]);
        this.log('mqtt error', this.lastError);
        this._setState();
    }

    _onClose() {
        const was = this.connected;
        this.connected = false;
        this.subscribed = false;
        this.sync = null;
        this.health = null;                                      // learnt again from the retained copy
        if (was) this.lastError = 'connection to the broker lost';
        for (const e of this.queue) if (e.sent) e.sent = null;   // everything unacked is re-sent next time
        this._setState();
        this._scheduleReconnect();
    }

    async _onConnect(connack) {
        const epoch = ++this.epoch;
        this.connected = true;
        this.attempt = 0;
        this.lastError = null;
        this.authRefused = false;
        this.sessionPresent = Boolean(connack?.sessionPresent);
        this._setState();
        try {
            const base = [`outlet/bridge/health`];
            if (!this.info) {
                // We do not know our tenant yet: the bridge tells us (retained).
                this.waitingInfo = true;
                await this._subscribe([`outlet/device/${this.username}/info`, ...base]);
                return;              // _onInfo continues with _subscribeTenant
            }
            await this._subscribeTenant(epoch);
        } catch (err) {
            if (epoch === this.epoch) { this.lastError = err.message; this._setState(); }
        }
    }

    _subscribe(topics) {
        return new Promise((resolve, reject) => {
            this.client.subscribe(topics, { qos: 1 }, (err, granted) => {
                if (err) return reject(err);
                const refused = (granted || []).filter((g) => g.qos >= 128);
                if (refused.length) return reject(new Error(`subscription refused: ${refused.map((g) => g.topic).join(', ')}`));
                resolve(granted);
            });
        });
    }

    _topics() {
        const t = this.info.tenant, d = this.username;
        const root = `outlet/tenant/${t}`;
        const ack = this.info.role === 'kitchen' ? `${root}/kitchen/${d}/ack` : `${root}/pos/${d}/ack`;
        return {
            orders: `${root}/orders/+`, ordersPrefix: `${root}/orders/`, events: `${root}/events`, ack,
            submit: `${root}/pos/${d}/submit`, status: `${root}/kitchen/${d}/status`,
            info: `outlet/device/${d}/info`, health: 'outlet/bridge/health',
        };
    }

    async _subscribeTenant(epoch) {
        const t = this._topics();
        const first = !this.everSynced;
        this.sync = { seen: new Set(), epoch, first, marker: false };
        // 1. The tenant topics: the broker sends the retained open orders right after the SUBACK.
        await this._subscribe([t.ack, t.events, t.orders]);
        if (epoch !== this.epoch) return;
        // 2. Then health + info again: their retained copies arrive after every retained
        //    order, so the info message marks the end of the open-order snapshot.
        if (this.sync) this.sync.marker = true;
        clearTimeout(this.syncTimer);
        this.syncTimer = setTimeout(() => {                      // no bridge to answer: stop waiting
            if (this.sync && this.sync.epoch === epoch) { this.sync = null; this.everSynced = true; }
        }, 3000);
        await this._subscribe([t.health, t.info]);
        if (epoch !== this.epoch) return;
        this.subscribed = true;
        this._setState();
        this._pump();
    }

    // ---- incoming ---------------------------------------------------------
    _onMessage(topic, payload, packet) {
        const doc = safeJson(payload);
        if (topic === 'outlet/bridge/health') return this._onHealth(doc);
        if (topic === `outlet/device/${this.username}/info`) return this._onInfo(doc);
        if (!this.info) return;
        const t = this._topics();
        if (topic.startsWith(t.ordersPrefix)) doc === undefined ? this.stats.cleared++ : this.stats.orders++;
        else if (topic === t.events) {
            this.stats.events++;
            if (doc?.event === 'created' && this.stats.created.size < 5000) {
                this.stats.created.set(doc.order_number, (this.stats.created.get(doc.order_number) || 0) + 1);
            }
        } else if (topic === t.ack) this.stats.acks++;
        if (topic.startsWith(t.ordersPrefix)) return this._onOrderState(topic.slice(t.ordersPrefix.length), doc, packet);
        if (topic === t.events) return doc && this._onEvent(doc);
        if (topic === t.ack) return doc && this._onAck(doc);
    }

    _onHealth(doc) {
        const before = this.health?.status;
        this.health = doc === undefined ? { status: 'offline', reason: 'no bridge health published' } : (doc || { status: 'unknown' });
        this._setState();
        // The bridge is back: anything it may have missed while away is re-sent.
        if (this.health.status === 'ok' && before !== 'ok') this._resendAwaitingAck();
    }

    _onInfo(doc) {
        if (!doc || typeof doc !== 'object' || !doc.tenant) return;
        const changed = !this.info || this.info.tenant !== doc.tenant || this.info.role !== doc.role;
        this.info = doc;
        storage()?.setItem(`kb:info:${this.username}`, JSON.stringify(doc));
        for (const fn of this.listeners.info) fn(doc);
        if (this.waitingInfo || changed) {
            this.waitingInfo = false;
            if (this.connected) this._subscribeTenant(this.epoch).catch((err) => { this.lastError = err.message; this._setState(); });
            return;
        }
        if (this.sync && this.sync.marker && this.sync.epoch === this.epoch) this._finishSync();
        this._setState();
    }

    /** The retained snapshot is complete: orders we still show but the broker no
     *  longer has were closed while we were away (their close event was lost). */
    _finishSync() {
        const seen = this.sync.seen;
        this.sync = null;
        this.everSynced = true;
        clearTimeout(this.syncTimer);
        if (this.health?.status !== 'ok') return;     // a restarted broker may not have them back yet
        for (const [n, rec] of this.orders) {
            if (rec.open && !seen.has(n)) this._close(rec, n, { status: 'closed', by: null, seq: rec.seq, gone: true });
        }
    }

    _onOrderState(n, doc, packet) {
        if (this.sync) this.sync.seen.add(n);
        const rec = this.orders.get(n);
        if (doc === undefined) {                         // empty retained: the order closed
            if (rec && rec.open && !rec.closeTimer) {
                // The `closed` event says whether it was served or cancelled; wait for it briefly.
                rec.closeTimer = setTimeout(() => {
                    rec.closeTimer = null;
                    if (rec.open) this._close(rec, n, { status: 'closed', by: null, seq: rec.seq });
                }, 1500);
            }
            return;
        }
        if (!doc || typeof doc !== 'object' || typeof doc.seq !== 'number') return;
        this._applyOrder(n, doc, { retained: Boolean(packet?.retain) });
    }

    _applyOrder(n, doc, { retained = false } = {}) {
        const rec = this.orders.get(n);
        if (rec && (rec.gone ? doc.seq < rec.seq : doc.seq <= rec.seq)) return;   // seen it (dedup by order_number + seq)
        if (rec && !rec.open && !rec.gone && !((doc.created_seq ?? doc.seq) > rec.seq)) return;  // stale copy of a closed order
        if (CLOSED_STATUSES.has(doc.status)) return;
        if (!rec || (!rec.open && !rec.gone)) {
            const fresh = { order: doc, seq: doc.seq, open: true, status: doc.status };
            this.orders.set(n, fresh);
            const initial = Boolean(retained && this.sync && this.sync.first);   // already open when this page started
            this._emitOrder({ type: 'new', order_number: n, order: doc, status: doc.status, seq: doc.seq, retained, initial });
            return;
        }
        const previous = rec.status;
        Object.assign(rec, { order: doc, seq: doc.seq, open: true, status: doc.status, gone: false });
        this._emitOrder({ type: 'update', order_number: n, order: doc, status: doc.status, previous, seq: doc.seq, retained });
    }

    _onEvent(ev) {
        const n = ev.order_number;
        if (typeof n !== 'string' || typeof ev.seq !== 'number') return;
        const rec = this.orders.get(n);
        if (ev.event === 'created' && ev.order && typeof ev.order === 'object') {
            return this._applyOrder(n, { ...ev.order, seq: ev.seq, status: ev.order.status || ev.status });
        }
        if (ev.event === 'status') {
            if (!rec || ev.seq <= rec.seq || !rec.open) return;      // unknown: its retained copy will come
            const previous = rec.status;
            rec.order = { ...rec.order, status: ev.status, seq: ev.seq, updated_at: ev.at ?? rec.order.updated_at };
            rec.seq = ev.seq;
            rec.status = ev.status;
            this._emitOrder({ type: 'update', order_number: n, order: rec.order, status: ev.status, previous, seq: ev.seq, by: ev.by });
            return;
        }
        if (ev.event === 'closed') {
            if (!rec) { this.orders.set(n, { order: null, seq: ev.seq, open: false, status: ev.status }); return; }
            if (ev.seq <= rec.seq) return;
            this._close(rec, n, { status: ev.status, by: ev.by, seq: ev.seq, previous: ev.previous });
        }
    }

    _close(rec, n, { status, by, seq, previous, gone = false }) {
        clearTimeout(rec.closeTimer);
        rec.closeTimer = null;
        const prev = previous ?? rec.status;
        rec.open = false;
        rec.gone = gone;
        rec.seq = Math.max(rec.seq, seq);
        rec.status = status;
        if (rec.order) rec.order = { ...rec.order, status };
        this._emitOrder({ type: 'closed', order_number: n, order: rec.order, status, previous: prev, seq: rec.seq, by, cancelled: status === 'cancelled' });
    }

    _emitOrder(ev) {
        for (const fn of [...this.listeners.order]) {
            try { fn(ev); } catch (err) { console.error('onOrder listener failed', err); }
        }
    }

    // ---- the outbox -------------------------------------------------------
    _emitOutbox() {
        this.state = { ...this.state, outbox: this.queue.length };
        for (const fn of this.listeners.outbox) fn(this.queue.length, this.queue);
        for (const fn of this.listeners.state) fn(this.state);
    }

    async _enqueue(kind, orderNumber, payload, expect) {
        const entry = { kind, order_number: orderNumber, payload, expect, created_at: new Date().toISOString(), attempts: 0 };
        entry.id = await this.outbox.add(entry);              // durable before anything is sent
        const done = new Promise((resolve, reject) => this.waiters.set(entry.id, { resolve, reject }));
        this.queue.push(entry);
        this._emitOutbox();
        this._pump();
        return done;
    }

    /** Sends what can be sent: one entry in flight per order number, oldest first. */
    _pump() {
        if (!this.connected || !this.subscribed || !this.info) return;
        const busy = new Set();
        const now = Date.now();
        for (const e of this.queue) {
            if (busy.has(e.order_number)) continue;
            busy.add(e.order_number);
            if (e.sent && e.sent.epoch === this.epoch) continue;
            if (e.retryAt && e.retryAt > now) continue;
            this._send(e);
        }
    }

    _send(e) {
        const t = this._topics();
        const topic = e.kind === 'status' ? t.status : t.submit;
        const payload = { ...e.payload };
        if (e.kind === 'submit' && !payload.action && payload.tenant_id == null) payload.tenant_id = this.info.tenant;
        e.sent = { epoch: this.epoch, at: Date.now(), puback: false };
        e.attempts++;
        e.retryAt = 0;
        const sent = e.sent;
        this.client.publish(topic, JSON.stringify(payload), { qos: 1 }, (err) => {
            if (!err && e.sent === sent) sent.puback = true;
        });
        this.outbox.put(this._persistable(e)).catch(() => {});
    }

    _persistable(e) {
        const { sent, ...rest } = e;      // `sent` is per connection, never stored
        return rest;
    }

    _resendAwaitingAck() {
        for (const e of this.queue) if (e.sent) e.sent = null;
        this._pump();
    }

    _tick() {
        // Safety net: the bridge answers every message once, but an ack sent while we
        // were away is lost. Re-send what has waited too long; the bridge dedupes.
        if (this.connected && this.subscribed && this.health?.status === 'ok') {
            const now = Date.now();
            let again = false;
            for (const e of this.queue) if (e.sent && now - e.sent.at > this.resendAfterMs) { e.sent = null; again = true; }
            if (again || this.queue.some((e) => !e.sent)) this._pump();
        }
        this._setState();
    }

    _onAck(ack) {
        for (const fn of this.listeners.ack) fn(ack);
        const n = ack.order_number;
        if (typeof n !== 'string') return;
        const e = this.queue.find((x) => x.order_number === n);       // the head for this order number
        if (!e || !e.sent) return;                                     // a late ack for something already settled
        if (ack.result === 'accepted' || ack.result === 'duplicate') {
            if (e.expect && ack.status !== e.expect) return;          // a stray ack for an earlier re-send
            return this._settle(e, null, ack);
        }
        if (ack.result === 'rejected') {
            if (ack.error === 'journal_unavailable') {                 // transient: keep it, try again soon
                e.sent = null;
                e.retryAt = Date.now() + 2000;
                this.lastError = 'bridge cannot write its journal; orders are queued';
                return;
            }
            // A re-sent close of an order our first copy already closed.
            if (ack.error === 'order_closed' && e.attempts > 1 && CLOSED_STATUSES.has(e.expect)) {
                return this._settle(e, null, { ...ack, result: 'duplicate', status: e.expect });
            }
            const err = new Error(`${ack.error}${ack.detail ? `: ${ack.detail}` : ''}`);
            err.code = ack.error;
            err.detail = ack.detail;
            err.ack = ack;
            return this._settle(e, err, ack);
        }
    }

    _settle(e, err, ack) {
        this.queue = this.queue.filter((x) => x !== e);
        this.outbox.delete(e.id).catch(() => {});
        const w = this.waiters.get(e.id);
        this.waiters.delete(e.id);
        if (w) err ? w.reject(err) : w.resolve(ack);
        this._emitOutbox();
        this._pump();
    }

    // ---- public API ---------------------------------------------------------
    /** POS: submit an order. Resolves with the ack ({result: 'accepted'|'duplicate', seq, status}),
     *  rejects with an Error whose `code` is the bridge's error code. */
    submitOrder(order) {
        if (!order || typeof order !== 'object') return Promise.reject(new Error('submitOrder needs an order object'));
        const o = { ...order };
        if (!o.order_number) o.order_number = newOrderNumber();
        if (!o.created_at) o.created_at = new Date().toISOString();
        if (o.tenant_id == null && this.info?.tenant) o.tenant_id = this.info.tenant;
        return this._enqueue('submit', String(o.order_number), o, null);
    }

    /** POS: cancel an order. */
    cancelOrder(orderNumber) {
        return this._enqueue('submit', orderNumber, { order_number: orderNumber, action: 'cancel' }, 'cancelled');
    }

    /** Move an order on. A kitchen device publishes on its status topic; a POS
     *  device uses the submit topic's `status` action (e.g. `served`). */
    setStatus(orderNumber, status) {
        if (status === 'cancelled' && this.info?.role === 'pos') return this.cancelOrder(orderNumber);
        if (this.info?.role === 'pos') {
            return this._enqueue('submit', orderNumber, { order_number: orderNumber, action: 'status', status }, status);
        }
        return this._enqueue('status', orderNumber, { order_number: orderNumber, status }, status);
    }

    /** Every open order now (retained) and every change after, deduped.
     *  cb({type: 'new'|'update'|'closed', order_number, order, status, previous, seq, by, cancelled, retained}) */
    onOrder(cb) {
        this.listeners.order.add(cb);
        for (const [n, rec] of this.orders) {
            if (rec.open) cb({ type: 'new', order_number: n, order: rec.order, status: rec.status, seq: rec.seq, retained: true, initial: true, replay: true });
        }
        return () => this.listeners.order.delete(cb);
    }

    /** Connection state: cb({state: 'live'|'degraded'|'offline', reason, since, outbox}) */
    onState(cb) { this.listeners.state.add(cb); cb(this.state); return () => this.listeners.state.delete(cb); }
    onAck(cb) { this.listeners.ack.add(cb); return () => this.listeners.ack.delete(cb); }
    onOutbox(cb) { this.listeners.outbox.add(cb); cb(this.queue.length, this.queue); return () => this.listeners.outbox.delete(cb); }
    onInfo(cb) { this.listeners.info.add(cb); if (this.info) cb(this.info); return () => this.listeners.info.delete(cb); }

    /** The open orders, oldest first. */
    openOrders() {
        return [...this.orders.values()].filter((r) => r.open).map((r) => r.order)
            .sort((a, b) => (a.created_seq ?? a.seq) - (b.created_seq ?? b.seq));
    }

    /** Entries waiting in the outbox (oldest first). */
    pending() { return this.queue.map((e) => ({ ...this._persistable(e), inFlight: Boolean(e.sent) })); }

    _computeState() {
        if (!this.connected) {
            let reason = this.lastError || 'connecting to the broker';
            if (this.nextRetryAt && this.nextRetryAt > Date.now()) {
                reason += `; retrying in ${Math.ceil((this.nextRetryAt - Date.now()) / 1000)} s`;
            }
            return { state: OFFLINE, reason };
        }
        if (!this.info) return { state: DEGRADED, reason: 'waiting for the bridge to publish this device\'s info' };
        if (!this.subscribed) return { state: DEGRADED, reason: this.lastError || 'subscribing' };
        const h = this.health;
        if (!h) return { state: DEGRADED, reason: 'bridge health unknown' };
        if (h.status !== 'ok') {
            return { state: DEGRADED, reason: `bridge ${h.status}${h.broker && h.broker !== 'connected' ? ` (broker ${h.broker})` : ''}: orders are queued` };
        }
        if (this.lastError && this.queue.some((e) => e.retryAt)) return { state: DEGRADED, reason: this.lastError };
        return { state: LIVE, reason: 'broker and bridge up' };
    }

    _setState(forced) {
        const s = forced === 'closed' ? { state: OFFLINE, reason: 'closed' } : this._computeState();
        const prev = this.state;
        const changed = s.state !== prev.state || s.reason !== prev.reason;
        this.state = { ...s, since: s.state !== prev.state ? Date.now() : prev.since, outbox: this.queue.length };
        if (changed) for (const fn of [...this.listeners.state]) fn(this.state);
    }
}

/** Connect a device. Resolves once the outbox is loaded and the connection is
 *  under way (it does not wait for the broker: offline is a normal state). */
export async function connect(opts) {
    const bus = new KitchenBus(opts);
    await bus.start();
    return bus;
}

/** The bridge's /config.json, and the WebSocket URL derived from it. */
export async function loadConfig(base = '') {
    const res = await fetch(`${base}/config.json`, { cache: 'no-store' });
    if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
    const cfg = await res.json();
    const host = (typeof location !== 'undefined' && location.hostname) || 'localhost';
    const proto = typeof location !== 'undefined' && location.protocol === 'https:' ? 'wss' : 'ws';
    cfg.url = cfg.mqtt_ws_url || `${proto}://${host.includes(':') ? `[${host}]` : host}:${cfg.mqtt_ws_port}`;
    return cfg;
}

// ===========================================================================
// Compatibility layer with the old local-sync client. An existing POS or
// kitchen screen migrates by changing its import to this module and calling
// connectToLocalSync({username, password}) (or connectKitchenToLocalSync).
// ===========================================================================
let shared = null;
let sharedStarting = null;
const newOrderCallbacks = new Set();

export const localSyncStatus = writable({ connected: false, error: null, lastConnected: null, clientId: null, state: OFFLINE, outbox: 0 });
export const kitchenSyncStatus = writable({ connected: false, error: null, lastOrder: null, state: OFFLINE, outbox: 0 });
export const liveOrders = writable([]);

/** Start (or return) the shared connection. Options as connect(); url defaults
 *  to /config.json's, credentials to the ones remembered on this device. */
export async function connectToLocalSync(opts = {}) {
    if (shared) return shared;
    if (sharedStarting) return sharedStarting;
    sharedStarting = (async () => {
        const remembered = safeJson(storage()?.getItem('kb:login') || '') || {};
        const o = { ...remembered, ...opts };
        if (!o.url) o.url = (await loadConfig(o.base || '')).url;
        const bus = await connect(o);
        bus.onState((s) => {
            const connected = s.state !== OFFLINE;
            localSyncStatus.update((v) => ({
                ...v, connected, state: s.state, outbox: s.outbox,
                error: s.state === LIVE ? null : s.reason,
                lastConnected: connected ? (v.lastConnected || new Date().toISOString()) : v.lastConnected,
                clientId: bus.clientId,
            }));
            kitchenSyncStatus.update((v) => ({ ...v, connected, state: s.state, outbox: s.outbox, error: s.state === LIVE ? null : s.reason }));
        });
        bus.onOrder((ev) => {
            liveOrders.set(bus.openOrders().slice().reverse());       // newest first, like the old store
            if (ev.type === 'new') {
                kitchenSyncStatus.update((v) => ({ ...v, lastOrder: new Date().toISOString() }));
                for (const cb of newOrderCallbacks) {
                    try { cb(ev.order); } catch (err) { console.error('onNewOrder callback failed', err); }
                }
            }
        });
        shared = bus;
        return bus;
    })();
    try { return await sharedStarting; } finally { sharedStarting = null; }
}
export const connectKitchenToLocalSync = connectToLocalSync;

export async function disconnectFromLocalSync() {
    const bus = shared;
    shared = null;
    if (bus) await bus.close();
}

function requireShared(what) {
    if (!shared) {
        console.warn(`${what}: call connectToLocalSync() first`);
        return null;
    }
    return shared;
}

/** Old API: returns true when the order is in the durable outbox (it will reach
 *  the kitchen once the bridge acks it). The ack promise is on `.lastAck`. */
export function broadcastOrderToKitchen(order) {
    const bus = requireShared('broadcastOrderToKitchen');
    if (!bus || !order) return false;
    broadcastOrderToKitchen.lastAck = bus.submitOrder(order);
    broadcastOrderToKitchen.lastAck.catch((err) => console.warn('order rejected:', order.order_number, err.message));
    return true;
}

/** Old API: status change by order number ('cancelled' cancels). Returns true when queued. */
export function broadcastOrderUpdate(orderNumber, status) {
    const bus = requireShared('broadcastOrderUpdate');
    if (!bus || !orderNumber || !status) return false;
    broadcastOrderUpdate.lastAck = bus.setStatus(orderNumber, status);
    broadcastOrderUpdate.lastAck.catch((err) => console.warn('update rejected:', orderNumber, status, err.message));
    return true;
}

/** Old API: cb(order) once per new order (tenant filtering is done by the broker). */
export function onNewOrder(cb) {
    newOrderCallbacks.add(cb);
    if (shared) for (const o of shared.openOrders()) cb(o);
    return () => newOrderCallbacks.delete(cb);
}

/** Old API: the kitchen confirms receipt: new -> accepted. */
export function acknowledgeOrder(orderNumber) {
    const bus = requireShared('acknowledgeOrder');
    if (!bus) return false;
    const rec = bus.orders.get(orderNumber);
    if (rec && rec.status !== 'new') return true;             // already acknowledged
    bus.setStatus(orderNumber, 'accepted').catch((err) => console.warn('acknowledge rejected:', orderNumber, err.message));
    return true;
}

/** The shared connection, for code that wants the full API. */
export function sharedBus() { return shared; }
