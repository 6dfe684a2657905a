// admin_save_crash: the bridge is SIGKILLed at random moments while it
// saves an admin's change to a large registry file. After every kill the
// registry is whole: the old file or the new one, never a torn one, valid for
// `kb-bridge --check-registry`, and the bridge starts on it. The moments are
// seeded (KB_FAULT_SEED repeats a run); the test prints how often the kill
// left the old file and how often the new, so a run where every kill missed
// the save is visible.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { startBus, DEMO_REGISTRY, BRIDGE_BIN, seededRandom } from '../lib/harness.mjs';

const seed = Number(process.env.KB_FAULT_SEED || Date.now() % 1000000);
const random = seededRandom(seed);

let bus;
after(async () => { await bus?.stop(); });

async function api(method, path, { body, cookie, csrf } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (cookie) headers.cookie = cookie;
  if (csrf) headers['x-csrf-token'] = csrf;
  const res = await fetch(bus.url(path), { method, headers, body: body && JSON.stringify(body) });
  const cookieHeader = res.headers.get('set-cookie');
  return { status: res.status, body: await res.json(), cookie: cookieHeader?.split(';')[0] };
}

test(`a SIGKILL while the registry is saved leaves the old file or the new one (seed ${seed})`, async () => {
  // A large registry (an operator's notes ride along in a key the bridge does
  // not read), so a save takes long enough to be hit.
  const registry = JSON.parse(readFileSync(DEMO_REGISTRY, 'utf8'));
  registry.notes = Array.from({ length: 20000 }, (_, i) => `note ${i}: the fryer at the back is tenant burger's`);
  bus = await startBus({ registry });
  // How long one change takes here, so the kills fall inside that span.
  const first = await api('POST', '/api/login', { body: { username: 'admin', password: 'admin' } });
  const firstSession = { cookie: first.cookie, csrf: first.body.csrf };
  const t0 = performance.now();
  const v0 = (await api('GET', '/api/outlet', firstSession)).body.version;
  assert.equal((await api('POST', '/api/tenant/rename', { ...firstSession, body: { version: v0, id: 'burger', name: 'Burger' } })).status, 200);
  const span = performance.now() - t0;
  console.log(`admin_save_crash: one change takes ${span.toFixed(1)} ms`);
  const outcome = { old: 0, new: 0 };
  for (let round = 0; round < 12; round++) {
    const login = await api('POST', '/api/login', { body: { username: 'admin', password: 'admin' } });
    assert.equal(login.status, 200);
    const s = { cookie: login.cookie, csrf: login.body.csrf };
    const before = readFileSync(bus.registry, 'utf8');
    const oldName = JSON.parse(before).tenants[1].name;
    const newName = `Burger round ${round}`;
    const { version } = (await api('GET', '/api/outlet', s)).body;
    const change = api('POST', '/api/tenant/rename', { ...s, body: { version, id: 'burger', name: newName } }).catch(() => null);
    await new Promise((r) => setTimeout(r, random() * span * 1.5)); // the fault's moment, not a wait for a condition
    await bus.killBridge();
    await change;
    const text = readFileSync(bus.registry, 'utf8');
    const doc = JSON.parse(text); // a torn file would not parse
    const name = doc.tenants[1].name;
    assert.ok(name === oldName || name === newName, `tenant burger is named ${name}`);
    assert.equal(doc.notes.length, 20000, 'the whole file is there');
    if (name === oldName) { assert.equal(text, before); outcome.old++; } else outcome.new++;
    const check = spawnSync(BRIDGE_BIN, ['--check-registry', bus.registry], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    if (existsSync(`${bus.registry}.bak`)) JSON.parse(readFileSync(`${bus.registry}.bak`, 'utf8'));
    await bus.startBridge();
  }
  console.log(`admin_save_crash: after ${outcome.old + outcome.new} kills, ${outcome.old} left the old file, ${outcome.new} the new`);
});
