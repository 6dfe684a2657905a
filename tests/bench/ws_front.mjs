// ws_front.mjs - the benchmark's `--ws-front lighttpd` (issue 17, lever 1):
// Debian's lighttpd (mod_wstunnel) terminating MQTT over WebSockets on a
// port of its own and passing the bytes to the broker's TCP listener, in
// front of a bus from tests/lib/harness.mjs. An experiment the benchmark can
// repeat, not how the bus runs (docs/BENCHMARKS.md, "The WebSocket tail").
//
// mod_wstunnel answers a client's subprotocol with the frame type it uses
// ("binary"); browsers and the ws package refuse a 101 naming a protocol
// they did not offer, so mod_setenv sets the answer to "mqtt" (MQTT 5.0
// section 6: the server must select "mqtt"). Frames are binary both ways.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, portOpen, waitFor } from '../lib/harness.mjs';

/** Starts lighttpd in front of `bus`; returns the bus with wsPort/wsUrl on lighttpd, stop() stopping both. */
export async function withLighttpdFront(bus) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kb-wsfront-'));
  const port = await freePort();
  mkdirSync(path.join(dir, 'root'));
  writeFileSync(path.join(dir, 'lighttpd.conf'), [
    'server.modules = ("mod_setenv", "mod_wstunnel")',
    `server.port = ${port}`,
    'server.bind = "127.0.0.1"',
    `server.document-root = "${dir}/root"`,
    `wstunnel.server = ( "" => (( "host" => "127.0.0.1", "port" => ${bus.mqttPort} )) )`,
    'wstunnel.frame-type = "binary"',
    'setenv.set-response-header = ( "Sec-WebSocket-Protocol" => "mqtt" )',
    '',
  ].join('\n'));
  const child = spawn('lighttpd', ['-D', '-f', path.join(dir, 'lighttpd.conf')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', r));
  await waitFor(() => portOpen(port), { timeout: 5000, what: 'lighttpd in front of the broker' });
  return Object.assign(Object.create(bus), {
    wsPort: port,
    wsUrl: () => `ws://127.0.0.1:${port}`,
    front: { pid: child.pid },
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
      await bus.stop();
    },
  });
}
