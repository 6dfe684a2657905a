// fake_printer.mjs - a raw "port 9100" network printer on a free loopback TCP
// port, for tests of the bridge's ticket printing. It records every byte of
// every connection and can misbehave on demand (see the modes below); tickets()
// decodes what it got with the strict decoder in escpos.mjs.
//
// Modes (setMode, awaited; a mode applies to connections accepted after it):
//   normal - read everything; when the client ends its side (shutdown
//            SHUT_WR), record `ended` and end ours, so the client sees EOF.
//   hold   - read everything but keep our side open until release().
//   stall  - accept and never read, never close: the client's writes block.
//   reset  - accept and destroy at once (an RST where Node can send one).
//   down   - no listener: connections are refused. Any other mode listens
//            again on the same port.
// Not a printer model: no status replies (DLE EOT, ASB), no paper-out, no
// other transports (LPD, IPP). Waits are polled conditions with a deadline.
import net from 'node:net';
import { decodeEscPos } from './escpos.mjs';
import { waitFor } from './harness.mjs';

const MODES = ['normal', 'hold', 'stall', 'reset', 'down'];

/** Starts a fake printer on 127.0.0.1 (a free port) in `mode`. */
export async function startPrinter({ mode = 'normal' } = {}) {
  if (!MODES.includes(mode)) throw new Error(`fake printer: unknown mode ${mode}`);
  const servers = new Set(); // every listener we opened, the current one last
  const sockets = new Set();
  let server = null;
  let current = mode;
  let queue = Promise.resolve(); // setMode calls, one at a time

  const accept = (sock) => {
    const chunks = [];
    const conn = {
      get bytes() {
        if (chunks.length !== 1) chunks.splice(0, chunks.length, Buffer.concat(chunks));
        return chunks[0];
      },
      ended: false,
      closed: false,
      held: current === 'hold',
      socket: sock,
    };
    Object.defineProperty(conn, 'socket', { enumerable: false }); // keeps assertion diffs short
    printer.connections.push(conn);
    sockets.add(sock);
    sock.on('error', () => {});
    sock.on('close', () => { conn.closed = true; sockets.delete(sock); });
    if (current === 'reset') {
      if (sock.resetAndDestroy) sock.resetAndDestroy(); else sock.destroy();
      return;
    }
    if (current === 'stall') { sock.pause(); return; }
    sock.on('data', (chunk) => chunks.push(chunk));
    sock.on('end', () => {
      conn.ended = true;
      if (!conn.held) sock.end();
    });
  };

  const listen = async (port) => {
    const deadline = Date.now() + 2000;
    for (let delay = 20; ; delay = Math.min(delay * 2, 200)) {
      const srv = net.createServer({ allowHalfOpen: true }, accept);
      srv.done = new Promise((r) => srv.once('close', r)); // closed and drained
      try {
        await new Promise((resolve, reject) => {
          srv.once('error', reject);
          srv.listen(port, '127.0.0.1', () => { srv.off('error', reject); resolve(); });
        });
        srv.on('error', () => {});
        servers.add(srv);
        return srv;
      } catch (err) {
        if (err.code !== 'EADDRINUSE' || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, delay)); // backoff before the next try
      }
    }
  };

  server = await listen(0);
  const printer = {
    port: server.address().port,
    address: '',
    connections: [],
    get mode() { return current; },

    /** Switches the mode; 'down' closes the listener, any other mode after it listens again. */
    setMode(m) {
      if (!MODES.includes(m)) return Promise.reject(new Error(`fake printer: unknown mode ${m}`));
      queue = queue.catch(() => {}).then(async () => {
        current = m;
        if (m === 'down' && server) {
          server.close(); // stops accepting now; open connections live on
          server = null;
        } else if (m !== 'down' && !server) {
          server = await listen(printer.port);
        }
      });
      return queue;
    },

    /** Ends our side of the connections held in 'hold' mode (now, or when their client ends). The mode stays. */
    release() {
      for (const c of printer.connections) {
        if (!c.held) continue;
        c.held = false;
        if (c.ended && !c.closed) c.socket.end();
      }
    },

    /** Resolves once `predicate(printer)` is truthy; rejects after `timeout` ms. */
    async waitFor(predicate, { timeout = 10000, what = 'condition' } = {}) {
      try {
        return await waitFor(() => predicate(printer), { timeout, interval: 20, what });
      } catch (err) {
        err.message = `fake printer: ${err.message}; ${printer.summary()}`;
        throw err;
      }
    },

    /** A one-line account of the connections, for failure messages. */
    summary() {
      const each = printer.connections.map((c, i) => `#${i} ${c.bytes.length} B${c.ended ? ' ended' : ''}${c.closed ? ' closed' : ''}`);
      return `mode ${current}, ${printer.connections.length} connection(s)${each.length ? `: ${each.join(', ')}` : ''}`;
    },

    /** Every complete (cut) ticket, each connection decoded on its own, in connection order. */
    tickets() {
      return printer.connections.flatMap((c) => decodeEscPos(c.bytes).tickets);
    },

    /** The unfinished rest of each connection that has one. */
    partials() {
      return printer.connections.map((c) => decodeEscPos(c.bytes).rest).filter((r) => r.lines.length > 0);
    },

    /** Destroys every connection and closes the listener(s). */
    async stop() {
      await queue.catch(() => {});
      for (const s of sockets) s.destroy();
      for (const srv of servers) if (srv.listening) srv.close();
      await Promise.all([...servers].map((srv) => srv.done));
      servers.clear();
      server = null;
    },
  };
  printer.address = `127.0.0.1:${printer.port}`;
  if (mode === 'down') { server.close(); server = null; }
  return printer;
}
