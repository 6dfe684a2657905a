// adapter.mjs - loads the browser adapter (web-adapter/public) into plain Node
// for the unit tests, with a fake MQTT.js in place of the vendored one, so no
// test here needs `npm run build:web`, a browser or a broker.
//
//   const { mod, mqtt } = await loadAdapter();     // mod: the kitchen-bus.mjs namespace
//   const bus = await mod.connect({ url: 'ws://x', username: 'pizza-kitchen' });
//   const client = mqtt.last();                   // the FakeClient the bus made
//   client.open(); client.deliver(topic, doc, { retain: true });
//
// Each call copies the adapter into a fresh temporary directory (removed when
// the process exits), so every test file gets its own module instances (the
// compatibility layer keeps a shared connection in module state).
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PUBLIC = path.join(ROOT, 'web-adapter', 'public');

/** A stand-in for an MQTT.js client: records what the bus does and lets the
 *  test play the broker. */
export class FakeClient {
    constructor(url, options) {
        this.url = url;
        this.options = options;
        this.handlers = new Map();
        this.connected = false;
        this.subscriptions = [];
        this.published = [];
        this.reconnects = 0;
        this.refuse = new Set();      // topics whose SUBACK is a failure (0x87)
        this.autoPuback = true;
        this.ended = false;
    }

    on(event, fn) { if (!this.handlers.has(event)) this.handlers.set(event, []); this.handlers.get(event).push(fn); return this; }
    emit(event, ...args) { for (const fn of this.handlers.get(event) || []) fn(...args); }

    subscribe(topics, opts, cb) {
        this.subscriptions.push(...topics);
        setImmediate(() => cb(null, topics.map((topic) => ({ topic, qos: this.refuse.has(topic) ? 0x87 : 1 }))));
    }

    publish(topic, body, opts, cb) {
        this.published.push({ topic, body: JSON.parse(body), qos: opts?.qos });
        if (this.autoPuback) setImmediate(() => cb?.());
    }

    reconnect() { this.reconnects++; }
    end(force, opts, cb) { this.ended = true; if (this.connected) this.drop(); cb?.(); }

    // ---- the test plays the broker ----
    open(connack = {}) { this.connected = true; this.emit('connect', connack); }
    drop() { this.connected = false; this.emit('close'); }
    fail(err) { this.emit('error', err); }
    /** doc undefined: an empty (cleared) retained message; a string: sent as is. */
    deliver(topic, doc, { retain = false } = {}) {
        const text = doc === undefined ? '' : typeof doc === 'string' ? doc : JSON.stringify(doc);
        this.emit('message', topic, new TextEncoder().encode(text), { retain, topic });
    }
    /** The messages published to `topic` (bodies). */
    sent(topic) { return this.published.filter((p) => !topic || p.topic === topic).map((p) => p.body); }
}

/** Copies the adapter into a temporary directory with a fake vendor/mqtt.esm.js
 *  and imports `entry` (default kitchen-bus.mjs) from there. */
export async function loadAdapter({ entry = 'kitchen-bus.mjs', from = PUBLIC } = {}) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kb-unit-js-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    cpSync(from, dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}vendor`) });
    mkdirSync(path.join(dir, 'vendor'), { recursive: true });
    // The copy is outside the repository, whose package.json makes .js files
    // modules: say so here too (Node 18 does not guess it from the syntax).
    writeFileSync(path.join(dir, 'package.json'), '{"type": "module"}\n');
    const key = `__kbFakeMqtt_${path.basename(dir).replace(/[^A-Za-z0-9]/g, '_')}`;
    const clients = [];
    globalThis[key] = (url, options) => { const c = new FakeClient(url, options); clients.push(c); return c; };
    writeFileSync(path.join(dir, 'vendor', 'mqtt.esm.js'),
        `export default { connect: (url, options) => globalThis[${JSON.stringify(key)}](url, options) };\n`);
    const mod = await import(pathToFileURL(path.join(dir, entry)).href);
    return { mod, dir, mqtt: { clients, last: () => clients[clients.length - 1] } };
}

/** Lets pending callbacks (setImmediate, microtasks) run. */
export async function settle(rounds = 5) {
    for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** Timers a test moves by hand: pass setTimeout/clearTimeout, then advance(ms). */
export class FakeTimers {
    constructor() { this.now = 0; this.nextId = 1; this.pending = new Map(); }
    get setTimeout() { return (fn, ms = 0) => { const id = this.nextId++; this.pending.set(id, { at: this.now + ms, fn }); return id; }; }
    get clearTimeout() { return (id) => { this.pending.delete(id); }; }
    get size() { return this.pending.size; }
    advance(ms) {
        const until = this.now + ms;
        for (;;) {
            const due = [...this.pending].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
            if (!due) break;
            this.pending.delete(due[0]);
            this.now = due[1].at;
            due[1].fn();
        }
        this.now = until;
    }
}
