// kb/outbox-idb.mjs - the outbox's storage in IndexedDB: one database per
// device (username), one object store `outbox`, keys from its key generator.
// Implements the storage interface of outbox.mjs; where there is no IndexedDB
// the outbox lives in memory (MemoryStore).
import { MemoryStore } from './outbox.mjs';

export class IndexedDbStore {
    constructor(name) { this.name = name; this.db = null; }

    async open() {
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

    add(entry) { return this._tx('readwrite', (s) => s.add(entry)); }
    async put(entry) { await this._tx('readwrite', (s) => s.put(entry)); }
    async delete(id) { await this._tx('readwrite', (s) => s.delete(id)); }
    async all() {
        const rows = await this._tx('readonly', (s) => s.getAll());
        return rows.sort((a, b) => a.id - b.id);
    }
}

/** The outbox store for a device: IndexedDB, or memory where there is none. */
export function outboxStore(username) {
    const name = `kitchen-bus-outbox:${username}`;
    return typeof indexedDB === 'undefined' ? new MemoryStore() : new IndexedDbStore(name);
}
