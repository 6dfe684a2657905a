// kb/order-view.mjs - what a screen shows: one record per order number, fed by
// retained order states and events, with the duplicate filter that keeps a
// screen right whatever the broker delivers twice, late or out of order
// (docs/CONTRACT.md, "Reconnecting clients"). Pure: no MQTT, no I/O; its one
// timer (the grace for a `closed` event after a cleared retained state) comes
// from the caller.
//
//   const view = new OrderView({ emit: (ev) => ..., setTimeout, clearTimeout });
//   view.applyState('A-1', doc, { retained: true, initial: true });   // orders/<n>
//   view.applyEvent({ event: 'status', order_number: 'A-1', status: 'ready', seq: 9 });
//
// emit gets {type: 'new'|'update'|'closed', order_number, order, status, seq,
// previous, by, cancelled, retained, initial}.
import { isClosed, partsFollow } from './status.mjs';

/** An order's parts ("stations") after an event: the part it names, or every
 *  part following a whole-order move (null: no parts, or nothing changes). */
function partsAfter(stations, from, to, ev) {
    if (!stations || typeof stations !== 'object') return null;
    if (typeof ev.station === 'string' && typeof ev.station_status === 'string') {
        return Object.prototype.hasOwnProperty.call(stations, ev.station) ? { ...stations, [ev.station]: ev.station_status } : null;
    }
    return partsFollow(stations, from, to);
}

/** How long a cleared retained state waits for its `closed` event (which says
 *  served or cancelled) before the order is closed without a reason. */
export const CLOSE_GRACE_MS = 1500;

export class OrderView {
    constructor({ emit = () => {}, setTimeout: setTimer = globalThis.setTimeout, clearTimeout: clearTimer = globalThis.clearTimeout,
        closeGraceMs = CLOSE_GRACE_MS } = {}) {
        this.emit = emit;
        // Called as plain functions: a browser's setTimeout refuses another `this`.
        this.setTimer = (fn, ms) => setTimer(fn, ms);
        this.clearTimer = (id) => clearTimer(id);
        this.closeGraceMs = closeGraceMs;
        /** order_number -> {order, seq, open, status, gone?, closeTimer?} */
        this.orders = new Map();
    }

    /** A message on orders/<n>: `doc` is the order, or undefined for an empty
     *  retained message (the order closed). A live (not retained) state with a
     *  closed status is a station view's closing message (contract 1.2): it
     *  closes the order as its `closed` event would, so the retained clear
     *  that follows finds it closed already. Anything else is ignored.
     *  `initial`: part of the snapshot a page gets when it starts (no alert). */
    applyState(n, doc, { retained = false, initial = false } = {}) {
        const rec = this.orders.get(n);
        if (doc === undefined) {
            if (rec && rec.open && !rec.closeTimer) {
                // The `closed` event says whether it was served or cancelled; wait for it briefly.
                rec.closeTimer = this.setTimer(() => {
                    rec.closeTimer = null;
                    if (rec.open) this._close(rec, n, { status: 'closed', by: null, seq: rec.seq });
                }, this.closeGraceMs);
            }
            return;
        }
        if (!doc || typeof doc !== 'object' || typeof doc.seq !== 'number') return;
        // A station's view of a closing order, sent once and not retained (a
        // station screen gets no events): it is that order's `closed` event.
        if (isClosed(doc.status) && !retained) return this.applyEvent({ event: 'closed', order_number: n, status: doc.status, seq: doc.seq });
        this.applyOrder(n, doc, { retained, initial });
    }

