// old_server.mjs - the old Node.js kitchen sync server, reconstructed for the
// benchmark only (issue 17): the system Kitchen Bus replaces, measured side
// by side with it. Never shipped, never a test of ours.
//
//   node tests/bench/old_server.mjs WS_PORT HTTP_PORT
//
// Rebuilt from the seed's design document ("Kitchen Sync Server
// (local-sync-server/server.js)" and its clients, stores/localSync.js and
// stores/kitchenSync.js): a `ws` WebSocket server; a client names itself by
// the `client-type` / `client-id` headers (or, as browsers must, the same
// names in the query string); `new_order` goes to every kitchen,
// `order_update` to everyone as `order_status_update`, `ping` gets `pong`;
// nothing is stored, validated or acknowledged, and a screen that connects
// late sees nothing of what came before. The document shows the broadcast
// helpers and the HTTP side (/health, /clients; express there, node:http
// here); the connection and message handlers are written from what its
// clients send and expect. It logs a line per order, as the original does.
// Prints "ready" on stdout once both ports listen.
import http from 'node:http';
import { WebSocketServer, WebSocket } from 'ws';

const [wsPort, httpPort] = process.argv.slice(2).map(Number);
const clients = new Map();
let nextId = 0;

function broadcastToKitchens(data) {
  const message = JSON.stringify(data);
  let sentCount = 0;
  clients.forEach((client) => {
    if (client.type === 'kitchen' && client.ws.readyState === WebSocket.OPEN) {
      client.ws.send(message);
      sentCount++;
    }
  });
  console.log(`Order sent to ${sentCount} kitchen display(s)`);
}

function broadcastToAll(data) {
  const message = JSON.stringify(data);
  clients.forEach((client) => {
    if (client.ws.readyState === WebSocket.OPEN) client.ws.send(message);
  });
}

const wss = new WebSocketServer({ port: wsPort, host: '127.0.0.1' });
wss.on('connection', (ws, req) => {
  const query = new URL(req.url, 'http://x').searchParams;
  const type = req.headers['client-type'] || query.get('client-type') || 'unknown';
  const clientId = req.headers['client-id'] || query.get('client-id') || `client-${++nextId}`;
  clients.set(clientId, { ws, type, connectedAt: new Date().toISOString() });
  console.log(`Client connected: ${clientId} (${type})`);
  ws.send(JSON.stringify({ type: 'connected', payload: { clientId, clientType: type }, timestamp: new Date().toISOString() }));
  ws.on('message', (raw) => {
    let data;
    try {
      data = JSON.parse(raw);
    } catch (error) {
      console.error('Error parsing message:', error.message);
      return;
    }
    switch (data.type) {
      case 'new_order':
        console.log(`New order broadcasted: ${data.payload?.order_number}`);
        broadcastToKitchens({ type: 'new_order', payload: data.payload, timestamp: new Date().toISOString() });
        break;
      case 'order_update':
        broadcastToAll({ type: 'order_status_update', payload: data.payload, timestamp: new Date().toISOString() });
        break;
      case 'order_ack':
        console.log(`Order acknowledged: ${data.payload?.order_number}`);
        break;
      case 'ping':
        ws.send(JSON.stringify({ type: 'pong', timestamp: new Date().toISOString() }));
        break;
      default:
        console.log(`Unknown message type: ${data.type}`);
    }
  });
  ws.on('close', () => {
    clients.delete(clientId);
    console.log(`Client disconnected: ${clientId}`);
  });
});

const server = http.createServer((req, res) => {
  const send = (body) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.url === '/health') {
    send({ status: 'ok', clients: clients.size, uptime: process.uptime(), timestamp: new Date().toISOString() });
  } else if (req.url === '/clients') {
    send({ total: clients.size, clients: [...clients].map(([id, c]) => ({ id, type: c.type, connectedAt: c.connectedAt })) });
  } else {
    res.writeHead(404);
    res.end();
  }
});

let listening = 0;
const ready = () => {
  if (++listening === 2) process.stdout.write('ready\n');
};
wss.on('listening', ready);
server.listen(httpPort, '127.0.0.1', ready);
process.on('SIGTERM', () => process.exit(0));
