// run_command.test.mjs - `./kitchen-bus run` as an operator runs it, on this
// machine (tests/deploy/fresh_box.test.mjs does the same on a bare Debian):
// with its data below a private folder (mode 0700, like a checkout in
// /root), it comes up healthy and Ctrl-C stops it with exit 0. Each thing
// `run` checks before it starts anything stops it with one line naming the
// cause and the fix, a non-zero exit, and nothing left listening: a port in
// use (naming the process that holds it), a registry that is missing or
// invalid, a broker store it cannot use. KB_NO_BUILD=1: the suite's build is
// used as it is.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, chmodSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, BRIDGE_BIN, freePort, waitFor } from '../lib/harness.mjs';

const work = mkdtempSync(path.join(os.tmpdir(), 'kb-run-'));
chmodSync(work, 0o700); // the broker's user cannot enter it, as with /root
after(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
/** Starts `kitchen-bus run` on free ports; resolves with the child and its output. */
async function startRun(env = {}) {
  n += 1;
  const ports = { mqtt: await freePort(), ws: await freePort(), http: await freePort() };
  const child = spawn(path.join(ROOT, 'kitchen-bus'), ['run'], {
    env: {
      ...process.env,
      KB_NO_BUILD: '1', KB_BUILD_DIR: path.dirname(path.dirname(BRIDGE_BIN)),
      KB_DATA_DIR: path.join(work, `data${n}`),
      KB_MQTT_PORT: String(ports.mqtt), KB_WS_PORT: String(ports.ws), KB_HTTP_PORT: String(ports.http),
      KB_WS_BIND: '127.0.0.1', KB_HTTP_BIND: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.output = '';
  child.stdout.on('data', (c) => { child.output += c; });
  child.stderr.on('data', (c) => { child.output += c; });
  child.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, ports };
}

function listening(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** A run that must stop by itself: its exit code, its kitchen-bus error line, and nothing left listening. */
async function refusedRun(env) {
  const { child, ports } = await startRun(env);
  const code = await child.exited;
  const errors = child.output.split('\n').filter((l) => l.startsWith('kitchen-bus: error:'));
  for (const p of Object.values(ports)) assert.equal(await listening(p), false, `port ${p} is free`);
  return { code, errors, output: child.output };
}

test('run from a private folder comes up healthy, and Ctrl-C stops it with exit 0', { timeout: 60000 }, async (t) => {
  const { child, ports } = await startRun();
  // A failed check below must not leave the bus running (it would hold the
  // test process until ctest's timeout): stop it the way an operator does.
  t.after(async () => { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGINT'); await child.exited; } });
  await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`run exited ${child.exitCode}:\n${child.output}`);
    return child.output.includes('Kitchen Bus is running');
  }, { timeout: 30000, what: 'run to say it is running' });
  const health = await (await fetch(`http://127.0.0.1:${ports.http}/health`)).json();
  assert.equal(health.status, 'ok');
  assert.match(child.output, /Registry +.*\/registry\.json: 3 tenants, 12 devices \(demo mode\)/);
  child.kill('SIGINT');
  assert.equal(await child.exited, 0, child.output);
  assert.match(child.output, /kitchen-bus: stopped/);
  for (const p of Object.values(ports)) assert.equal(await listening(p), false, `port ${p} is free again`);
});

test('a port in use stops run before it starts anything, naming the port and its holder', { timeout: 30000 }, async () => {
  const holder = net.createServer();
  const port = await freePort();
  await new Promise((r) => holder.listen(port, '127.0.0.1', r));
  try {
    const { code, errors } = await refusedRun({ KB_HTTP_PORT: String(port) });
    assert.equal(code, 1);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0], new RegExp(`port ${port} \\(the bridge's pages and /health\\) is already in use by process ${process.pid} \\(node\\); stop it, or set KB_HTTP_PORT to a free port`));
  } finally {
    holder.close();
  }
});

test('a missing or invalid registry stops run with the file and what is wrong', { timeout: 30000 }, async () => {
  const missing = path.join(work, 'nope.json');
  let r = await refusedRun({ KB_REGISTRY: missing });
  assert.equal(r.code, 1);
  assert.deepEqual(r.errors, [`kitchen-bus: error: registry ${missing} is not valid: cannot open it (No such file or directory); fix the file, or point KB_REGISTRY at a valid registry (README 'Going live')`]);
  assert.doesNotMatch(r.output, /mosquitto version/, 'the broker was never started');

  const bad = path.join(work, 'bad.json');
  writeFileSync(bad, JSON.stringify({ outlet: { id: 'o' }, tenants: [{ id: 'Pizza Place' }] }));
  r = await refusedRun({ KB_REGISTRY: bad });
  assert.equal(r.code, 1);
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0], new RegExp(`registry ${bad} is not valid: tenant id must be 1-32 characters of a-z 0-9 _ -`));
});

test('a broker store it cannot use stops run with the broker\'s own reason, and leaves nothing running', { timeout: 30000 }, async () => {
  const data = path.join(work, 'broken');
  mkdirSync(path.join(data, 'broker'), { recursive: true });
  writeFileSync(path.join(data, 'broker/dynamic-security.json'), 'this is not JSON');
  writeFileSync(path.join(data, 'broker/bridge.pw'), 'x');
  const { code, errors } = await refusedRun({ KB_DATA_DIR: data });
  assert.equal(code, 1);
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0], /the broker cannot use its store: Error loading Dynamic security plugin config: File is not valid JSON\.; fix: move .*broken\/broker aside and run again/);
});
