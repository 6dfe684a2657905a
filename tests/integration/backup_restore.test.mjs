// backup_restore: `kitchen-bus backup` copies the running journal while a
// POS streams orders (every order acked before the backup started is in the
// copy, and acks keep coming while it runs); `kitchen-bus restore` puts a
// backup on a stopped bus, after which screens show exactly the backup's open
// orders, both on a fresh bus and on the bus the backup came from (whose
// broker still holds the later orders retained: the bridge clears them).
// Restore refuses a running bus (by its pid file, and by the journal's lock
// when the pid file does not name it), a damaged file and a file that is not
// a journal, each with one line and the journal untouched; the journal it
// replaces, WAL included, is kept as journal.db.before-restore.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startBus, posDevice, kitchenDevice, makeOrder, waitFor, ROOT, BRIDGE_BIN,
} from '../lib/harness.mjs';

// kitchen-bus runs the kb-journal of the build under test (the one kb-bridge is in).
const BUILD_DIR = path.dirname(path.dirname(BRIDGE_BIN));
const KB_JOURNAL = path.join(BUILD_DIR, 'bridge/kb-journal');
const work = mkdtempSync(path.join(os.tmpdir(), 'kb-backup-'));
const buses = [];
after(async () => {
  for (const b of buses) await b.stop().catch((e) => console.log(`# ${e.message}`));
  rmSync(work, { recursive: true, force: true });
});
async function bus(opts) {
  const b = await startBus(opts);
  buses.push(b);
  return b;
}

