// kb/snapshot.mjs - knowing when the retained snapshot of open orders is
// complete (docs/CONTRACT.md, "Reconnecting clients"). Pure, imports nothing.
//
// After every (re)subscribe the broker sends the retained state of every open
// order; the device's own retained info, subscribed right after, arrives
// behind them and marks the end. Orders the screen shows that the snapshot
// lacked were closed while it was away.
//
//   sync.begin(epoch)          subscribing to the tenant topics
//   sync.saw(n)                a retained order state (or its clearing) arrived
//   sync.markerSent()          the info subscription is on its way
//   sync.complete(epoch)       the info arrived: the order numbers seen, or null
//   sync.giveUp(epoch)         no answer in time: stop waiting
export class SnapshotSync {
    constructor() {
        this.current = null;        // {seen: Set, epoch, first, marker} while the snapshot arrives
        this.everSynced = false;
    }

    begin(epoch) {
        this.current = { seen: new Set(), epoch, first: !this.everSynced, marker: false };
    }

    saw(n) { if (this.current) this.current.seen.add(n); }

    /** True while the first snapshot since this page started arrives (its
     *  orders were already open: no alert). */
    isFirst() { return Boolean(this.current && this.current.first); }

    markerSent() { if (this.current) this.current.marker = true; }

    complete(epoch) {
        const s = this.current;
        if (!s || !s.marker || s.epoch !== epoch) return null;
        this.current = null;
        this.everSynced = true;
        return s.seen;
    }

    giveUp(epoch) {
        if (this.current && this.current.epoch === epoch) { this.current = null; this.everSynced = true; }
    }

    /** The connection is gone: this snapshot will never complete. */
    reset() { this.current = null; }
}
