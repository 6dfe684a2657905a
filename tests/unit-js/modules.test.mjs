// modules: the shape of the browser code in web-adapter/public: every import
// resolves, the module graph is acyclic and one-directional (pages -> entry ->
// kb/ I/O modules -> kb/ pure modules), the pure modules touch no browser I/O,
// and the topic layout and the status lifecycle are written down once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PUBLIC } from './adapter.mjs';
import { stripComments } from './c-source.mjs';

/** Every .mjs under public/, vendor/ aside: relative path -> source. */
function modules() {
    const out = new Map();
    const walk = (dir) => {
        for (const ent of readdirSync(dir, { withFileTypes: true })) {
            const p = path.join(dir, ent.name);
            if (ent.isDirectory()) { if (ent.name !== 'vendor') walk(p); } else if (ent.name.endsWith('.mjs')) {
                out.set(path.relative(PUBLIC, p).split(path.sep).join('/'), readFileSync(p, 'utf8'));
            }
        }
    };
    walk(PUBLIC);
    return out;
}
const MODS = modules();
const PAGES_HTML = ['index.html', 'kitchen.html', 'pos.html'];

/** The modules `src` (at `rel`) imports, as paths relative to public/. */
function importsOf(rel, src) {
    const code = stripComments(src);
    const specs = [...code.matchAll(/\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1] || m[2]);
    return specs.map((s) => {
        assert.ok(s.startsWith('./') || s.startsWith('../') || s.startsWith('/'), `${rel}: import "${s}" is not a local path`);
        return s.startsWith('/') ? s.slice(1) : path.posix.normalize(path.posix.join(path.posix.dirname(rel), s));
    });
}
const GRAPH = new Map([...MODS].map(([rel, src]) => [rel, importsOf(rel, src)]));

const PURE = ['kb/status.mjs', 'kb/topics.mjs', 'kb/store.mjs', 'kb/util.mjs', 'kb/order-view.mjs', 'kb/snapshot.mjs', 'kb/stats.mjs',
    'kb/outbox.mjs', 'kb/link.mjs'];

test('every import of every module and page resolves to a file the bridge serves', () => {
    for (const [rel, deps] of GRAPH) {
        for (const d of deps) {
            if (d === 'vendor/mqtt.esm.js') continue;                // made by npm run build:web
            assert.ok(existsSync(path.join(PUBLIC, d)), `${rel} imports ${d}, which does not exist`);
            assert.match(d, /^[A-Za-z0-9._/-]+\.m?js$/, `${d}: a path the bridge serves (http_server.c path_safe, .mjs/.js)`);
        }
    }
    for (const page of PAGES_HTML) {
        const html = readFileSync(path.join(PUBLIC, page), 'utf8');
        for (const [, src] of html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g)) {
            assert.ok(existsSync(path.join(PUBLIC, src.replace(/^\//, ''))), `${page} loads ${src}, which does not exist`);
        }
    }
});

test('the module graph has no cycle', () => {
    const state = new Map();
    const visit = (m, trail) => {
        if (state.get(m) === 'done') return;
        assert.notEqual(state.get(m), 'open', `import cycle: ${[...trail, m].join(' -> ')}`);
        state.set(m, 'open');
        for (const d of GRAPH.get(m) || []) visit(d, [...trail, m]);
        state.set(m, 'done');
    };
    for (const m of GRAPH.keys()) visit(m, []);
});

test('imports go one way: pages -> kitchen-bus.mjs -> kb/; pure modules import only pure modules', () => {
    for (const [rel, deps] of GRAPH) {
        for (const d of deps) {
            if (rel.startsWith('kb/')) {
                assert.ok(d.startsWith('kb/') || (rel === 'kb/bus.mjs' && d === 'vendor/mqtt.esm.js'),
                    `${rel} must not import ${d} (kb/ never imports the entry point or the pages; only bus.mjs loads MQTT.js)`);
            }
            if (rel === 'kitchen-bus.mjs') assert.ok(d.startsWith('kb/'), `kitchen-bus.mjs re-exports kb/ only, not ${d}`);
            if (PURE.includes(rel)) assert.ok(PURE.includes(d), `pure ${rel} imports ${d}, which is not pure`);
        }
    }
    for (const p of PURE) assert.ok(MODS.has(p), `${p} exists`);
});

test('the pure modules use no browser I/O (their timers and clocks can be passed in)', () => {
    const IO = /\b(indexedDB|localStorage|sessionStorage|navigator|document|window|location|fetch|XMLHttpRequest|WebSocket|setInterval|console)\b/;
    for (const p of PURE) {
        const code = stripComments(MODS.get(p)).replace(/(['"`])(?:\\.|(?!\1).)*\1/g, '""');
        const m = IO.exec(code);
        assert.equal(m, null, `${p} uses ${m?.[1]}`);
    }
});

test('the topic layout is written once: only kb/topics.mjs spells a topic', () => {
    for (const [rel, src] of MODS) {
        if (rel === 'kb/topics.mjs') continue;
        const code = stripComments(src);
        assert.doesNotMatch(code, /outlet\//, `${rel} spells a topic; build it with kb/topics.mjs`);
    }
});

test('the status lifecycle is written once: no other module lists statuses or encodes a move', () => {
    const S = '(?:new|accepted|preparing|ready|served|cancelled)';
    const list = new RegExp(`['"]${S}['"]\\s*,\\s*['"]${S}['"]`);
    for (const [rel, src] of MODS) {
        if (rel === 'kb/status.mjs') continue;
        const code = stripComments(src);
        assert.doesNotMatch(code, list, `${rel} lists statuses; use kb/status.mjs`);
        assert.doesNotMatch(code, new RegExp(`\\.status\\s*===\\s*'ready'\\s*\\?`), `${rel} decides a move by status name; use canMove / recallStatus`);
    }
    for (const page of ['js/pos.mjs', 'js/kitchen.mjs']) {
        assert.ok(GRAPH.get(page).includes('kb/status.mjs'), `${page} imports the lifecycle from kb/status.mjs`);
    }
    assert.ok(!/\bOPEN\s*=\s*new Set/.test(MODS.get('js/pos.mjs')), 'js/pos.mjs has no OPEN set of its own');
});

test('the kitchen page keeps its alerts in js/alerts.mjs', () => {
    assert.ok(GRAPH.get('js/kitchen.mjs').includes('js/alerts.mjs'));
    const kitchen = stripComments(MODS.get('js/kitchen.mjs'));
    assert.doesNotMatch(kitchen, /AudioContext|SpeechSynthesisUtterance|new Notification|speechSynthesis\./, 'sound, speech and notifications live in alerts.mjs');
});
