// layers: the bridge's include graph, read from bridge/src, against the layer
// rule docs/DESIGN.md "Layers" states: base <- model <- core <- adapters <- app.
// The CMake libraries already make an upward #include fail to compile; this
// also checks what a build cannot see: that no adapter includes another
// adapter's header, and that the graph of modules (x.c with x.h) has no circle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../lib/harness.mjs';

const SRC = path.join(ROOT, 'bridge/src');
const RANK = { base: 0, model: 1, core: 2, adapters: 3, app: 4 };

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : /\.[ch]$/.test(e.name) ? [p] : [];
  });
}

const files = walk(SRC);
// A module is x.c with x.h; its layer is its folder (adapters/<name> counts
// as one adapter).
const moduleOf = (file) => file.replace(/\.[ch]$/, '');
const folderOf = (mod) => path.relative(SRC, path.dirname(mod)).split(path.sep);
const byHeader = new Map(files.filter((f) => f.endsWith('.h')).map((f) => [path.basename(f), moduleOf(f)]));
const edges = new Map();
for (const f of files) {
  const from = moduleOf(f);
  if (!edges.has(from)) edges.set(from, new Set());
  for (const [, name] of readFileSync(f, 'utf8').matchAll(/^#include "([^"]+)"/gm)) {
    const to = byHeader.get(path.basename(name));
    assert.ok(to, `${path.relative(ROOT, f)} includes "${name}", which is no header of bridge/src`);
    if (to !== from) edges.get(from).add(to);
  }
}
const rel = (mod) => path.relative(SRC, mod);

test('the layers are the folders the rule names', () => {
  const layers = new Set([...edges.keys()].map((m) => folderOf(m)[0]));
  assert.deepEqual([...layers].sort(), Object.keys(RANK).sort());
  assert.ok(edges.size > 30, `only ${edges.size} modules found`);
});

test('no module includes a higher layer, and no adapter another adapter', () => {
  const wrong = [];
  for (const [from, tos] of edges) {
    const [fl, fa] = folderOf(from);
    for (const to of tos) {
      const [tl, ta] = folderOf(to);
      if (RANK[tl] > RANK[fl] || (fl === 'adapters' && tl === 'adapters' && fa !== ta)) wrong.push(`${rel(from)} -> ${rel(to)}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('the include graph has no circle', () => {
  const state = new Map(); // 1 on the path, 2 done
  const cycles = [];
  const visit = (m, trail) => {
    state.set(m, 1);
    for (const to of edges.get(m) ?? []) {
      if (state.get(to) === 1) cycles.push([...trail.slice(trail.indexOf(to)), to].map(rel).join(' -> '));
      else if (!state.has(to)) visit(to, [...trail, to]);
    }
    state.set(m, 2);
  };
  for (const m of edges.keys()) if (!state.has(m)) visit(m, [m]);
  assert.deepEqual(cycles, []);
});

test('no core or model header pulls in a transport library', () => {
  const leaks = files.filter((f) => /\/(base|model|core)\//.test(f))
    .filter((f) => /#include <(mosquitto|mqtt_protocol|libwebsockets)\.h>/.test(readFileSync(f, 'utf8')));
  assert.deepEqual(leaks.map((f) => path.relative(SRC, f)), []);
});
