// kb/bus.mjs - KitchenBus: one device's connection to the Kitchen Bus, put
// together from the modules beside it (the public entry point is
// /kitchen-bus.mjs, which re-exports this):
//
//   link.mjs        the MQTT connection, backoff, live/degraded/offline
//   topics.mjs      which topics a device uses
//   snapshot.mjs    when the retained open-order snapshot is complete
//   order-view.mjs  the orders a screen shows, duplicates filtered out
//   outbox.mjs      submits and status changes until the bridge acks them
//                   (stored in IndexedDB by outbox-idb.mjs)
//   device.mjs      the client id and device info kept in localStorage
//   stats.mjs       raw message counts for support and tests
//   presence.mjs    the device's presence (its will, online/offline) and,
//                   for onPresence(), its tenant's screens
import mqtt from '../vendor/mqtt.esm.js';
import { Link, LIVE, OFFLINE, connectionState, describeError } from './link.mjs';
import { HEALTH_TOPIC, classifyTenantTopic, deviceInfoTopic, deviceTopics } from './topics.mjs';
import { SnapshotSync } from './snapshot.mjs';
import { OrderView } from './order-view.mjs';
import { Outbox, wireMessage } from './outbox.mjs';
import { outboxStore } from './outbox-idb.mjs';
import { loadInfo, lockClientId, newOrderNumber, saveInfo, stableClientId, tabClientId } from './device.mjs';
import { countMessage, newStats } from './stats.mjs';
import { safeJson } from './util.mjs';
import { isPartStatus } from './status.mjs';
import { bridgeNow } from './clock.mjs';
import { devicePresenceTopic, isOnline, offlineDoc, onlineDoc, parsePresenceTopic, tenantPresenceFilter } from './presence.mjs';

/** How long to wait for the snapshot's end marker before giving up on it. */
const SYNC_TIMEOUT_MS = 3000;
/** How long a deliberate close waits for the broker to take {"online": false}
 *  before it drops the socket instead (then the will says it). */
