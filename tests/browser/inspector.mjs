// Browser test of the webhook inspector, in headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core,
// against `switchboard demo --duplicate-webhooks`. An agent (plain fetch over Streamable HTTP) creates a payment
// link, the customer pays it on the sandbox's pay page, and the sandbox sends each signed webhook twice; a stranger
// posts a forged copy with a made-up signature and the sandbox's key secret in its body. The inspector lists the
// valid deliveries as stored, their copies as duplicates and the forgery as rejected (bad signature); no secret or
// signature is anywhere in the pages' source; the filters narrow the list; the forged attempt's page shows its
// redacted headers and payload, and a stored event's page traces the link back to the agent's create (the ledger and
// the audit trail).
// Screenshots go to target/browser/.
//
// Usage: node tests/browser/inspector.mjs path/to/switchboard
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

// playwright-core is installed by .ci/browser-e2e.sh into target/ci-browser (not a project dependency).
const require = createRequire(resolve(process.env.PLAYWRIGHT_CORE_DIR ?? 'target/ci-browser') + '/');
const { chromium } = require('playwright-core');

const binary = process.argv[2] ?? 'target/debug/switchboard';
const shots = resolve('target/browser');
mkdirSync(shots, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), 'switchboard-inspector-'));

const demo = spawn(
  binary,
  ['demo', '--http', '127.0.0.1:0', '--data-dir', dir, '--webhook-delay-ms', '300', '--duplicate-webhooks'],
  // Nobody approves in this test: the agent's create goes straight through.
  { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'info', SWITCHBOARD_CONFIRM: 'never' } },
);
let stderr = '';
demo.stderr.on('data', (chunk) => { stderr += chunk; });

function deadline(ms, what) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms).unref());
}

async function mcpBase() {
  let out = '';
  const found = new Promise((resolveUrl, reject) => {
    demo.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/MCP endpoint \(Streamable HTTP\)\s+(\S+)\/mcp/);
      if (m) resolveUrl(m[1]);
    });
    demo.on('exit', (code) => reject(new Error(`demo exited with ${code}`)));
    demo.on('error', (e) => reject(new Error(`could not start ${binary}: ${e.message}`)));
  });
  return Promise.race([found, deadline(30_000, 'the demo banner')]);
}

/// One JSON-RPC message to /mcp; the response message for a request (read from JSON or the SSE stream).
async function mcp(base, session, message) {
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' };
  if (session) headers['mcp-session-id'] = session;
  const response = await fetch(`${base}/mcp`, { method: 'POST', headers, body: JSON.stringify(message) });
  assert.ok([200, 202].includes(response.status), `${message.method}: HTTP ${response.status}`);
  const text = await response.text();
  if (message.id === undefined) return { response };
  const payloads = (response.headers.get('content-type') ?? '').startsWith('application/json')
    ? [text]
    : text.replace(/\r\n?/g, '\n').split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).filter(Boolean);
  const reply = payloads.map((p) => JSON.parse(p)).find((m) => m.id === message.id);
  assert.ok(reply?.result, `${message.method}: ${text}`);
  return { response, result: reply.result };
}

/// The outcome of each row of the list, top to bottom.
const outcomes = (page) => page.$$eval('tr.attempt', (rows) => rows.map((r) => r.dataset.outcome));
const count = (list, outcome) => list.filter((o) => o === outcome).length;

