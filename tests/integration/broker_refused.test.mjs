// broker_refused: a broker that refuses the bridge's login, or cannot be
// reached, is retried with a capped backoff (not several times a second),
// logged once per change instead of once per attempt, shown in /health
// ("refused" / "unreachable" with a reason, 503) and counted in /metrics;
// the bridge recovers by itself once the cause is fixed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startBus, waitFor } from '../lib/harness.mjs';

let bus;
after(async () => { await bus?.stop(); });

/** /health, or null while the bridge's HTTP server is not up yet. */
async function health() {
  try { return await bus.health(); } catch { return null; }
}

async function metricOr0(name) {
  try { return await bus.metric(name); } catch { return 0; }
}

/** How many times `re` matches the bridge's log lines since `mark`. */
function linesSince(mark, re) {
  return bus.logs.slice(mark).filter((l) => l.startsWith('[bridge]')).join('')
    .split('\n').filter((l) => re.test(l));
}

/**
 * Polls a counter until it has grown by `more` beyond `from`; returns the
 * times (ms since the first poll) at which it was seen to grow.
 */
async function watchCounter(name, from, more, timeout) {
  const start = Date.now();
  const seen = [];
  let last = from;
  await waitFor(async () => {
    const v = await metricOr0(name);
    if (v > last) { for (let i = last; i < v; i++) seen.push(Date.now() - start); last = v; }
    return v >= from + more;
  }, { timeout, interval: 20, what: `${name} to reach ${from + more} (at ${last})` });
  return seen;
}

