// fresh_box.test.mjs - the first thing a new operator does, on a bare
// Debian 12: the checkout in root's home (/root, mode 0700), then
// `./kitchen-bus run` with every default and no other step. run installs
// what running needs from Debian (Node.js 18 and npm 9 among it, no other
// Node), builds, and must bring up a bus whose /health says ok and that
// carries a demo order from pizza-pos to pizza-kitchen. Ctrl-C stops it
// cleanly. Then, on the same machine, `./kitchen-bus test -L
// 'unit|integration|web'`: the suite itself on Debian's Node.js 18 and npm
// 9, from /root (the deploy tests are left out: they would need containers
// inside the container).
//
// The machine is a podman container of the debootstrapped base
// (tests/lib/containers.mjs), with this machine's CA bundle for npm's TLS.
// Its 3001 and 3002 are published on free loopback ports here; the order
// goes over MQTT/WebSockets, as a browser's would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { freePort, waitFor, posDevice, kitchenDevice, makeOrder, waitMessage, parse } from '../lib/harness.mjs';
import {
  BASE_IMAGE, podman, podmanEnv, ensureBaseImage, removeLeftovers, exec, copyCheckout, waitHealthy, note,
} from '../lib/containers.mjs';

const NAME = `kbfresh${process.pid}`;
const CA = '/etc/ssl/certs/ca-certificates.crt';
const ports = {};
let runner;
let runLog = '';

before(async () => {
  await ensureBaseImage();
  await removeLeftovers('kbfresh');
  ports.ws = await freePort();
  ports.http = await freePort();
  await podman(['run', '-d', '--name', NAME,
    '-p', `127.0.0.1:${ports.ws}:3001`, '-p', `127.0.0.1:${ports.http}:3002`,
    '-v', `${CA}:/etc/kb-host-ca.crt:ro`, '-e', 'NODE_EXTRA_CA_CERTS=/etc/kb-host-ca.crt',
    BASE_IMAGE, 'sleep', 'infinity']);
  note('bare Debian 12 container started');
});

after(async () => {
  if (runner && runner.exitCode === null) runner.kill('SIGKILL');
  await podman(['rm', '-f', '-t', '2', NAME]).catch(() => {});
  note('container removed');
});

test('./kitchen-bus run from /root on a bare Debian 12: healthy, and a demo order goes through', { timeout: 1500000 }, async () => {
  // The path the suite never walked: root's home is private.
  assert.equal((await exec(NAME, ['stat', '-c', '%a', '/root'])).trim(), '700');
  assert.match(await exec(NAME, ['sh', '-c', 'command -v node mosquitto gcc || echo none']), /^none$/m,
    'the machine starts bare');
  await copyCheckout(NAME, '/root/kitchen-bus');
  note('checkout copied to /root/kitchen-bus');

  runner = spawn('podman', ['exec', NAME, '/root/kitchen-bus/kitchen-bus', 'run'], { env: podmanEnv });
  runner.on('exit', () => {});
  const keep = (c) => { runLog = (runLog + c).slice(-20000); };
  runner.stdout.on('data', keep);
  runner.stderr.on('data', keep);
  const base = `http://127.0.0.1:${ports.http}`;
  await waitFor(async () => {
    if (runner.exitCode !== null) throw new Error(`./kitchen-bus run exited ${runner.exitCode}:\n${runLog.slice(-6000)}`);
    return /Kitchen Bus is running/.test(runLog);
  }, { timeout: 1200000, interval: 500, what: `./kitchen-bus run to say it is running\n${runLog.slice(-3000)}` });
  note('./kitchen-bus run is up (cold: apt-get, npm ci, build)');
  const health = await waitHealthy(base, { timeout: 10000 });
  assert.equal(health.broker, 'connected');

  // Debian's own Node.js and npm, and only what running needs.
  assert.match(await exec(NAME, ['node', '--version']), /^v18\./);
  assert.match(await exec(NAME, ['npm', '--version']), /^9\./);
  const extras = await exec(NAME, ['sh', '-c',
    'for p in chromium valgrind clang podman; do dpkg-query -W -f="\\${Status}\\n" $p 2>/dev/null | grep -q "install ok" && echo $p; done; true']);
  assert.equal(extras.trim(), '', `run installed test-only packages: ${extras}`);

  const bus = { wsUrl: () => `ws://127.0.0.1:${ports.ws}` };
  const kitchen = await kitchenDevice(bus, 'pizza', 'pizza-kitchen', { transport: 'ws' });
  const pos = await posDevice(bus, 'pizza', 'pizza-pos', { transport: 'ws' });
  const order = makeOrder('pizza');
  const ack = await pos.submit(order);
  assert.equal(ack.result, 'accepted', JSON.stringify(ack));
  const seen = await waitMessage(kitchen.client, (m) => m.topic.endsWith(`/orders/${order.order_number}`) && m.payload !== '',
    { timeout: 5000, what: 'the order at pizza-kitchen' });
  assert.equal(parse(seen).items[0].name, 'Margherita');
  pos.client.end(true);
  kitchen.client.end(true);
  note('a demo order went from pizza-pos to pizza-kitchen');

  // Ctrl-C: both stop, and run exits 0 saying so.
  const exited = new Promise((resolve) => runner.once('exit', resolve));
  // (A bare Debian has no procps: the process is found in /proc.)
  await exec(NAME, ['sh', '-c', 'for p in $(ls /proc | grep -E "^[0-9]+$" | sort -n); do tr "\\0" " " </proc/$p/cmdline 2>/dev/null | grep -q "^bash /root/kitchen-bus/kitchen-bus run" && { kill -INT $p; break; }; done']);
  assert.equal(await exited, 0, runLog.slice(-3000));
  assert.match(runLog, /kitchen-bus: stopped/);
  assert.doesNotMatch(await exec(NAME, ['sh', '-c', 'cat /proc/[0-9]*/comm 2>/dev/null; true']), /^(kb-bridge|mosquitto)$/m, 'nothing left running');
});

test('./kitchen-bus test on the same machine: the unit, integration and browser suites pass on Debian\'s Node 18', { timeout: 1500000 }, async () => {
  const started = Date.now();
  let out;
  try {
    out = await exec(NAME, ['sh', '-c', 'cd /root/kitchen-bus && ./kitchen-bus test -L "unit|integration|web" 2>&1'], { timeout: 1400000 });
  } catch (err) {
    // Each failed test's own output (ctest --output-on-failure prints it after its
    // "***Failed" line), then the end of the run.
    const msg = String(err.message);
    const failed = [...msg.matchAll(/^.*\*\*\*Failed[\s\S]*?(?=^\s*Start \d+:|^\s*\d+% tests passed)/gm)]
      .map((m) => m[0].slice(0, 8000)).join('\n');
    throw new Error(`./kitchen-bus test failed in the container:\n${failed}\n[...]\n${msg.slice(-3000)}`);
  }
  const summary = out.match(/(\d+)% tests passed, (\d+) tests failed out of (\d+)/);
  assert.ok(summary, out.slice(-3000));
  assert.equal(summary[2], '0');
  assert.ok(Number(summary[3]) >= 15, `the suite ran (${summary[3]} tests)`);
  note(`./kitchen-bus test -L 'unit|integration|web' on Node ${(await exec(NAME, ['node', '--version'])).trim()}: ${summary[0]} (${((Date.now() - started) / 1000).toFixed(0)} s with installs)`);
});