/** Runs a program without blocking the event loop (orders flow meanwhile). */
function run(cmd, args, env = {}, timeout = 60000) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.once('error', reject);
    child.once('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}
const kitchenBus = (b, args, env = {}) => run(path.join(ROOT, 'kitchen-bus'), args,
  { KB_DATA_DIR: b.dir, KB_BUILD_DIR: BUILD_DIR, ...env });

function succeeded(r, what) {
  assert.equal(r.code, 0, `${what} failed: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /error|Sanitizer/i, `${what}: ${r.stderr}`);
}
/** Exit status 1 and exactly one line "kitchen-bus: error: <cause>; <fix>". */
function refused(r, pattern) {
  assert.equal(r.code, 1, `should be refused: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /^kitchen-bus: error: [^\n]+; [^\n]+\n$/, `one line on stderr, not: ${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.equal(r.stdout, '');
}

/** The rows of a journal or backup's orders table, from kb-journal. */
async function journalOrders(file) {
  const r = await run(KB_JOURNAL, ['orders', file]);
  succeeded(r, `kb-journal orders ${file}`);
  return r.stdout.split('\n').filter(Boolean).map((line) => {
    const [tenant, number, status, open, seq] = line.split('\t');
    return { tenant, number, status, open: open === 'open', seq: Number(seq) };
  });
}
const openNumbers = async (file) => new Set((await journalOrders(file)).filter((o) => o.open).map((o) => o.number));

/** What a screen shows: the latest retained state per order, cleared ones gone. */
function screen(kitchen) {
  const view = new Set();
  for (const m of kitchen.client.received) {
    if (!m.topic.includes('/orders/')) continue;
    const n = m.topic.slice(m.topic.lastIndexOf('/') + 1);
    if (m.payload === '') view.delete(n); else view.add(n);
  }
  return view;
}
async function screenShows(kitchen, expected, what) {
  const same = () => { const v = screen(kitchen); return v.size === expected.size && [...v].every((n) => expected.has(n)); };
  try {
    await waitFor(same, { timeout: 15000, interval: 20, what });
  } catch (e) {
    const v = screen(kitchen);
    e.message += `: shows ${v.size}, expected ${expected.size}; extra ${[...v].filter((n) => !expected.has(n)).slice(0, 5)}, `
      + `missing ${[...expected].filter((n) => !v.has(n)).slice(0, 5)}`;
    throw e;
  }
}

const sha = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');
const SUMMARY = /^(wrote|restored|journal) (.+): (\d+) bytes, (\d+) open orders \((\d+) in all\), (\d+) events, schema (\S+)$/m;

async function submitAll(pos, n) {
  const numbers = [];
  for (let i = 0; i < n; i++) {
    const order = makeOrder('pizza');
    assert.equal((await pos.submit(order)).result, 'accepted');
    numbers.push(order.order_number);
  }
  return numbers;
}

let backupFile;      // the backup taken under load
let backupOpen;      // its open order numbers
let loadBus;         // the bus it was taken from
let loadTotal;       // orders acked on that bus in all

test('backup under load: every order acked before it started is in the copy, and acks go on while it runs', { timeout: 120000 }, async () => {
  loadBus = await bus();
  const pos = await posDevice(loadBus, 'pizza');
  const TOTAL = 300;
  const IN_FLIGHT = 8;
  const acked = []; // [order number, time of its ack]
  let sent = 0;
  const worker = async () => {
    while (sent < TOTAL) {
      sent += 1;
      const order = makeOrder('pizza');
      const ack = await pos.submit(order, order.order_number, { timeout: 20000 });
      assert.equal(ack.result, 'accepted', JSON.stringify(ack));
      acked.push([order.order_number, performance.now()]);
    }
  };
  const stream = Promise.all(Array.from({ length: IN_FLIGHT }, worker));

  await waitFor(() => acked.length >= 60, { timeout: 20000, what: '60 orders acked' });
  const ackedBefore = new Set(acked.map(([n]) => n));
  backupFile = path.join(work, 'under-load.db');
  const t0 = performance.now();
  // One page per step and a pause after each: the copy takes a while, and
  // the orders keep flowing meanwhile.
  const r = await kitchenBus(loadBus, ['backup', backupFile], { KB_BACKUP_STEP_PAGES: '1', KB_BACKUP_PAUSE_MS: '15' });
  const t1 = performance.now();
  succeeded(r, 'backup');
  const ackedDuring = acked.filter(([, t]) => t > t0 && t < t1).length;
  await stream;
  loadTotal = acked.length;
  assert.equal(loadTotal, TOTAL);
  console.log(`# backup took ${(t1 - t0).toFixed(0)} ms; ${ackedDuring} orders were acked while it ran`);
  assert.ok(ackedDuring >= 10, `orders kept flowing during the backup (${ackedDuring} acked in ${(t1 - t0).toFixed(0)} ms)`);

  // What it printed is what it wrote.
  const m = r.stdout.match(SUMMARY);
  assert.ok(m, `summary line in: ${r.stdout}`);
  assert.equal(m[1], 'wrote');
  assert.equal(m[2], backupFile);
  assert.equal(Number(m[3]), statSync(backupFile).size);
  const rows = await journalOrders(backupFile);
  assert.equal(Number(m[4]), rows.filter((o) => o.open).length);
  assert.equal(Number(m[5]), rows.length);
  const tenantLine = r.stdout.match(/^ {2}tenant pizza: last seq (\d+), (\d+) open orders \((\d+) in all\)$/m);
  assert.ok(tenantLine, r.stdout);

  // Every order acked before the backup started is in it, and the copy is
  // one moment of the journal: pizza's seqs 1..N, one per order, no gap.
  const inBackup = new Set(rows.map((o) => o.number));
  const missing = [...ackedBefore].filter((n) => !inBackup.has(n));
  assert.deepEqual(missing, [], 'orders acked before the backup are all in it');
  assert.ok(rows.length < TOTAL, `the copy is of the moment it started (${rows.length} of ${TOTAL})`);
  const seqs = rows.map((o) => o.seq).sort((a, b) => a - b);
  assert.deepEqual(seqs, Array.from({ length: rows.length }, (_, i) => i + 1));
  assert.equal(Number(tenantLine[1]), rows.length, 'last seq of the tenant');
  assert.ok(!existsSync(`${backupFile}.partial`) && !existsSync(`${backupFile}-wal`), 'nothing beside the backup');
  backupOpen = await openNumbers(backupFile);
  assert.equal(backupOpen.size, rows.length);

  // `info` says the same of it.
  const info = await run(KB_JOURNAL, ['info', backupFile]);
  succeeded(info, 'kb-journal info');
  assert.equal(info.stdout.match(SUMMARY)[4], m[4]);
  await pos.client.endAsync();
});

test('restored onto a fresh bus, a kitchen sees exactly the open orders of the backup', { timeout: 60000 }, async () => {
  assert.ok(backupFile, 'the backup of the first test');
  const fresh = await bus();
  const own = makeOrder('pizza'); // the fresh bus's own order, which the restore replaces
  const pos = await posDevice(fresh, 'pizza');
  assert.equal((await pos.submit(own)).result, 'accepted');
  await pos.client.endAsync();
  await fresh.stopBridge();

  const r = await kitchenBus(fresh, ['restore', backupFile]);
  succeeded(r, 'restore');
  const m = r.stdout.match(SUMMARY);
  assert.equal(m[1], 'restored');
  assert.equal(m[2], fresh.journalPath());
  assert.equal(Number(m[4]), backupOpen.size);
  assert.match(r.stdout, /the previous journal is kept as .*journal\.db\.before-restore/);
  assert.match(r.stderr, /start the bridge/);
  assert.ok(existsSync(`${fresh.journalPath()}.before-restore`));
  assert.ok(!existsSync(`${fresh.journalPath()}-wal`) && !existsSync(`${fresh.journalPath()}-shm`),
    'no WAL of the old journal beside the new one');
  assert.equal(statSync(fresh.journalPath()).mode & 0o777, statSync(`${fresh.journalPath()}.before-restore`).mode & 0o777,
    'the mode of the journal it replaced');

  await fresh.startBridge();
  const kitchen = await kitchenDevice(fresh, 'pizza');
  await screenShows(kitchen, backupOpen, 'the kitchen to show the backup\'s open orders');
  assert.ok(!screen(kitchen).has(own.order_number));
  await kitchen.client.endAsync();
});

test('restored onto the bus it came from, the later orders its broker still holds leave the screens', { timeout: 60000 }, async () => {
  assert.ok(backupFile && loadBus, 'the bus and backup of the first test');
  // A screen that stays on through the restore, and one that connects after.
  const stayed = await kitchenDevice(loadBus, 'pizza');
  await waitFor(() => screen(stayed).size === loadTotal, { timeout: 10000, what: 'the screen to show every order' });
  await loadBus.stopBridge();
  succeeded(await kitchenBus(loadBus, ['restore', backupFile]), 'restore');
  const mark = loadBus.bridgeLog().length;
  await loadBus.startBridge();

  await screenShows(stayed, backupOpen, 'the screen that stayed on to show the backup\'s open orders');
  const later = await kitchenDevice(loadBus, 'pizza');
  await screenShows(later, backupOpen, 'a screen connecting after to show the backup\'s open orders');
  const cleared = (loadBus.bridgeLog().slice(mark).match(/clearing stale retained order pizza\//g) || []).length;
  assert.equal(cleared, loadTotal - backupOpen.size, 'the bridge cleared each retained order the backup does not have');
  // Seqs go on from the replaced journal's, never back to the backup's: the
  // screen that stayed on (and head office) would drop a seq it has seen.
  const pos = await posDevice(loadBus, 'pizza');
  const next = await pos.submit(makeOrder('pizza'));
  assert.equal(next.result, 'accepted');
  assert.ok(next.seq > loadTotal, `seq ${next.seq} goes on after the ${loadTotal} of the replaced journal`);
  await pos.client.endAsync();
  await stayed.client.endAsync();
  await later.client.endAsync();
});

test('restore refuses a running bus, a damaged file and a file that is not a journal, and leaves the journal as it was', { timeout: 60000 }, async () => {
  assert.ok(backupFile, 'the backup of the first test');
  const b = await bus();
  const journal = b.journalPath();
  const untouched = (what) => {
    assert.ok(!existsSync(`${journal}.before-restore`), `${what}: no before-restore`);
    assert.ok(!existsSync(`${journal}.restoring`), `${what}: nothing half-restored`);
  };

  // Running: the pid file names a live kb-bridge.
  refused(await kitchenBus(b, ['restore', backupFile]), /the bridge is running on .* \(pid \d+\); stop it first/);
  untouched('running');
  // Still running, but the pid file names another process (this one): the
  // journal's lock shows the bridge.
  const pidFile = path.join(b.dir, 'bridge/kb-bridge.pid');
  const bridgePid = readFileSync(pidFile, 'utf8').trim();
  writeFileSync(pidFile, `${process.pid}\n`);
  refused(await kitchenBus(b, ['restore', backupFile]),
    new RegExp(`journal .* is in use by process ${bridgePid} \\(kb-bridge\\); stop the bridge first`));
  untouched('locked');

  await b.stopBridge();
  const before = sha(journal);
  const bad = (name, content) => { const f = path.join(work, name); writeFileSync(f, content); return f; };
  const damaged = path.join(work, 'damaged.db');
  copyFileSync(backupFile, damaged);
  const bytes = readFileSync(damaged);
  bytes.fill(0xff, 4096, 4 * 4096); // pages 2 to 4 (table roots, or a pointer map with auto_vacuum)
  writeFileSync(damaged, bytes);
  const inUse = path.join(work, 'with-wal.db');
  copyFileSync(backupFile, inUse);
  writeFileSync(`${inUse}-wal`, randomBytes(4096));

  const cases = [
    [bad('random.db', randomBytes(65536)), /random\.db is not an SQLite database/],
    [damaged, /damaged\.db is damaged \(PRAGMA integrity_check: .+\)/],
    [bad('empty.db', ''), /empty\.db is not a Kitchen Bus journal \(it has no table orders\)/],
    [bad('notes.txt', 'orders: 12, 13, 14\n'), /notes\.txt is not an SQLite database/],
    [inUse, /with-wal\.db-wal exists beside .*with-wal\.db/],
    [path.join(work, 'no-such-file.db'), /no backup file/],
  ];
  for (const [file, pattern] of cases) {
    refused(await kitchenBus(b, ['restore', file]), pattern);
    untouched(path.basename(file));
    assert.equal(sha(journal), before, `${path.basename(file)}: the journal is as it was`);
  }
  refused(await kitchenBus(b, ['restore', journal]), /is the journal itself/);
  assert.equal(sha(journal), before);
});

test('restore keeps the journal it replaces, WAL and all, as journal.db.before-restore; backup works on a stopped bus', { timeout: 60000 }, async () => {
  const b = await bus();
  const pos = await posDevice(b, 'pizza');
  const kept = await submitAll(pos, 3);
  const file = path.join(work, 'three.db');
  succeeded(await kitchenBus(b, ['backup', file]), 'backup');
  const later = await submitAll(pos, 2);
  await pos.client.endAsync();
  // Killed: the last orders are only in the WAL, which belongs to this journal.
  await b.killBridge();
  const journal = b.journalPath();
  assert.ok(statSync(`${journal}-wal`).size > 0, 'the killed bridge left a WAL');

  const r = await kitchenBus(b, ['restore', file]);
  succeeded(r, 'restore');
  assert.match(r.stdout, /the previous journal is kept as .*journal\.db\.before-restore\n/);
  const old = `${journal}.before-restore`;
  assert.ok(!existsSync(`${journal}-wal`) && !existsSync(`${journal}-shm`), 'the old WAL is not beside the new journal');
  assert.ok(!existsSync(`${old}-wal`), 'the old WAL was folded into the old journal');
  assert.deepEqual(new Set(await openNumbers(old)), new Set([...kept, ...later]), 'the old journal, with what was in its WAL');
  assert.deepEqual(await openNumbers(journal), new Set(kept));

  // A second restore would lose the first one's before-restore: refused.
  refused(await kitchenBus(b, ['restore', file]), /journal\.db\.before-restore exists \(kept by an earlier restore\); move it away/);

  // A backup of the stopped bus into a folder, pruned to the newest 2 of
  // its own names (older ones faked here; other files are left alone).
  const dir = path.join(work, 'nightly');
  mkdirSync(dir);
  for (const name of ['journal-2000-01-01T000000Z.db', 'journal-2000-01-02T000000Z.db', 'notes.txt']) {
    writeFileSync(path.join(dir, name), 'x');
  }
  const nightly = await kitchenBus(b, ['backup', '--keep', '2', dir]);
  succeeded(nightly, 'backup --keep 2');
  const m = nightly.stdout.match(SUMMARY);
  assert.match(path.basename(m[2]), /^journal-\d{4}-\d\d-\d\dT\d{6}Z\.db$/);
  assert.equal(Number(m[4]), kept.length);
  assert.match(nightly.stderr, /removed 1 older backup/);
  assert.deepEqual(readdirSync(dir).sort(), ['journal-2000-01-02T000000Z.db', path.basename(m[2]), 'notes.txt'].sort());
  refused(await kitchenBus(b, ['backup', file]), /three\.db exists; choose a new file name/);
  refused(await kitchenBus({ dir: path.join(work, 'no-bus') }, ['backup', path.join(work, 'x.db')]), /no journal at .*; check KB_DATA_DIR/);

  // Started: the screens show the backup's orders; the two later ones,
  // still retained in the broker, are cleared.
  await b.startBridge();
  const kitchen = await kitchenDevice(b, 'pizza');
  await screenShows(kitchen, new Set(kept), 'the kitchen to show the three restored orders');
  await kitchen.client.endAsync();
});
