// kitchen_alerts: the kitchen page's alerts (web-adapter/public/js/alerts.mjs) in
// plain Node with stand-ins for Web Audio, speech, notifications and the few
// DOM nodes they touch; the counters are the window.__kb hooks the browser
// tests read (tests/web).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadAdapter } from './adapter.mjs';

const saved = {};
const GLOBALS = ['window', 'document', 'localStorage', 'AudioContext', 'speechSynthesis', 'SpeechSynthesisUtterance', 'Notification'];
const env = { tones: 0, spoken: [], notes: [], store: new Map(), nodes: new Map(), docListeners: [] };

function node(id) {
    if (!env.nodes.has(id)) {
        const listeners = [];
        const attrs = new Map();
        env.nodes.set(id, { id, hidden: false, dataset: {}, textContent: '', listeners,
            addEventListener: (ev, fn) => listeners.push([ev, fn]),
            setAttribute: (k, v) => attrs.set(k, String(v)), getAttribute: (k) => attrs.get(k) ?? null,
            click: async () => { for (const [ev, fn] of listeners) if (ev === 'click') await fn(); } });
    }
    return env.nodes.get(id);
}

class FakeAudioContext {
    constructor() { this.state = 'suspended'; this.currentTime = 0; this.destination = {}; }
    resume() { this.state = 'running'; return Promise.resolve(); }
    suspend() { this.state = 'suspended'; return Promise.resolve(); }
    createOscillator() { env.tones++; return { frequency: {}, connect: (g) => g, start() {}, stop() {} }; }
    createGain() { return { gain: { value: 1, setValueAtTime() {}, exponentialRampToValueAtTime() {} }, connect: (d) => d }; }
}

let createAlerts;
before(async () => {
    for (const g of GLOBALS) saved[g] = Object.getOwnPropertyDescriptor(globalThis, g);
    Object.assign(globalThis, {
        window: globalThis,
        document: { querySelector: (sel) => node(sel), addEventListener: (ev, fn, opts) => env.docListeners.push([ev, fn, opts]) },
        localStorage: { getItem: (k) => env.store.get(k) ?? null, setItem: (k, v) => env.store.set(k, String(v)) },
        AudioContext: FakeAudioContext,
        speechSynthesis: { speak: (u) => env.spoken.push(u.text) },
        SpeechSynthesisUtterance: class { constructor(text) { this.text = text; } },
        Notification: Object.assign(class { constructor(title, o) { env.notes.push([title, o.body, o.tag]); } }, {
            permission: 'granted', requestPermission: async () => 'granted' }),
    });
    ({ createAlerts } = (await loadAdapter({ entry: 'js/alerts.mjs' })).mod);
});
after(() => {
    for (const g of GLOBALS) {
        if (saved[g]) Object.defineProperty(globalThis, g, saved[g]); else delete globalThis[g];
    }
});

test('the hooks start at zero; an alert before the sound is armed is missed', () => {
    const hooks = { state: 'offline' };
    const toasts = [];
    const alerts = createAlerts(hooks, { toast: (m) => toasts.push(m) });
    assert.deepEqual(hooks, { state: 'offline', alertsPlayed: 0, cancelAlertsPlayed: 0, alertsMissed: 0, spoken: [], notified: 0, soundArmed: false });
    assert.equal(alerts.play('new'), false);
    assert.equal(hooks.alertsMissed, 1);
    assert.equal(hooks.alertsPlayed, 0);
    assert.equal(node('#sound').textContent, 'Sound OFF');
    assert.equal(node('#arm').hidden, false);
});

test('armed: new and cancel sounds count separately; the buttons arm and switch it', async () => {
    const hooks = {};
    const alerts = createAlerts(hooks, { toast() {} });
    env.nodes.clear();
    env.docListeners.length = 0;
    alerts.installSound();
    await node('#arm').click();
    await new Promise((r) => setImmediate(r));
    assert.equal(hooks.soundArmed, true);
    assert.equal(alerts.soundOn(), true);
    assert.equal(node('#sound').dataset.armed, 'true');
    assert.equal(node('#arm').hidden, true);
    const before = env.tones;
    assert.equal(alerts.play('new'), true);
    assert.equal(alerts.play('cancel'), true);
    assert.deepEqual([hooks.alertsPlayed, hooks.cancelAlertsPlayed, hooks.alertsMissed], [1, 1, 0]);
    assert.equal(env.tones - before, 6, 'three tones each');
    await node('#sound').click();                               // switch it off
    await new Promise((r) => setImmediate(r));
    assert.equal(hooks.soundArmed, false);
    const [ev, fn, opts] = env.docListeners.find(([e]) => e === 'pointerdown');
    assert.deepEqual([ev, opts], ['pointerdown', { capture: true }]);
    fn();                                                       // any tap arms it again
    await new Promise((r) => setImmediate(r));
    assert.equal(hooks.soundArmed, true);
});

test('a burst of new orders is one sound and one toast; speech and notifications follow their switches', async () => {
    const hooks = {};
    const toasts = [];
    const alerts = createAlerts(hooks, { toast: (m) => toasts.push(m) });
    alerts.arm();
    alerts.installSwitches();
    for (const n of ['A-1', 'A-2', 'A-3']) alerts.newOrder({ speech: `New order ${n}`, title: `New order ${n}`, body: '1× x', tag: n });
    assert.equal(hooks.alertsPlayed, 1);
    assert.deepEqual([hooks.spoken, hooks.notified], [[], 0], 'Voice and Notify are off by default');
    await new Promise((r) => setTimeout(r, 450));
    assert.deepEqual(toasts, ['3 new orders']);
    await node('#speech').click();
    await node('#notify').click();
    assert.deepEqual([env.store.get('kb:kitchen:speech'), env.store.get('kb:kitchen:notify')], ['1', '1']);
    assert.equal(node('#speech').getAttribute('aria-pressed'), 'true');
    alerts.newOrder({ speech: 'New order B-1', title: 'New order B-1', body: '2× y', tag: 'B-1' });
    alerts.speak('Order B-1 is cancelled');
    alerts.notify('Order B-1 cancelled', 'Stop preparing it', 'B-1-cancel');
    assert.equal(hooks.alertsPlayed, 2);
    assert.deepEqual(hooks.spoken, ['New order B-1', 'Order B-1 is cancelled']);
    assert.equal(hooks.notified, 2);
    assert.deepEqual(env.notes.slice(-2), [['New order B-1', '2× y', 'B-1'], ['Order B-1 cancelled', 'Stop preparing it', 'B-1-cancel']]);
    globalThis.Notification.permission = 'denied';
    alerts.notify('x', 'y', 'z');
    assert.equal(hooks.notified, 2, 'no notification without permission');
});
