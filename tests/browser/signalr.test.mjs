// The official SignalR client (@microsoft/signalr, pinned in package.json) against a standalone handler, which is
// the hub itself: negotiate's direct form, the WebSockets and Server-Sent Events transports, the JSON hub protocol.
// Every wait polls a condition until a deadline; nothing sleeps to synchronise.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as signalR from '@microsoft/signalr';
import http from 'node:http';
import WebSocket from 'ws';

const WebSocketServer = WebSocket.Server;   // ws 7, as @microsoft/signalr depends on it
import { REPO_ROOT, handlerBinary, waitUntil } from './harness.mjs';

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

/** A standalone handler on `port` over `dataDir`; `start()` may be called again after `kill()` (same port, same data). */
function handler(port, dataDir, extraEnv = {}) {
  let child = null;
  let exited = null;
  const log = [];
  const base = `http://127.0.0.1:${port}`;
  return {
    base, log,
    async start() {
      exited = null;
      child = spawn(handlerBinary(), [], {
        env: { ...process.env, PIESHOP_API_KEYS: '', PIESHOP_DATA_DIR: dataDir, PIESHOP_LISTEN: `127.0.0.1:${port}`, RUST_LOG: process.env.RUST_LOG || 'warn', ...extraEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.on('exit', (code, signal) => { exited = { code, signal }; });
      for (const s of [child.stdout, child.stderr]) s.on('data', (d) => { log.push(String(d)); if (log.length > 200) log.shift(); });
      await waitUntil('the handler to answer /api/health', async () => {
        if (exited) throw new Error(`handler exited: ${JSON.stringify(exited)}\n${log.join('')}`);
        return (await fetch(`${base}/api/health`)).ok;
      }, { timeoutMs: 20000, intervalMs: 100 });
    },
    async kill() {
      if (!child || exited) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    },
  };
}

async function command(base, fields) {
  const res = await fetch(`${base}/api/commands`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ commandId: randomUUID(), ...fields }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

/** A connection that records every message by target. */
function connect(base, transport) {
  const received = { stockChanged: [], productChanged: [] };
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(`${base}/api`, { transport })
    .withAutomaticReconnect({ nextRetryDelayInMilliseconds: () => 200 })
    .configureLogging(signalR.LogLevel.None)
    .build();
  for (const target of Object.keys(received)) connection.on(target, (arg) => received[target].push(arg));
  return { connection, received };
}

const transports = [['WebSockets', signalR.HttpTransportType.WebSockets], ['ServerSentEvents', signalR.HttpTransportType.ServerSentEvents]];

for (const [name, transport] of transports) {
  describe(`official client over ${name}`, () => {
    let server, dataDir;
    before(async () => {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pieshop-signalr-'));
      server = handler(await freePort(), dataDir);
      await server.start();
    });
    after(async () => {
      await server.kill();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    test('a command arrives as stockChanged, the item as GET shows it plus asOf; a product as productChanged', async () => {
      const { connection, received } = connect(server.base, transport);
      await connection.start();
      try {
        assert.equal(connection.state, signalR.HubConnectionState.Connected);
        await command(server.base, { type: 'defineProduct', sku: 'apple-pie', name: 'Apple pie', category: 'fruit', reorderLevel: 4 });
        const product = await waitUntil('productChanged', () => received.productChanged.find((p) => p.sku === 'apple-pie'));
        assert.equal(product.name, 'Apple pie');
        assert.equal(product.reorderLevel, 4);
        await command(server.base, { type: 'receive', location: 'store-1', sku: 'apple-pie', quantity: 7 });
        const pushed = await waitUntil('stockChanged', () => received.stockChanged.find((i) => i.sku === 'apple-pie' && i.quantity === 7));
        const shown = await (await fetch(`${server.base}/api/inventory/store-1/apple-pie`)).json();
        assert.deepEqual(pushed, shown);
        assert.ok(pushed.asOf, 'asOf is set');
        const health = await (await fetch(`${server.base}/api/health`)).json();
        assert.equal(health.push.hub, 'self');
        assert.ok(health.push.clients >= 1, JSON.stringify(health.push));
        assert.ok(health.push.sent >= 2, JSON.stringify(health.push));
        assert.equal(health.behindMs, 0, 'the read model holds what was accepted');
      } finally {
        await connection.stop();
      }
    });

    test('the client reconnects after the handler is killed and restarted, and receives again', async () => {
      const { connection, received } = connect(server.base, transport);
      const states = [];
      connection.onreconnecting(() => states.push('reconnecting'));
      connection.onreconnected(() => states.push('reconnected'));
      await connection.start();
      try {
        await server.kill();
        await waitUntil('the client to notice', () => states.includes('reconnecting') || connection.state !== signalR.HubConnectionState.Connected);
        await server.start();
        await waitUntil('the client to reconnect', () => connection.state === signalR.HubConnectionState.Connected, { timeoutMs: 20000 });
        assert.ok(states.includes('reconnected'), `states: ${states}`);
        await command(server.base, { type: 'receive', location: 'store-2', sku: 'pecan-pie', quantity: 3 });
        await waitUntil('stockChanged after the restart', () => received.stockChanged.find((i) => i.location === 'store-2' && i.sku === 'pecan-pie'));
      } finally {
        await connection.stop();
      }
    });
  });
}

describe('the hub protocol at the edges', () => {
  let server, dataDir;
  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pieshop-signalr-'));
    server = handler(await freePort(), dataDir);
    await server.start();
  });
  after(async () => {
    await server.kill();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function negotiate() {
    const res = await fetch(`${server.base}/api/negotiate?negotiateVersion=1`, { method: 'POST' });
    assert.equal(res.status, 200);
    return res.json();
  }

  /** Opens a raw WebSocket for a fresh connection, sends `text`, and collects what comes back until the close. */
  async function rawSession(text) {
    const { connectionToken } = await negotiate();
    const ws = new WebSocket(`${server.base.replace('http', 'ws')}/api?id=${connectionToken}`);
    const frames = [];
    let closed = null;
    ws.on('message', (data) => frames.push(String(data)));
    ws.on('close', (code) => { closed = { code }; });
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    ws.send(text);
    await waitUntil('the server to close the socket', () => closed);
    return { frames, closed };
  }

  test('the dashboard serves the vendored browser bundle, which is the pinned npm package\'s unchanged', async () => {
    const pinned = JSON.parse(fs.readFileSync(new URL('./package.json', import.meta.url), 'utf8')).devDependencies['@microsoft/signalr'];
    const npm = fs.readFileSync(new URL('./node_modules/@microsoft/signalr/dist/browser/signalr.min.js', import.meta.url), 'utf8');
    const installed = JSON.parse(fs.readFileSync(new URL('./node_modules/@microsoft/signalr/package.json', import.meta.url), 'utf8')).version;
    assert.equal(installed, pinned);
    const vendored = fs.readFileSync(path.join(REPO_ROOT, 'handlers', 'assets', 'signalr.min.js'), 'utf8');
    const header = vendored.slice(0, vendored.indexOf('*/\n') + 3);
    assert.match(header, new RegExp(`^/\\*! @microsoft/signalr ${pinned.replaceAll('.', '\\.')}, dist/browser/signalr\\.min\\.js`));
    assert.match(header, /MIT license/);
    assert.ok(vendored.slice(header.length) === npm, 'handlers/assets/signalr.min.js is not the npm package\'s file after its header');
    const res = await fetch(`${server.base}/api/dashboard/signalr.min.js`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/javascript/);
    assert.ok((await res.text()) === vendored, 'the handler serves an older copy: rebuild it');
  });

  test('negotiate answers the direct form: version 1, ids, WebSockets and Server-Sent Events with Text', async () => {
    const body = await negotiate();
    assert.equal(body.negotiateVersion, 1);
    assert.match(body.connectionId, /^[0-9a-f]{32}$/);
    assert.match(body.connectionToken, /^[0-9a-f]{32}$/);
    assert.notEqual(body.connectionId, body.connectionToken);
    assert.deepEqual(body.availableTransports, [
      { transport: 'WebSockets', transferFormats: ['Text'] },
      { transport: 'ServerSentEvents', transferFormats: ['Text'] },
    ]);
  });

  test('a malformed handshake gets an error answer and a clean close (1000)', async () => {
    const { frames, closed } = await rawSession('this is not a handshake\x1e');
    assert.equal(closed.code, 1000);
    assert.deepEqual(frames, ['{"error":"Handshake request is malformed."}\x1e']);
  });

  test('an unsupported protocol gets the spec\'s error answer and a clean close', async () => {
    const { frames, closed } = await rawSession('{"protocol":"messagepack","version":1}\x1e');
    assert.equal(closed.code, 1000);
    assert.deepEqual(frames, ['{"error":"Requested protocol \'messagepack\' is not available."}\x1e']);
  });

  test('a close message from the client ends the session cleanly', async () => {
    const { frames, closed } = await rawSession('{"protocol":"json","version":1}\x1e{"type":7}\x1e');
    assert.equal(closed.code, 1000);
    assert.deepEqual(frames, ['{}\x1e']);
  });

  test('an unknown connection id is 404, a missing one 400, a second transport 409', async () => {
    const unknown = await fetch(`${server.base}/api?id=nope`, { headers: { Accept: 'text/event-stream' } });
    assert.equal(unknown.status, 404);
    const post = await fetch(`${server.base}/api?id=nope`, { method: 'POST', body: '{"type":6}\x1e' });
    assert.equal(post.status, 404);
    const missing = await fetch(`${server.base}/api`, { headers: { Accept: 'text/event-stream' } });
    assert.equal(missing.status, 400);
    const { connectionToken } = await negotiate();
    const controller = new AbortController();
    const first = await fetch(`${server.base}/api?id=${connectionToken}`, { headers: { Accept: 'text/event-stream' }, signal: controller.signal });
    assert.equal(first.status, 200);
    assert.match(first.headers.get('content-type'), /^text\/event-stream/);
    const second = await fetch(`${server.base}/api?id=${connectionToken}`, { headers: { Accept: 'text/event-stream' } });
    assert.equal(second.status, 409);
    controller.abort();
  });
});

/**
 * A stand-in for Azure SignalR Service (Serverless) and for the App Service managed-identity endpoint, as their
 * references document them (docs/protocol/push-deadletter-auth.md A1, A2): GET <msi>?resource= answers an Entra
 * token; POST /api/hubs/inventory/:generateToken answers {token}; POST /api/hubs/inventory/:send answers 202 and
 * relays the message to every connected client; /client/negotiate and the /client/ WebSocket serve the client.
 * Every call is recorded.
 */
async function signalRServiceStandIn() {
  const calls = [];
  const clients = new Set();
  const RS = '\x1e';
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://stand-in');
    let body = '';
    for await (const chunk of req) body += chunk;
    calls.push({ method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), authorization: req.headers.authorization, body });
    const json = (status, value) => { res.writeHead(status, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(value)); };
    if (req.method === 'GET' && url.pathname === '/msi/token') {
      if (req.headers['x-identity-header'] !== 'identity-secret') return json(401, {});
      return json(200, { access_token: 'entra-token', expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource: url.searchParams.get('resource'), token_type: 'Bearer' });
    }
    if (req.headers.authorization !== 'Bearer entra-token' && url.pathname.startsWith('/api/')) return json(401, {});
    if (req.method === 'POST' && url.pathname === '/api/hubs/inventory/:generateToken') return json(200, { token: 'client-token' });
    if (req.method === 'POST' && url.pathname === '/api/hubs/inventory/:send') {
      const { target, arguments: args } = JSON.parse(body);
      for (const ws of clients) ws.send(JSON.stringify({ type: 1, target, arguments: args }) + RS);
      res.writeHead(202); return res.end();
    }
    if (req.method === 'POST' && url.pathname === '/client/negotiate') {
      if (req.headers.authorization !== 'Bearer client-token') return json(401, {});
      return json(200, { negotiateVersion: 1, connectionId: 'c1', connectionToken: randomUUID(), availableTransports: [{ transport: 'WebSockets', transferFormats: ['Text'] }] });
    }
    json(404, {});
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url, 'http://stand-in');
    calls.push({ method: 'WS', path: url.pathname, query: Object.fromEntries(url.searchParams), authorization: req.headers.authorization });
    if (url.pathname !== '/client/' || req.headers.authorization !== 'Bearer client-token') { socket.destroy(); return; }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.once('message', () => { ws.send('{}' + RS); clients.add(ws); });
      ws.on('close', () => clients.delete(ws));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${server.address().port}`, calls,
    close: () => { for (const ws of clients) ws.terminate(); server.close(); },
  };
}

describe('the Azure path: negotiate redirects the official client to Azure SignalR Service', () => {
  let service, server, dataDir;
  before(async () => {
    service = await signalRServiceStandIn();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pieshop-signalr-'));
    server = handler(await freePort(), dataDir, {
      AZURE_SIGNALR_ENDPOINT: service.base,
      IDENTITY_ENDPOINT: `${service.base}/msi/token`, IDENTITY_HEADER: 'identity-secret',
    });
    await server.start();
  });
  after(async () => {
    await server.kill();
    service.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('negotiate answers the redirect form with a token from :generateToken, got with the managed identity', async () => {
    const res = await fetch(`${server.base}/api/negotiate?negotiateVersion=1`, { method: 'POST' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await res.json(), { url: `${service.base}/client/?hub=inventory`, accessToken: 'client-token' });
    const msi = service.calls.find((c) => c.path === '/msi/token');
    assert.equal(msi.query.resource, 'https://signalr.azure.com', 'the token is for scope https://signalr.azure.com/.default');
    const generate = service.calls.find((c) => c.path === '/api/hubs/inventory/:generateToken');
    assert.equal(generate.method, 'POST');
    assert.equal(generate.query['api-version'], '2022-11-01');
    assert.equal(generate.authorization, 'Bearer entra-token');
  });

  test('the official client follows the redirect with the access token, and the projection\'s :send reaches it', async () => {
    const { connection, received } = connect(server.base, signalR.HttpTransportType.WebSockets);
    await connection.start();
    try {
      const negotiate = service.calls.find((c) => c.path === '/client/negotiate');
      assert.equal(negotiate.authorization, 'Bearer client-token');
      assert.equal(negotiate.query.hub, 'inventory');
      assert.equal(negotiate.query.negotiateVersion, '1');
      const upgrade = service.calls.find((c) => c.method === 'WS');
      assert.equal(upgrade.authorization, 'Bearer client-token', 'Node sends the token as a header');
      assert.equal(upgrade.query.hub, 'inventory');
      await command(server.base, { type: 'receive', location: 'store-9', sku: 'apple-pie', quantity: 2 });
      const pushed = await waitUntil('stockChanged through the service', () => received.stockChanged.find((i) => i.location === 'store-9'));
      assert.deepEqual(pushed, await (await fetch(`${server.base}/api/inventory/store-9/apple-pie`)).json());
      const send = service.calls.find((c) => c.path === '/api/hubs/inventory/:send');
      assert.equal(send.query['api-version'], '2022-11-01');
      assert.equal(send.authorization, 'Bearer entra-token');
      assert.equal(JSON.parse(send.body).target, 'stockChanged');
      const health = await (await fetch(`${server.base}/api/health`)).json();
      assert.equal(health.push.hub, 'azure-signalr');
      assert.equal(health.push.clients, null, 'clients connect to the service, not here');
    } finally {
      await connection.stop();
    }
  });

  test('the handler is not a hub here: its own transport routes are gone', async () => {
    const res = await fetch(`${server.base}/api?id=anything`, { headers: { Accept: 'text/event-stream' } });
    assert.equal(res.status, 404);
  });
});