let browser;
try {
  const base = await mcpBase();
  const world = JSON.parse(readFileSync(join(dir, 'sandbox.json'), 'utf8'));
  const c = world.credentials;
  const secrets = [c.razorpay_key_secret, c.razorpay_webhook_secret, c.hubspot_token, c.whatsapp_token, c.whatsapp_app_secret, c.whatsapp_verify_token];
  assert.ok(secrets.every((s) => typeof s === 'string' && s.length >= 16), 'the sandbox has its secrets');

  // The agent creates a link.
  const init = await mcp(base, undefined, {
    jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'inspector-browser-test', version: '0' } },
  });
  const session = init.response.headers.get('mcp-session-id');
  await mcp(base, session, { jsonrpc: '2.0', method: 'notifications/initialized' });
  const created = await mcp(base, session, {
    jsonrpc: '2.0', id: 2, method: 'tools/call',
    params: { name: 'create_payment_link', arguments: {
      amount: '8250.50', currency: 'INR', description: 'Invoice INV-2026-0078',
      customer: { name: 'Priya Nair', email: 'priya.nair@lotus-design.example' },
    } },
  });
  const link = created.result.structuredContent;
  assert.ok(link?.id && link?.url, JSON.stringify(created.result));

  // The customer pays: the sandbox sends payment.captured and payment_link.paid, each twice.
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  await page.goto(link.url);
  await page.click('#pay');
  await page.waitForSelector('#paid', { timeout: 10_000 });

  // The inspector shows the four valid deliveries (the list reloads itself; reloading here only saves waiting).
  await page.goto(`${base}/inspector`);
  const until = Date.now() + 20_000;
  let seen;
  for (;;) {
    seen = await outcomes(page);
    if (count(seen, 'stored') >= 2 && count(seen, 'duplicate') >= 2) break;
    assert.ok(Date.now() < until, `the inspector shows ${JSON.stringify(seen)}`);
    await page.waitForTimeout(250);
    await page.reload();
  }

  // A stranger forges a delivery about the same link: a made-up signature, and a secret it should not know.
  const forgedSignature = randomBytes(32).toString('hex');
  const forged = await fetch(`${base}/webhooks/razorpay`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-razorpay-signature': forgedSignature, 'x-razorpay-event-id': 'evt_forged_1' },
    body: JSON.stringify({
      entity: 'event', event: 'payment_link.paid', note: `key ${world.credentials.razorpay_key_secret}`,
      payload: { payment_link: { entity: { id: link.id, status: 'paid', amount: 825050, amount_paid: 825050, currency: 'INR' } } },
    }),
  });
  assert.equal(forged.status, 401);

  await page.reload();
  seen = await outcomes(page);
  assert.deepEqual([count(seen, 'stored'), count(seen, 'duplicate'), count(seen, 'bad_signature')], [2, 2, 1], JSON.stringify(seen));
  assert.equal(seen[0], 'bad_signature', 'newest first');
  assert.equal(await page.textContent('tr[data-outcome="bad_signature"] td.outcome'), 'rejected: bad signature');
  await page.screenshot({ path: join(shots, 'inspector.png'), fullPage: true });
  const sources = [['/inspector', await page.content()]];

  // Every page, in full source: no secret of the sandbox's, no signature.
  const hrefs = await page.$$eval('tr.attempt a[href^="/inspector/attempts/"]', (links) => links.map((a) => a.getAttribute('href')));
  for (const href of hrefs) {
    await page.goto(`${base}${href}`);
    sources.push([href, await page.content()]);
    const signatureCells = await page.$$eval('#headers tr', (rows) => rows
      .filter((r) => /signature/i.test(r.querySelector('th')?.textContent ?? ''))
      .map((r) => r.querySelector('td').textContent));
    assert.ok(signatureCells.length >= 1 && signatureCells.every((v) => v === '[redacted]'), `${href}: ${signatureCells}`);
  }

  // Filters: the refused ones; everything about the link (the forgery mentions it too).
  await page.goto(`${base}/inspector`);
  await page.selectOption('select[name="outcome"]', 'rejected');
  await page.click('#filters button');
  await page.waitForURL(/outcome=rejected/);
  assert.deepEqual(await outcomes(page), ['bad_signature']);
  await page.goto(`${base}/inspector?key=${encodeURIComponent(link.id)}`);
  const aboutLink = await outcomes(page);
  assert.ok(aboutLink.includes('bad_signature') && count(aboutLink, 'stored') >= 1, JSON.stringify(aboutLink));
  sources.push(['/inspector?key=…', await page.content()]);

  // The forgery's own page: refused, unverified, its payload shown with the secret masked.
  await page.click('tr[data-outcome="bad_signature"] a');
  assert.equal(await page.textContent('#outcome'), 'rejected: bad signature');
  assert.match(await page.textContent('main'), /Not verified: anyone could have sent this/);
  assert.match(await page.textContent('#payload'), /"note": "key \[REDACTED\]"/);
  await page.screenshot({ path: join(shots, 'inspector-forged.png'), fullPage: true });

  // A stored event's page: the link it concerns, created by the agent's call.
  await page.goto(`${base}/inspector?outcome=stored`);
  const eventHrefs = await page.$$eval('td.events a', (links) => links.map((a) => a.getAttribute('href')));
  assert.equal(eventHrefs.length, 2, JSON.stringify(eventHrefs));
  let linkEvent;
  for (const href of eventHrefs) {
    await page.goto(`${base}${href}`);
    sources.push([href, await page.content()]);
    if (await page.$('#link')) linkEvent = href;
  }
  assert.ok(linkEvent, 'an event page traces its payment link');
  await page.goto(`${base}${linkEvent}`);
  assert.match(await page.textContent('#created'), /by create_payment_link/);
  assert.equal(await page.getAttribute('#created a', 'href'), link.url);
  assert.match(await page.textContent('#actions'), /create_payment_link/, 'the audit trail shows the agent\'s create');
  await page.screenshot({ path: join(shots, 'inspector-event.png'), fullPage: true });

  for (const [where, source] of sources) {
    for (const secret of [...secrets, forgedSignature]) {
      assert.ok(!source.includes(secret), `${where} shows a secret or a signature`);
    }
  }
  console.log(`ok: inspector listed ${JSON.stringify(seen)}; ${sources.length} pages free of secrets and signatures; screenshots in ${shots}`);
} catch (e) {
  console.error(`--- demo stderr ---\n${stderr}`);
  throw e;
} finally {
  await browser?.close();
  demo.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
