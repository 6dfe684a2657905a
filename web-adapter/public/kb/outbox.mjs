// kb/outbox.mjs - the durable outbox as a state machine (pure: the storage and
// the sending are passed in). Every submit and status change is stored before
// it is sent and stays until the bridge acks it, so a reload, a closed tab, a
// broker or bridge outage or dead Wi-Fi loses nothing; entries are re-sent on
// every reconnect (the bridge answers a re-sent message with `duplicate`).
//
//   const box = new Outbox({ store, send, ready, onChange });
//   await box.load();                       // what an earlier page left
//   const ack = await box.enqueue('submit', 'A-1', payload, null);
//
// store:    {add(entry) -> id, put(entry), delete(id), all() -> entries by id}, all async
//           (MemoryStore below; IndexedDB in outbox-idb.mjs)
// send:     send(entry, done) publishes the entry (wireMessage builds it); done(err) on PUBACK
// ready():  the connection's epoch when entries may be sent now, else null
// onChange: the queue changed (an entry added or settled)
//
// An entry: {id, kind: 'submit'|'status', order_number, payload, expect, created_at,
// attempts, retryAt, sent} where `expect` is the status the ack must carry (null
// for a new order) and `sent` ({epoch, at, puback}, never stored) marks it in flight.
import { isClosed, orderStatusesAfterPart } from './status.mjs';

/** How long an entry the bridge could not journal waits before it is sent again. */
export const JOURNAL_RETRY_MS = 2000;

/** The storage interface in memory (also the fallback where there is no IndexedDB). */
export class MemoryStore {
    constructor() { this.mem = new Map(); this.nextId = 1; }
    async open() { return this; }
    async add(entry) { const id = this.nextId++; this.mem.set(id, { ...entry, id }); return id; }
    async put(entry) { this.mem.set(entry.id, { ...entry }); }
    async delete(id) { this.mem.delete(id); }
    async all() { return [...this.mem.values()].sort((a, b) => a.id - b.id); }
}

/** An entry as it is stored: without `sent`, which is per connection. */
export function persistable(e) {
    const { sent, ...rest } = e;
    return rest;
}

/** The topic and body an entry is published with. `topics` is deviceTopics(). */
export function wireMessage(e, topics, tenant) {
    const topic = e.kind === 'status' ? topics.status : topics.submit;
    const payload = { ...e.payload };
    if (e.kind === 'submit' && !payload.action && payload.tenant_id == null) payload.tenant_id = tenant;
    return { topic, body: JSON.stringify(payload) };
}

/** True if an accepted/duplicate `ack` is the answer to entry `e`. A status
 *  change's ack carries the status asked for. A station's report of its part
 *  (payload.station) is answered with the whole order's status: one the part
 *  move leaves the order in; if the ack names the part (station,
 *  station_status), those must match. */
export function ackMatches(e, ack) {
    if (!e.expect) return true;
    if (e.kind === 'status' && e.payload?.station) {
        if (ack.station_status !== undefined) return ack.station === e.payload.station && ack.station_status === e.expect;
        return orderStatusesAfterPart(e.expect).includes(ack.status);
    }
    return ack.status === e.expect;
}

export class Outbox {
    constructor({ store, send, ready = () => null, now = Date.now, onChange = () => {} }) {
        this.store = store;
        this.send = send;
        this.ready = ready;
        this.now = now;
        this.onChange = onChange;
        this.queue = [];                                         // in-memory mirror of the store, by id
        this.waiters = new Map();                                // id -> {resolve, reject}
    }

    /** Loads what the store holds (entries a closed page left behind). */
    async load() {
        this.queue = await this.store.all();
        return this;
    }

    /** Stores an entry, then sends it when it can. Resolves with the ack
     *  (accepted or duplicate), rejects with an Error whose `code` is the
     *  bridge's error code. */
    async enqueue(kind, orderNumber, payload, expect) {
        const entry = { kind, order_number: orderNumber, payload, expect, created_at: new Date(this.now()).toISOString(), attempts: 0 };
        entry.id = await this.store.add(entry);              // durable before anything is sent
        const done = new Promise((resolve, reject) => this.waiters.set(entry.id, { resolve, reject }));
        this.queue.push(entry);
        this.onChange();
        this.pump();
        return done;
    }

