// grafana: docs/grafana-kitchen-bus.json against the metrics the bridge
// emits, read as text from bridge/src/core/health.c and presence.c (their
// "# TYPE" lines and the label sets of their sample lines), so a renamed
// metric or label breaks this test, not the outlet's dashboard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { readSource, stripComments } from './c-source.mjs';
import { ROOT } from './adapter.mjs';

const dashboard = JSON.parse(readFileSync(path.join(ROOT, 'docs/grafana-kitchen-bus.json'), 'utf8'));

// ---- the C side: metric name -> its type and the labels its samples carry ----
const SOURCES = ['bridge/src/core/health.c', 'bridge/src/core/presence.c'];
const emitted = new Map(); // series name -> Set of label names
const types = new Map();
for (const file of SOURCES) {
    const src = stripComments(readSource(file));
    for (const [, name, type] of src.matchAll(/# TYPE (kb_\w+) (counter|gauge|histogram|summary)\\n/g)) types.set(name, type);
    for (const [, name, labels] of src.matchAll(/\b(kb_\w+)\{((?:\w+=\\"[^"\\]*\\",?)+)\}/g)) {
        if (!emitted.has(name)) emitted.set(name, new Set());
        for (const [, label] of labels.matchAll(/(\w+)=\\"/g)) emitted.get(name).add(label);
    }
}
for (const [name, type] of types) {
    const series = type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
    for (const s of series) if (!emitted.has(s)) emitted.set(s, new Set());
}
for (const name of emitted.keys()) {
    const base = name.replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(name) || types.get(base) === 'histogram', `${name} is sampled in the C source but has no # TYPE line`);
}

// ---- the dashboard side ---------------------------------------------------------
const FUNCTIONS_AND_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or',
    'unless', 'bool', 'offset', 'inf', 'nan']);

/** Every metric a PromQL expression reads, with the labels it matches or groups by. */
export function metricsOf(expr) {
    const uses = [];
    let text = expr.replace(/\$\{[^}]*\}|\$\w+/g, 'VAR').replace(/"(?:[^"\\]|\\.)*"/g, '""');
    // Grouping clauses name labels of the metrics inside: by (a, b) / without (a).
    const grouped = [...text.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) => m[1].split(',').map((s) => s.trim()).filter(Boolean));
    text = text.replace(/\b(?:by|without)\s*\([^)]*\)/g, ' ');
    text = text.replace(/\[[^\]]*\]/g, ' '); // range selectors [5m]
    const selector = /\b([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?(\s*\()?/g;
    for (const [, name, matchers, call] of text.matchAll(selector)) {
        if (call || FUNCTIONS_AND_KEYWORDS.has(name) || name === 'VAR' || /^\d/.test(name)) continue;
        const labels = matchers ? [...matchers.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]) : [];
        uses.push({ name, labels });
    }
    return { uses, grouped };
}

function expressions(d) {
    const out = [];
    for (const p of d.panels || []) {
        for (const t of p.targets || []) out.push({ where: `panel "${p.title}"`, expr: t.expr });
        if (p.panels) out.push(...expressions(p));
    }
    for (const v of d.templating?.list || []) {
        if (v.type !== 'query') continue;
        const q = typeof v.query === 'string' ? v.query : v.query.query;
        const m = /^label_values\((\w+),\s*(\w+)\)$/.exec(q);
        assert.ok(m, `variable ${v.name}: expected label_values(metric, label), got ${q}`);
        out.push({ where: `variable ${v.name}`, expr: `${m[1]}{${m[2]}=""}` });
    }
    return out;
}

test('the dashboard is importable JSON on a Prometheus data source variable', () => {
    assert.equal(typeof dashboard.title, 'string');
    assert.ok(Array.isArray(dashboard.panels) && dashboard.panels.length >= 6);
    const ds = dashboard.templating.list.find((v) => v.name === 'DS_PROMETHEUS');
    assert.equal(ds?.type, 'datasource');
    assert.equal(ds.query, 'prometheus');
    const tenant = dashboard.templating.list.find((v) => v.name === 'tenant');
    assert.equal(tenant.query.query, 'label_values(kb_ticket_seconds_count, tenant)');
    const ids = new Set();
    for (const p of dashboard.panels) {
        assert.equal(p.datasource.uid, '${DS_PROMETHEUS}', p.title);
        assert.ok(!ids.has(p.id), `panel id ${p.id} twice`);
        ids.add(p.id);
        for (const t of p.targets) assert.equal(t.datasource.uid, '${DS_PROMETHEUS}', p.title);
    }
});

test('every metric and label the dashboard reads is one the bridge emits', () => {
    const all = expressions(dashboard);
    assert.ok(all.length >= 8);
    const seen = new Set();
    for (const { where, expr } of all) {
        const { uses, grouped } = metricsOf(expr);
        assert.ok(uses.length, `${where}: no metric in ${expr}`);
        for (const { name, labels } of uses) {
            assert.ok(emitted.has(name), `${where}: ${name} is not in ${SOURCES.join(' or ')} (emitted: ${[...emitted.keys()].join(', ')})`);
            for (const l of labels) assert.ok(emitted.get(name).has(l), `${where}: ${name} has no label ${l}`);
            seen.add(name);
        }
        for (const l of grouped) {
            assert.ok(uses.some((u) => emitted.get(u.name).has(l)), `${where}: grouped by ${l}, which none of ${uses.map((u) => u.name)} carries`);
        }
    }
    // The panels issue 16 asks for.
    for (const name of ['kb_ticket_seconds_bucket', 'kb_ticket_seconds_count', 'kb_orders_open', 'kb_devices_online',
        'kb_ack_latency_ms_bucket', 'kb_broker_connected']) assert.ok(seen.has(name), `no panel reads ${name}`);
});

test('the reader of the C source finds what it must, so the check above cannot pass empty', () => {
    assert.deepEqual([...emitted.get('kb_ticket_seconds_bucket')].sort(), ['le', 'tenant']);
    assert.deepEqual([...emitted.get('kb_devices_online')].sort(), ['role', 'tenant']);
    assert.equal(types.get('kb_ack_latency_ms'), 'histogram');
    assert.ok(emitted.has('kb_broker_connected'));
    // And the expression reader: names, matchers, grouping.
    const { uses, grouped } = metricsOf('histogram_quantile(0.9, sum by (tenant, le) (rate(kb_x_bucket{tenant=~"$tenant"}[5m]))) * 60');
    assert.deepEqual(uses, [{ name: 'kb_x_bucket', labels: ['tenant'] }]);
    assert.deepEqual(grouped, ['tenant', 'le']);
    assert.ok(!emitted.has('kb_tickets_seconds_bucket'));
});