test('a broker refusing the login: backoff, one log line, /health and /metrics say so, recovery', { timeout: 60000 }, async () => {
  bus = await startBus();
  const goodFile = bus.bridgeEnv.KB_BRIDGE_PASSWORD_FILE;
  const good = readFileSync(goodFile, 'utf8');
  const wrongFile = path.join(bus.dir, 'wrong-bridge.pw');
  writeFileSync(wrongFile, 'not-the-bridge-password\n', { mode: 0o600 });

  await bus.stopBridge();
  const mark = bus.logs.length;
  bus.bridgeEnv.KB_BRIDGE_PASSWORD_FILE = wrongFile;
  await bus.startBridge({ waitHealthy: false });

  const refused = await waitFor(async () => {
    const h = await health();
    return h && h.body.broker === 'refused' ? h : null;
  }, { timeout: 10000, what: '/health to say broker "refused"' });
  assert.equal(refused.status, 503);
  assert.equal(refused.body.status, 'degraded');
  assert.match(refused.body.broker_reason, /not authori[sz]ed|bad user ?name or password/i);
  assert.match(refused.body.broker_since, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  // Retries happen...
  await waitFor(async () => (await metricOr0('kb_broker_refusals_total')) >= 2,
    { timeout: 5000, what: 'a second refusal' });
  // ...spaced by a doubling backoff capped at 5 s: a fixed 100 ms retry
  // (the old behaviour) makes these 6 refusals in about a second; 0.2, 0.4, 0.8,
  // 1.6, 3.2 and then 5 s (not 6.4 s) of backoff make ~11 s.
  const from = await bus.metric('kb_broker_refusals_total');
  const t0 = Date.now();
  const seen = await watchCounter('kb_broker_refusals_total', from, 6, 20000);
  const elapsed = Date.now() - t0;
  const gaps = seen.map((t, i) => t - (i ? seen[i - 1] : 0));
  console.log(`broker_refused: refusals ${from}..${from + 6} took ${elapsed} ms, gaps ${gaps.join(', ')} ms`);
  assert.ok(elapsed >= 5000, `6 refusals in ${elapsed} ms: not backing off`);
  assert.ok(gaps.at(-2) >= 1500, `a retry came ${gaps.at(-2)} ms after the one before`);
  assert.ok(gaps.at(-1) >= 4000 && gaps.at(-1) <= 5700, `the last retry waited ${gaps.at(-1)} ms, not the 5 s cap`);

  // One line for the change, not one per attempt; the password never shows.
  const log = () => bus.bridgeLog();
  const refusalLines = linesSince(mark, /broker refused the bridge/);
  assert.ok(refusalLines.length >= 1 && refusalLines.length <= 2,
    `${refusalLines.length} refusal lines for ${from + 6} refusals:\n${refusalLines.join('\n')}`);
  assert.match(refusalLines[0], /broker refused the bridge's login \(Not authorized\): .*kb-bridge's password in KB_BRIDGE_PASSWORD_FILE=\S*wrong-bridge\.pw/);
  assert.ok(!log().includes('not-the-bridge-password') && !log().includes(good.trim()), 'a password was logged');

  // Fixing the file is enough: the bridge reads it again before its next try.
  const fixedAt = Date.now();
  writeFileSync(wrongFile, good);
  await bus.waitHealthy(10000);
  const recovery = Date.now() - fixedAt;
  console.log(`broker_refused: healthy ${recovery} ms after the password file was fixed`);
  assert.ok(recovery < 5000 + 2000, `recovery took ${recovery} ms, beyond the 5 s backoff cap`);
  const h = await bus.health();
  assert.equal(h.status, 200);
  assert.equal(h.body.broker, 'connected');
  assert.equal(h.body.broker_reason, undefined);
  assert.match(linesSince(mark, /connected to the broker/).join('\n'),
    /connected to the broker at \S+ after \d+ failed attempts over [\d.]+ s \(it had refused the bridge: Not authorized\)/);
  assert.ok(await bus.metric('kb_broker_refusals_total') >= from + 6);
  assert.equal(await bus.metric('kb_broker_connect_failures_total'), 0);
});

test('a broker that cannot be reached: /health "unreachable", counted, quiet logs, reconnects', { timeout: 60000 }, async () => {
  // The connection is lost while up, and the reconnects fail.
  let mark = bus.logs.length;
  await bus.stopBroker();
  const lost = await waitFor(async () => {
    const h = await health();
    return h && h.body.broker === 'unreachable' ? h : null;
  }, { timeout: 5000, what: '/health to say broker "unreachable"' });
  assert.equal(lost.status, 503);
  assert.ok(lost.body.broker_reason, 'no broker_reason');
  const failures = await watchCounter('kb_broker_connect_failures_total', 0, 4, 10000);
  console.log(`broker_refused: failed reconnects at ${failures.join(', ')} ms`);
  assert.ok(failures.at(-1) - failures[0] >= 500, `4 failed reconnects within ${failures.at(-1) - failures[0]} ms`);
  assert.match((await bus.health()).body.broker_reason, /connection refused/i);
  const quiet = linesSince(mark, /lost the broker|cannot reach the broker/);
  assert.equal(quiet.length, 1, `expected one line for the outage:\n${quiet.join('\n')}`);
  assert.match(quiet[0], /lost the broker connection \(.+\); reconnecting with backoff up to 2 s/);

  // A bridge started with no broker: "connecting", then "unreachable".
  await bus.stopBridge();
  const exit = await bus.bridge.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, 'the bridge did not stop cleanly while unreachable');
  mark = bus.logs.length;
  await bus.startBridge({ waitHealthy: false });
  const down = await waitFor(async () => {
    const h = await health();
    return h && h.body.broker === 'unreachable' ? h : null;
  }, { timeout: 5000, what: '/health to say broker "unreachable" after a start without broker' });
  assert.equal(down.status, 503);
  assert.match(down.body.broker_reason, /connection refused/i);
  await waitFor(async () => (await metricOr0('kb_broker_connect_failures_total')) >= 3,
    { timeout: 5000, what: 'three failed connects' });
  const reach = linesSince(mark, /cannot reach the broker/);
  assert.equal(reach.length, 1, `expected one line:\n${reach.join('\n')}`);
  assert.match(reach[0], /cannot reach the broker at 127\.0\.0\.1:\d+ \(Connection refused\): is it running/);

  await bus.startBroker();
  await bus.waitHealthy(10000);
  assert.equal((await bus.health()).body.broker, 'connected');
  assert.match(linesSince(mark, /connected to the broker/).join('\n'),
    /connected to the broker at \S+ after \d+ failed attempts over [\d.]+ s \(it was unreachable: Connection refused\)/);
  assert.equal(await bus.metric('kb_broker_refusals_total'), 0);
});