    /** Sends what can be sent: one entry in flight per order number, oldest first. */
    pump() {
        const epoch = this.ready();
        if (epoch == null) return;
        const busy = new Set();
        const now = this.now();
        for (const e of this.queue) {
            if (busy.has(e.order_number)) continue;
            busy.add(e.order_number);
            if (e.sent && e.sent.epoch === epoch) continue;
            if (e.retryAt && e.retryAt > now) continue;
            this._send(e, epoch);
        }
    }

    _send(e, epoch) {
        e.sent = { epoch, at: this.now(), puback: false };
        e.attempts++;
        e.retryAt = 0;
        const sent = e.sent;
        this.send(e, (err) => {
            if (!err && e.sent === sent) sent.puback = true;
        });
        this.store.put(persistable(e)).catch(() => {});
    }

    /** An ack from the bridge. Returns what became of it: 'settled' (the entry is
     *  done), 'rejected' (done, its promise rejected), 'retry' (the bridge could
     *  not write its journal: sent again in JOURNAL_RETRY_MS) or 'ignored'. */
    onAck(ack) {
        const n = ack.order_number;
        if (typeof n !== 'string') return 'ignored';
        const e = this.queue.find((x) => x.order_number === n);       // the head for this order number
        if (!e || !e.sent) return 'ignored';                           // a late ack for something already settled
        if (ack.result === 'accepted' || ack.result === 'duplicate') {
            if (!ackMatches(e, ack)) return 'ignored';                 // a stray ack for an earlier re-send
            this._settle(e, null, ack);
            return 'settled';
        }
        if (ack.result === 'rejected') {
            if (ack.error === 'journal_unavailable') {                 // transient: keep it, try again soon
                e.sent = null;
                e.retryAt = this.now() + JOURNAL_RETRY_MS;
                return 'retry';
            }
            // A re-sent close of an order our first copy already closed.
            if (ack.error === 'order_closed' && e.attempts > 1 && isClosed(e.expect)) {
                this._settle(e, null, { ...ack, result: 'duplicate', status: e.expect });
                return 'settled';
            }
            const err = new Error(`${ack.error}${ack.detail ? `: ${ack.detail}` : ''}`);
            err.code = ack.error;
            err.detail = ack.detail;
            err.ack = ack;
            this._settle(e, err, ack);
            return 'rejected';
        }
        return 'ignored';
    }

    _settle(e, err, ack) {
        this.queue = this.queue.filter((x) => x !== e);
        this.store.delete(e.id).catch(() => {});
        const w = this.waiters.get(e.id);
        this.waiters.delete(e.id);
        if (w) err ? w.reject(err) : w.resolve(ack);
        this.onChange();
        this.pump();
    }

    /** The connection is gone: everything in flight is sent again next time. */
    unsend() {
        for (const e of this.queue) if (e.sent) e.sent = null;
    }

    /** Send everything not yet acked again now (the bridge is back). */
    resendAll() {
        this.unsend();
        this.pump();
    }

    /** Safety net: the bridge answers every message once, but an ack sent while
     *  we were away is lost. Re-send what has waited longer than `afterMs`; the
     *  bridge dedupes. */
    resendStale(afterMs) {
        const now = this.now();
        let again = false;
        for (const e of this.queue) if (e.sent && now - e.sent.at > afterMs) { e.sent = null; again = true; }
        if (again || this.queue.some((e) => !e.sent)) this.pump();
    }

    /** True while an entry waits out a journal_unavailable. */
    retrying() { return this.queue.some((e) => e.retryAt); }

    /** The entries waiting (oldest first), as stored, with `inFlight`. */
    pending() { return this.queue.map((e) => ({ ...persistable(e), inFlight: Boolean(e.sent) })); }
}