const GOODBYE_TIMEOUT_MS = 2000;
/** How long reprint() waits for the bridge's answer. */
const REPRINT_TIMEOUT_MS = 10000;
/** The last /config.json loadConfig() read: the bridge's version for presence. */
let lastConfig = null;
const inPage = () => typeof location !== 'undefined' && typeof addEventListener === 'function';

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
     * @param {boolean} [o.presence] announce this device's presence, with its will (docs/CONTRACT.md
     *                  "Presence"; default: on in a page, off elsewhere, e.g. in Node)
     * @param {string} [o.version] the bridge's version to announce (default: /config.json's, once loadConfig() read it)
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
        this.presenceOn = o.presence ?? inPage();
        this.version = o.version;

        const cached = loadInfo(this.username);
        this.info = cached ? safeJson(cached) : null;            // {device, role, tenant, tenant_name, outlet}
        this.health = null;                                      // last outlet/bridge/health document
        this.subscribed = false;                                 // tenant topics subscribed on this connection
        this.lastError = null;
        this.state = { state: OFFLINE, reason: 'connecting', since: Date.now(), outbox: 0 };
        this.listeners = { order: new Set(), state: new Set(), ack: new Set(), outbox: new Set(), info: new Set(), presence: new Set() };
        // Presence: the tenant's documents (topic -> doc) once onPresence() asked for them.
        this.presence = new Map();
        this.presenceSynced = false;                             // every retained one has arrived on this connection
        this.watchingPresence = false;
        this.presenceMarker = null;                              // the epoch whose next info message ends the presence snapshot
        this.willRefused = false;                                // the broker refused the last CONNECT, which had a will
        this.noPresence = false;                                 // this connection has no will (refused): say nothing

        this.link = null;                                        // made by start() (the client id may change first)
        this.snapshot = new SnapshotSync();
        this.view = new OrderView({ emit: (ev) => this._emitOrder(ev) });
        this.orders = this.view.orders;                          // order_number -> {order, seq, open, status}
        this.outbox = new Outbox({
            store: outboxStore(this.username),
            send: (e, done) => {
                const { topic, body } = wireMessage(e, this._topics(), this.info.tenant);
                this.link.publish(topic, body, done);
            },
            ready: () => (this.connected && this.subscribed && this.info ? this.epoch : null),
            onChange: () => this._emitOutbox(),
        });
        // Raw counts for support and tests (before dedup): messages by kind, created events by order.
        this.stats = newStats();
        // reprint() calls waiting for their answer: order_number -> [{resolve, reject, timer}], oldest first.
        this.reprints = new Map();
    }

    // The connection's own state, read through the link.
    get connected() { return Boolean(this.link?.connected); }
    get epoch() { return this.link?.epoch ?? 0; }
    get attempt() { return this.link?.attempt ?? 0; }
    get nextRetryAt() { return this.link?.nextRetryAt; }
    get closedByUser() { return Boolean(this.link?.closedByUser); }
    get client() { return this.link?.client; }
    /** In-memory mirror of the outbox, by id. */
    get queue() { return this.outbox.queue; }
    get waiters() { return this.outbox.waiters; }
    /** {seen, epoch, first, marker} while the retained snapshot arrives, else null. */
    get sync() { return this.snapshot.current; }
    get everSynced() { return this.snapshot.everSynced; }

    // ---- lifecycle --------------------------------------------------------
    async start() {
        await this._claimClientId();
        await this.outbox.store.open();
        await this.outbox.load();
        this._emitOutbox();
        this.link = new Link({
            connect: (url, opts) => mqtt.connect(url, opts),
            url: this.url,
            options: {
                clientId: this.clientId,
                username: this.username,
                password: this.password,
                properties: { sessionExpiryInterval: this.sessionExpiry },
                keepalive: this.keepalive,
                // Known from the cached info: the will is there from the first CONNECT.
                ...(this._will() ? { will: this._will() } : {}),
            },
            backoffMinMs: this.backoffMinMs,
            backoffMaxMs: this.backoffMaxMs,
            on: {
                connect: (connack, epoch) => this._onConnect(connack, epoch),
                close: (was, restarted) => this._onClose(was, restarted),
                error: (err) => this._onError(err),
                message: (topic, payload, packet) => this._onMessage(topic, payload, packet),
                retry: () => this._setState(),
            },
        });
        this.link.start();
        this.timer = setInterval(() => this._tick(), 1000);
        this._listenPage();
        this._setState();
        return this;
    }

    /** Two tabs of one device on one browser must not share a client id (the broker
     *  would let each connection kick the other out, forever). The first tab keeps
     *  the stable id; another one gets its own, short-lived session. */
    async _claimClientId() {
        this.ownsClientId = true;
        if (this.explicitClientId) return;
        const { owned, release } = await lockClientId(this.clientId);
        this.releaseLock = release;
        if (!owned) {
            this.ownsClientId = false;
            this.clientId = tabClientId(this.clientId);
            this.sessionExpiry = Math.min(this.sessionExpiry, 600);
        }
    }

    /** Stop for good (the outbox stays in IndexedDB for next time). The device
     *  says {"online": false} first: the clean DISCONNECT suppresses its will. */
    async close() {
        this.link?.stop();
        clearInterval(this.timer);
        this._unlistenPage();
        this.view.dispose();
        this._failReprints('closed');
        const said = await this._sayOffline(GOODBYE_TIMEOUT_MS);
        await (this.link ? this.link.end(said === false) : Promise.resolve());
        this.releaseLock?.();
        if (this.link) this.link.connected = false;
        this._setState('closed');
    }

    /** Try to reconnect now (e.g. the browser says it is back online). */
    reconnectNow() { this.link.reconnectNow(); }

    _onError(err) {
        const { message, refused } = describeError(err);
        if (refused && this.link?.options.will && !this.willRefused) {
            // Mosquitto refuses a CONNECT whose will topic the device may not
            // write (a bridge that does not grant presence yet) as it refuses a
            // bad password: try once without the will before calling it a refused login.
            this.willRefused = true;
            this.link.setWill(null);
            this.lastError = `${message} (with its presence will; trying without it)`;
            this.log('mqtt error', this.lastError);
            this._setState();
            return;
        }
        this.lastError = message;
        this.authRefused = refused;
        this.log('mqtt error', this.lastError);
        this._setState();
    }

    _onClose(was, restarted = false) {
        this.subscribed = false;
        this.snapshot.reset();
        this.health = null;                                      // learnt again from the retained copy
        if (was && !restarted) this.lastError = 'connection to the broker lost';
        this.outbox.unsend();                                    // everything unacked is re-sent next time
        this._failReprints('connection to the broker lost before the bridge answered (it may still print)');
        this._presenceLost();
        this._setState();
    }

    async _onConnect(connack, epoch) {
        this.lastError = null;
        this.authRefused = false;
        this.sessionPresent = Boolean(connack?.sessionPresent);
        // Let in without the will it was refused with: no presence on this
        // connection; the next one tries with it again (the bridge granting
        // presence changes the device's role, which makes the broker drop it).
        this.noPresence = this.willRefused;
        if (this.willRefused) {
            this.willRefused = false;
            this.link.setWill(this._will());
        }
        this._setState();
        try {
            if (!this.info) {
                // We do not know our tenant yet: the bridge tells us (retained).
                this.waitingInfo = true;
                await this.link.subscribe([deviceInfoTopic(this.username), HEALTH_TOPIC]);
                return;              // _onInfo continues (a reconnect with the will, or _subscribeTenant)
            }
            this._announce();
            await this._subscribeTenant(epoch);
        } catch (err) {
            if (epoch === this.epoch) { this.lastError = err.message; this._setState(); }
        }
    }

    _topics() { return deviceTopics(this.info, this.username); }

    async _subscribeTenant(epoch) {
        const t = this._topics();
        this.snapshot.begin(epoch);
        // 1. The tenant topics: the broker sends the retained open orders right after the SUBACK.
        await this.link.subscribe([t.ack, t.events, t.orders].filter(Boolean));
        if (epoch !== this.epoch) return;
        // (The tenant's presence, if asked for: on its own, as a refusal is no reason to stop.)
        if (this.watchingPresence) this._subscribePresence(epoch);
        // 2. Then health + info again: their retained copies arrive after every retained
        //    order, so the info message marks the end of the open-order snapshot.
        this.snapshot.markerSent();
        clearTimeout(this.syncTimer);
        this.syncTimer = setTimeout(() => this.snapshot.giveUp(epoch), SYNC_TIMEOUT_MS);   // no bridge to answer: stop waiting
        await this.link.subscribe([t.health, t.info]);
        if (epoch !== this.epoch) return;
        this.subscribed = true;
        this._setState();
        this._pump();
    }

    // ---- presence -----------------------------------------------------------
    /** This device's will: {"online": false} on its presence topic, retained,
     *  QoS 1; null while its topic is unknown (no info yet) or presence is off. */
    _will() {
        const topic = this.presenceOn ? devicePresenceTopic(this.info, this.username) : null;
        return topic ? { topic, payload: JSON.stringify(offlineDoc(this.info)), qos: 1, retain: true } : null;
    }

    /** Connected with the will it has now: {"online": true, ...}, retained. */
    _announce() {
        const will = this.link?.willAtConnect;
        if (!this.presenceOn || !will || this.noPresence || !this.connected || this.closedByUser) return;
        const doc = onlineDoc({
            since: new Date(bridgeNow()).toISOString(),
            page: typeof location !== 'undefined' ? location.pathname : undefined,
            version: this.version ?? lastConfig?.version,
            userAgent: typeof navigator !== 'undefined' ? navigator.userAgent : undefined,
            station: this.info?.station,
        });
        this.link.publish(will.topic, JSON.stringify(doc), (err) => { if (err) this.log('presence', err.message); }, { retain: true });
    }

    /** Says {"online": false} (the will's payload) and resolves true once the
     *  broker has it, false if it cannot be said or took too long, null if there
     *  was nothing to say (no presence on this connection). */
    _sayOffline(timeoutMs) {
        const will = this.link?.willAtConnect;
        if (!this.presenceOn || !will || this.noPresence || !this.connected) return Promise.resolve(null);
        return new Promise((resolve) => {
            const timer = setTimeout(() => resolve(false), timeoutMs);
            this.link.publish(will.topic, will.payload, (err) => { clearTimeout(timer); resolve(!err); }, { retain: true });
        });
    }

    /** The will this connection was made with is not the one the info asks
     *  for (none yet, another topic or station): connect again with it. */
    _needsNewWill() {
        const want = this._will();
        const have = this.link?.willAtConnect;
        if (!want || this.noPresence || !this.connected) return false;
        return !have || have.topic !== want.topic || have.payload !== want.payload;
    }

    /** A page going away (closed, reloaded, navigated) says goodbye, best
     *  effort; one restored from the back/forward cache connects again. */
    _listenPage() {
        if (!this.presenceOn || !inPage()) return;
        this.pageHandlers = {
            pagehide: () => {
                if (this.closedByUser) return;
                this._sayOffline(GOODBYE_TIMEOUT_MS);
                this.link.stop();
                this.link.end();
            },
            pageshow: (ev) => { if (ev.persisted) this.link.resume(); },
        };
        for (const [name, fn] of Object.entries(this.pageHandlers)) addEventListener(name, fn);
    }

    _unlistenPage() {
        for (const [name, fn] of Object.entries(this.pageHandlers || {})) removeEventListener(name, fn);
        this.pageHandlers = null;
    }

    /** Subscribes to the tenant's presence; its retained documents are all
     *  in when the info (re-subscribed behind it) arrives. */
    _subscribePresence(epoch, marker = false) {
        this.presence.clear();                                   // every retained one comes again
        this.presenceSynced = false;
        // The next info message ends it: the info is subscribed right behind
        // (_subscribeTenant's marker, or here for a late onPresence()), and
        // messages on one connection arrive in order.
        this.presenceMarker = epoch;
        this._emitPresence();
        this.link.subscribe([tenantPresenceFilter(this.info.tenant)]).catch((err) => {
            if (epoch !== this.epoch) return;
            this.log('presence', err.message);                  // refused: no presence to show
            this.presenceMarker = null;
            if (this.presenceSynced) { this.presenceSynced = false; this._emitPresence(); }
        });
        if (marker) this.link.subscribe([deviceInfoTopic(this.username)]).catch(() => {});
    }

    _presenceLost() {
        this.presenceMarker = null;
        if (this.presenceSynced) { this.presenceSynced = false; this._emitPresence(); }
    }

    _onPresence(topic, doc) {
        if (doc === undefined) this.presence.delete(topic); else this.presence.set(topic, doc);
        // Our own document says offline while we are on (a second tab of this
        // device closed, or an old connection's will came late): on again.
        if (topic === this.link?.willAtConnect?.topic && !isOnline(doc)) this._announce();
        this._emitPresence();
    }

    _emitPresence() {
        const p = { synced: this.presenceSynced, docs: this.presence };
        for (const fn of [...this.listeners.presence]) {
            try { fn(p); } catch (err) { console.error('onPresence listener failed', err); }
        }
    }

    // ---- incoming ---------------------------------------------------------
    _onMessage(topic, payload, packet) {
        const doc = safeJson(payload);
        if (topic === HEALTH_TOPIC) return this._onHealth(doc);
        if (topic === deviceInfoTopic(this.username)) return this._onInfo(doc);
        if (!this.info) return;
        if (this.watchingPresence && parsePresenceTopic(topic, this.info.tenant)) return this._onPresence(topic, doc);
        const m = classifyTenantTopic(topic, this._topics());
        if (!m) return;
        countMessage(this.stats, m.kind, doc);
        if (m.kind === 'order') return this._onOrderState(m.orderNumber, doc, packet);
        if (m.kind === 'events') return doc && this.view.applyEvent(doc);
        if (m.kind === 'ack') return doc && this._onAck(doc);
    }

    _onHealth(doc) {
        const before = this.health?.status;
        this.health = doc === undefined ? { status: 'offline', reason: 'no bridge health published' } : (doc || { status: 'unknown' });
        this._setState();
        // The bridge is back: anything it may have missed while away is re-sent.
        if (this.health.status === 'ok' && before !== 'ok') this.outbox.resendAll();
    }

    _onInfo(doc) {
        if (!doc || typeof doc !== 'object' || !doc.tenant) return;
        const changed = !this.info || this.info.tenant !== doc.tenant || this.info.role !== doc.role;
        this.info = doc;
        saveInfo(this.username, doc);
        if (this.presenceMarker === this.epoch) {
            // Behind the presence subscription: its retained documents are all in.
            this.presenceMarker = null;
            this.presenceSynced = true;
            this._emitPresence();
        }
        for (const fn of this.listeners.info) fn(doc);
        if (this._needsNewWill()) {
            // The will's topic comes from the info: the first connection of a device
            // with nothing cached had none. Connect again, once, with it (same session).
            this.waitingInfo = false;
            this.link.setWill(this._will());
            this.link.restart();
            return;                  // _onConnect subscribes on the new connection
        }
        if (this.waitingInfo || changed) {
            this.waitingInfo = false;
            if (this.connected) this._subscribeTenant(this.epoch).catch((err) => { this.lastError = err.message; this._setState(); });
            return;
        }
        const seen = this.snapshot.complete(this.epoch);
        if (seen) this._finishSync(seen);
        this._setState();
    }

    /** The retained snapshot is complete: orders we still show but the broker no
     *  longer has were closed while we were away (their close event was lost). */
    _finishSync(seen) {
        clearTimeout(this.syncTimer);
        if (this.health?.status !== 'ok') return;     // a restarted broker may not have them back yet
        this.view.closeMissing(seen);
    }

    _onOrderState(n, doc, packet) {
        this.snapshot.saw(n);
        const retained = Boolean(packet?.retain);
        // Already open when this page started: no alert.
        this.view.applyState(n, doc, { retained, initial: retained && this.snapshot.isFirst() });
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

    _enqueue(kind, orderNumber, payload, expect) {
        return this.outbox.enqueue(kind, orderNumber, payload, expect);
    }

    /** Sends what can be sent: one entry in flight per order number, oldest first. */
    _pump() { this.outbox.pump(); }

    _tick() {
        // Safety net: the bridge answers every message once, but an ack sent while we
        // were away is lost. Re-send what has waited too long; the bridge dedupes.
        if (this.connected && this.subscribed && this.health?.status === 'ok') this.outbox.resendStale(this.resendAfterMs);
        this._setState();
    }

    _onAck(ack) {
        for (const fn of this.listeners.ack) fn(ack);
        // An ack with an "action" answers a request that is no order change (a
        // reprint): it must never settle an outbox entry of the same order number.
        if (ack.action !== undefined) {
            if (ack.action === 'reprint') this._onReprintAck(ack);
            return;
        }
        if (this.outbox.onAck(ack) === 'retry') this.lastError = 'bridge cannot write its journal; orders are queued';
    }

    // ---- reprints (not order changes: never in the outbox) -------------------
    _onReprintAck(ack) {
        const list = typeof ack.order_number === 'string' ? this.reprints.get(ack.order_number) : null;
        const w = list?.shift();
        if (!w) return;                                          // a late answer: that reprint() timed out
        if (!list.length) this.reprints.delete(ack.order_number);
        clearTimeout(w.timer);
        if (ack.result === 'accepted') return w.resolve(ack);
        const err = new Error(ack.detail || ack.error || 'the bridge refused the reprint');
        err.code = ack.error || 'reprint';
        err.detail = ack.detail;
        err.ack = ack;
        w.reject(err);
    }

    _dropReprint(n, w) {
        const list = this.reprints.get(n);
        const i = list ? list.indexOf(w) : -1;
        if (i >= 0) list.splice(i, 1);
        if (list && !list.length) this.reprints.delete(n);
        clearTimeout(w.timer);
    }

    /** Every reprint() still waiting fails with code 'offline'. */
    _failReprints(why) {
        const all = [...this.reprints.values()].flat();
        this.reprints.clear();
        for (const w of all) {
            clearTimeout(w.timer);
            w.reject(Object.assign(new Error(why), { code: 'offline' }));
        }
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
     *  device uses the submit topic's `status` action (e.g. `served`). A device
     *  bound to a station (info.station) moves its part: preparing or ready. */
    setStatus(orderNumber, status) {
        if (status === 'cancelled' && this.info?.role === 'pos') return this.cancelOrder(orderNumber);
        if (this.info?.role === 'pos') {
            return this._enqueue('submit', orderNumber, { order_number: orderNumber, action: 'status', status }, status);
        }
        // A station screen reports its station's part (the bridge takes a bound
        // screen's preparing/ready as its part either way; saying so is the contract).
        const station = this.info?.station;
        const payload = station && isPartStatus(status) ? { order_number: orderNumber, station, status } : { order_number: orderNumber, status };
        return this._enqueue('status', orderNumber, payload, status);
    }

    /** Kitchen and expo screens: print order `orderNumber`'s ticket again, on the
     *  printers that print it (a station screen's: its station's part, on its
     *  station's printer). Sent once, QoS 1, on the device's status topic as
     *  {"order_number", "action": "reprint"}; it is no order change, so it is
     *  not kept in the outbox and never re-sent (a copy sent twice prints twice).
     *  Resolves with the bridge's ack ({result: 'accepted'}); rejects with an
     *  Error whose `code` is the bridge's error code ('reprint': `detail` says
     *  why, e.g. "no printer prints order A-17"), 'offline' (not live: nothing
     *  sent, or the connection was lost before the answer), 'timeout' (no
     *  answer within timeoutMs: it may still print) or 'not_a_screen'. */
    reprint(orderNumber, { timeoutMs = REPRINT_TIMEOUT_MS } = {}) {
        const fail = (code, message) => Promise.reject(Object.assign(new Error(message), { code }));
        if (this.info && this.info.role !== 'kitchen' && this.info.role !== 'expo') {
            return fail('not_a_screen', 'only a kitchen or expo screen can ask for a reprint');
        }
        const s = this._computeState();
        if (s.state !== LIVE) return fail('offline', `not sent: ${s.reason}`);
        const n = String(orderNumber);
        return new Promise((resolve, reject) => {
            const w = { resolve, reject, timer: null };
            w.timer = setTimeout(() => {
                this._dropReprint(n, w);
                reject(Object.assign(new Error(`no answer from the bridge within ${Math.round(timeoutMs / 1000)} s (it may still print)`), { code: 'timeout' }));
            }, timeoutMs);
            if (!this.reprints.has(n)) this.reprints.set(n, []);
            this.reprints.get(n).push(w);
            this.link.publish(this._topics().status, JSON.stringify({ order_number: n, action: 'reprint' }), (err) => {
                if (!err || !this.reprints.get(n)?.includes(w)) return;
                this._dropReprint(n, w);
                reject(Object.assign(new Error(`not sent: ${err.message}`), { code: 'offline' }));
            });
        });
    }

    /** Every open order now (retained) and every change after, deduped.
     *  cb({type: 'new'|'update'|'closed', order_number, order, status, previous, seq, by, cancelled, retained}) */
    onOrder(cb) {
        this.listeners.order.add(cb);
        this.view.replay(cb);
        return () => this.listeners.order.delete(cb);
    }

    /** Connection state: cb({state: 'live'|'degraded'|'offline', reason, since, outbox}) */
    onState(cb) { this.listeners.state.add(cb); cb(this.state); return () => this.listeners.state.delete(cb); }
    onAck(cb) { this.listeners.ack.add(cb); return () => this.listeners.ack.delete(cb); }
    onOutbox(cb) { this.listeners.outbox.add(cb); cb(this.queue.length, this.queue); return () => this.listeners.outbox.delete(cb); }
    onInfo(cb) { this.listeners.info.add(cb); if (this.info) cb(this.info); return () => this.listeners.info.delete(cb); }

    /** The tenant's presence (docs/CONTRACT.md "Presence"): cb({synced, docs}),
     *  docs a Map topic -> document of every device of the tenant, synced once
     *  every retained one has arrived on this connection (false while offline).
     *  presenceWarnings(docs, bus.info) says what to show. Subscribes on first use. */
    onPresence(cb) {
        this.listeners.presence.add(cb);
        cb({ synced: this.presenceSynced, docs: this.presence });
        if (!this.watchingPresence) {
            this.watchingPresence = true;
            if (this.connected && this.subscribed && this.info) this._subscribePresence(this.epoch, true);
        }
        return () => this.listeners.presence.delete(cb);
    }

    /** The open orders, oldest first. */
    openOrders() { return this.view.openOrders(); }

    /** Entries waiting in the outbox (oldest first). */
    pending() { return this.outbox.pending(); }

    _computeState() {
        return connectionState({
            connected: this.connected, lastError: this.lastError, nextRetryAt: this.nextRetryAt, info: this.info,
            subscribed: this.subscribed, health: this.health, retrying: this.outbox.retrying(),
        });
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
    lastConfig = cfg;
    const host = (typeof location !== 'undefined' && location.hostname) || 'localhost';
    const proto = typeof location !== 'undefined' && location.protocol === 'https:' ? 'wss' : 'ws';
    cfg.url = cfg.mqtt_ws_url || `${proto}://${host.includes(':') ? `[${host}]` : host}:${cfg.mqtt_ws_port}`;
    return cfg;
}