    /** A full order state (`seq` a number). */
    applyOrder(n, doc, { retained = false, initial = false } = {}) {
        const rec = this.orders.get(n);
        if (rec && (rec.gone ? doc.seq < rec.seq : doc.seq <= rec.seq)) return;   // seen it (dedup by order_number + seq)
        if (rec && !rec.open && !rec.gone && !((doc.created_seq ?? doc.seq) > rec.seq)) return;  // stale copy of a closed order
        if (isClosed(doc.status)) return;
        // A new instance of a number whose order we still show open: that one
        // closed and its close was lost or has not come yet (its grace timer
        // may be running). Close it, then show the new one.
        if (rec && rec.open && rec.order && (doc.created_seq ?? doc.seq) > (rec.order.created_seq ?? rec.seq)) {
            this._close(rec, n, { status: 'closed', by: null, seq: rec.seq });
        }
        if (!rec || (!rec.open && !rec.gone)) {
            // A new order, or a new instance of a closed order's number (a higher created_seq).
            const fresh = { order: doc, seq: doc.seq, open: true, status: doc.status };
            this.orders.set(n, fresh);
            this.emit({ type: 'new', order_number: n, order: doc, status: doc.status, seq: doc.seq, retained, initial: Boolean(retained && initial) });
            return;
        }
        const previous = rec.status;
        Object.assign(rec, { order: doc, seq: doc.seq, open: true, status: doc.status, gone: false });
        this.emit({ type: 'update', order_number: n, order: doc, status: doc.status, previous, seq: doc.seq, retained });
    }

    /** A message on events: created, status or closed. */
    applyEvent(ev) {
        const n = ev.order_number;
        if (typeof n !== 'string' || typeof ev.seq !== 'number') return;
        const rec = this.orders.get(n);
        if (ev.event === 'created' && ev.order && typeof ev.order === 'object') {
            return this.applyOrder(n, { ...ev.order, seq: ev.seq, status: ev.order.status || ev.status });
        }
        if (ev.event === 'status' || ev.event === 'station') {
            // A `station` event moved one part (the order kept its status); a
            // `status` event may name the part that moved the order.
            if (!rec || ev.seq <= rec.seq || !rec.open) return;      // unknown: its retained copy will come
            const previous = rec.status;
            const status = typeof ev.status === 'string' ? ev.status : rec.status;
            rec.order = { ...rec.order, status, seq: ev.seq, updated_at: ev.at ?? rec.order.updated_at };
            const parts = partsAfter(rec.order.stations, previous, status, ev);
            if (parts) rec.order.stations = parts;
            rec.seq = ev.seq;
            rec.status = status;
            this.emit({ type: 'update', order_number: n, order: rec.order, status, previous, seq: ev.seq, by: ev.by });
            return;
        }
        if (ev.event === 'closed') {
            if (!rec) { this.orders.set(n, { order: null, seq: ev.seq, open: false, status: ev.status }); return; }
            if (ev.seq <= rec.seq) return;
            this._close(rec, n, { status: ev.status, by: ev.by, seq: ev.seq, previous: ev.previous });
        }
    }

    /** The retained snapshot is complete and lacks these open orders: they were
     *  closed while we were away (their close was lost). A later state with the
     *  same seq brings one back (`gone`). */
    closeMissing(seen) {
        for (const [n, rec] of this.orders) {
            if (rec.open && !seen.has(n)) this._close(rec, n, { status: 'closed', by: null, seq: rec.seq, gone: true });
        }
    }

    _close(rec, n, { status, by, seq, previous, gone = false }) {
        this.clearTimer(rec.closeTimer);
        rec.closeTimer = null;
        const prev = previous ?? rec.status;
        rec.open = false;
        rec.gone = gone;
        rec.seq = Math.max(rec.seq, seq);
        rec.status = status;
        if (rec.order) rec.order = { ...rec.order, status };
        this.emit({ type: 'closed', order_number: n, order: rec.order, status, previous: prev, seq: rec.seq, by, cancelled: status === 'cancelled' });
    }

    /** cb gets a `new` event (initial, replay) for every open order. */
    replay(cb) {
        for (const [n, rec] of this.orders) {
            if (rec.open) cb({ type: 'new', order_number: n, order: rec.order, status: rec.status, seq: rec.seq, retained: true, initial: true, replay: true });
        }
    }

    /** The open orders, oldest first. */
    openOrders() {
        return [...this.orders.values()].filter((r) => r.open).map((r) => r.order)
            .sort((a, b) => (a.created_seq ?? a.seq) - (b.created_seq ?? b.seq));
    }

    /** Stops the pending close timers. */
    dispose() {
        for (const rec of this.orders.values()) this.clearTimer(rec.closeTimer);
    }
}
