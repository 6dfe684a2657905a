// http_abuse: the bridge's HTTP port (3002) keeps serving /health to
// everyone else while some clients send over-long headers, garbage, trickle
// bytes (slowloris) or just hold hundreds of idle connections open.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startBus, posDevice, makeOrder } from '../lib/harness.mjs';

let bus;
before(async () => { bus = await startBus(); });
after(async () => { await bus?.stop(); });

function rawRequest(text, { timeout = 5000 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(bus.httpPort, '127.0.0.1');
    let data = '';
    const done = (how) => { clearTimeout(timer); sock.destroy(); resolve({ how, data }); };
    const timer = setTimeout(() => done('timeout'), timeout);
    sock.on('data', (d) => { data += d; if (data.includes('\r\n\r\n')) done('answered'); });
    sock.on('end', () => done('closed'));
    sock.on('error', () => done('error'));
    sock.on('connect', () => sock.write(text));
  });
}

async function healthWithin(ms) {
  const started = Date.now();
  const res = await fetch(bus.url('/health'), { signal: AbortSignal.timeout(ms) });
  return { status: res.status, ms: Date.now() - started };
}

test('an over-long header is refused and the server carries on', async () => {
  const r = await rawRequest(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100000)}\r\n\r\n`);
  assert.notEqual(r.how, 'timeout', 'the bridge answers or closes, it does not hang');
  assert.doesNotMatch(r.data, /^HTTP\/1\.1 200/);
  assert.equal((await healthWithin(2000)).status, 200);
});

test('garbage and an over-long URL get an error, not a crash', async () => {
  for (const junk of ['\x00\x01\x02\xff\r\n\r\n', 'HELLO\r\n\r\n', `GET /${'x'.repeat(20000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    'GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /kitchen%00.html HTTP/1.1\r\nHost: x\r\n\r\n']) {
    const r = await rawRequest(junk);
    assert.notEqual(r.how, 'timeout');
    assert.doesNotMatch(r.data, /root:/);
  }
  assert.equal((await healthWithin(2000)).status, 200);
});

test('slowloris clients and 300 idle connections do not block others', async () => {
  const socks = [];
  for (let i = 0; i < 300; i++) {
    socks.push(await new Promise((resolve) => {
      const s = net.connect(bus.httpPort, '127.0.0.1', () => resolve(s));
      s.on('error', () => {});
    }));
  }
  // 30 of them trickle a request one byte at a time.
  const trickle = setInterval(() => { for (const s of socks.slice(0, 30)) s.write('G'); }, 50);
  try {
    for (let i = 0; i < 5; i++) {
      const h = await healthWithin(2000);
      assert.equal(h.status, 200);
    }
    // Orders still flow meanwhile.
    const pos = await posDevice(bus, 'pizza');
    assert.equal((await pos.submit(makeOrder('pizza'))).result, 'accepted');
    await pos.client.endAsync();
  } finally {
    clearInterval(trickle);
    for (const s of socks) s.destroy();
  }
  assert.equal((await healthWithin(2000)).status, 200);
});
