// Browser test of the approval page, in headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core,
// against `switchboard demo`. An MCP client without elicitation (plain fetch over Streamable HTTP) calls
// create_payment_link; while that call waits, its progress carries the page's link, the list shows the action,
// its page shows exactly what will be created, and Approve creates it: the waiting call returns the link. A second
// action is attacked from another origin (auto-submitting forms from a page on another port, a forged form token,
// a frame) and stays pending until the person declines it on its own page; nothing is created for it.
// Screenshots go to target/browser/.
//
// Usage: node tests/browser/approval_page.mjs path/to/switchboard
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
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
const dir = mkdtempSync(join(tmpdir(), 'switchboard-approval-'));
const started = Date.now();

const demo = spawn(binary, ['demo', '--http', '127.0.0.1:0', '--data-dir', dir, '--webhook-delay-ms', '300'], {
  stdio: ['ignore', 'pipe', 'pipe'],
  // The demo reads no provider settings from the environment; a confirmation mode from the caller's would change
  // what this test sees, so the default ("elicit": the page for a client without elicitation) is pinned.
  env: { ...process.env, RUST_LOG: 'info', SWITCHBOARD_CONFIRM: 'elicit' },
});
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

/// An MCP client over Streamable HTTP (protocol 2025-11-25) that declares no capabilities, so no elicitation.
class PlainMcpClient {
  constructor(endpoint) {
    this.endpoint = endpoint;
    this.session = undefined;
    this.nextId = 1;
    this.aborts = new Set();
  }

  headers() {
    const h = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-11-25',
    };
    if (this.session) h['mcp-session-id'] = this.session;
    return h;
  }

  /// POST one JSON-RPC message. For a request, resolves with the response message, after handing every other
  /// message on its stream (progress notifications) to `onMessage`.
  async post(message, onMessage = () => {}) {
    const abort = new AbortController();
    this.aborts.add(abort);
    try {
      const response = await fetch(this.endpoint, {
        method: 'POST', headers: this.headers(), body: JSON.stringify(message), signal: abort.signal,
      });
      const expected = message.id === undefined ? [200, 202] : [200];
      if (!expected.includes(response.status)) {
        throw new Error(`${message.method}: HTTP ${response.status} ${await response.text()}`);
      }
      if (message.id === undefined) {
        await response.body?.cancel();
        return { response };
      }
      const type = response.headers.get('content-type') ?? '';
      if (type.startsWith('application/json')) return { response, message: await response.json() };
      assert.ok(type.startsWith('text/event-stream'), `${message.method}: unexpected content-type ${type}`);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`${message.method}: the event stream ended without a response`);
        buffer = (buffer + value).replace(/\r\n?/g, '\n');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = event.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
          if (!data.trim()) continue; // a priming event (id / retry only)
          const received = JSON.parse(data);
          if (received.id === message.id && ('result' in received || 'error' in received)) {
            reader.cancel().catch(() => {});
            return { response, message: received };
          }
          onMessage(received);
        }
      }
    } finally {
      this.aborts.delete(abort);
    }
  }

  async initialize() {
    const { response, message } = await this.post({
      jsonrpc: '2.0', id: this.nextId++, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'approval-page-browser-test', version: '0' } },
    });
    assert.ok(message.result, `initialize: ${JSON.stringify(message)}`);
    this.session = response.headers.get('mcp-session-id');
    assert.ok(this.session, 'initialize answered without an Mcp-Session-Id');
    await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return message.result;
  }

  /// tools/call with a progress token; progress notifications go to `onProgress`. Resolves with the result.
  async callTool(name, args, progressToken, onProgress) {
    const { message } = await this.post(
      { jsonrpc: '2.0', id: this.nextId++, method: 'tools/call', params: { name, arguments: args, _meta: { progressToken } } },
      (m) => { if (m.method === 'notifications/progress' && m.params?.progressToken === progressToken) onProgress(m.params); },
    );
    assert.ok(message.result, `tools/call ${name}: ${JSON.stringify(message)}`);
    return message.result;
  }

  close() {
    for (const abort of this.aborts) abort.abort();
    if (this.session) {
      fetch(this.endpoint, { method: 'DELETE', headers: this.headers() }).catch(() => {});
    }
  }
}

/// A call in flight: its result promise, and the first progress message that carries an approval link.
function waitingCall(client, args, token) {
  const notes = [];
  let sawLink;
  const link = new Promise((r) => { sawLink = r; });
  const result = client.callTool('create_payment_link', args, token, (params) => {
    notes.push(params);
    const m = params.message?.match(/(http:\/\/\S+\/approvals\/apv_[A-Za-z0-9_-]+)/);
    if (m) sawLink(m[1]);
  });
  result.catch(() => {}); // awaited later; never an unhandled rejection meanwhile
  return { notes, result, link: Promise.race([link, result.then(() => { throw new Error(`call ${token} answered before any progress link`); }), deadline(15_000, `progress for ${token}`)]) };
}

function invoice(number, amount, name, email) {
  return {
    amount, currency: 'INR', description: `Invoice ${number}`, customer: { name, email }, reference_id: number,
  };
}

/// A second local web server, another origin: pages that try to decide an approval or frame it.
function attackerServer(target) {
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://attacker');
    const id = url.searchParams.get('id') ?? '';
    const token = url.searchParams.get('token') ?? 'forged-token';
    const escape = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    let body;
    if (url.pathname === '/win-a-prize') {
      body = `<h1>Claim your prize</h1>
<form id="f" method="post" action="${escape(`${target}/approvals/${id}`)}">
<input type="hidden" name="decision" value="approve"><input type="hidden" name="form_token" value="${escape(token)}">
</form><script>document.getElementById('f').submit()</script>`;
    } else if (url.pathname === '/framed') {
      body = `<h1>Nothing to see</h1><iframe id="victim" width="600" height="400" src="${escape(`${target}/approvals/${id}`)}"></iframe>`;
    } else {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><html><body>${body}</body></html>`);
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

/// The rows of the page's #details table, label → value.
async function details(page) {
  return Object.fromEntries(await page.$$eval('#details tr', (rows) => rows.map((r) => [
    r.querySelector('th').textContent.trim(), r.querySelector('td').textContent.trim(),
  ])));
}

let browser;
let attacker;
let client;
let failed = false;
try {
  const base = await mcpBase();
  const world = JSON.parse(readFileSync(join(dir, 'sandbox.json'), 'utf8'));
  const { razorpay_key_id: key, razorpay_key_secret: secret } = world.credentials;
  const auth = 'Basic ' + Buffer.from(`${key}:${secret}`).toString('base64');
  const linksFor = async (description) => {
    const r = await fetch(`${base}/sandbox/razorpay/v1/payment_links`, { headers: { authorization: auth } });
    assert.equal(r.status, 200);
    return (await r.json()).payment_links.filter((l) => l.description === description);
  };

  client = new PlainMcpClient(`${base}/mcp`);
  const init = await client.initialize();
  assert.equal(init.protocolVersion, '2025-11-25', JSON.stringify(init));

  // 1. The agent asks; the call waits for a person (the demo waits 40 s), its progress carries the page's link.
  const first = waitingCall(client, invoice('SW-2026-0177', '8250.50', 'Rohan Mehta', 'rohan@example.in'), 'approve-1');
  const url = await first.link;
  assert.ok(url.startsWith(`${base}/approvals/apv_`), url);
  const asked = Date.now();
  assert.deepEqual(await linksFor('Invoice SW-2026-0177'), [], 'nothing is created before a person approves');

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 900, height: 900 } });

  // 2. The list shows it waiting, and links to its page.
  const listed = await page.goto(`${base}/approvals`);
  assert.equal(listed.status(), 200);
  assert.equal((await page.textContent('h1')).trim(), '1 waiting');
  const row = page.locator('tr.approval', { hasText: '₹8,250.50' });
  assert.equal(await row.count(), 1, 'the pending action is listed once');
  assert.equal(await row.getAttribute('data-status'), 'pending');
  assert.match(await row.textContent(), /Create a Razorpay payment link for ₹8,250\.50 \(INR\)/);
  assert.equal((await row.locator('.status').textContent()).trim(), 'waiting for you');
  assert.equal(await row.locator('a').getAttribute('href'), new URL(url).pathname, 'the list links to the page the progress named');
  await page.screenshot({ path: join(shots, 'approvals-list.png'), fullPage: true });

  // 3. Its page shows exactly what will be created.
  const [opened] = await Promise.all([page.waitForResponse((r) => r.url() === url), row.locator('a').click()]);
  await page.waitForSelector('#approve');
  assert.equal(page.url(), url);
  assert.equal(opened.status(), 200);
  assert.equal(opened.headers()['x-frame-options'], 'DENY');
  assert.match(opened.headers()['content-security-policy'], /frame-ancestors 'none'/);
  assert.equal((await page.textContent('#headline')).trim(), 'Create a Razorpay payment link for ₹8,250.50 (INR)');
  const shown = await details(page);
  assert.equal(shown.Amount, '₹8,250.50 (INR)', JSON.stringify(shown));
  assert.equal(shown.Customer, 'Rohan Mehta, rohan@example.in', JSON.stringify(shown));
  assert.equal(shown.For, 'Invoice SW-2026-0177', JSON.stringify(shown));
  assert.equal(shown.Provider, 'Razorpay', JSON.stringify(shown));
  assert.equal(shown.Reference, 'SW-2026-0177', JSON.stringify(shown));
  assert.equal((await page.textContent('#status')).trim(), 'waiting for you');
  assert.ok(await page.isVisible('#decline'));
  await page.screenshot({ path: join(shots, 'approval-pending.png'), fullPage: true });

  // 4. Approve: the form POSTs (303 back to the page), the link is created once, the page shows it.
  const approvedAt = Date.now();
  const [decided] = await Promise.all([
    page.waitForResponse((r) => r.url() === url && r.request().method() === 'POST'),
    page.click('#approve'),
  ]);
  assert.equal(decided.status(), 303);
  const own = await decided.request().allHeaders();
  assert.deepEqual([own.origin, own['sec-fetch-site']], [base, 'same-origin'], "the page's own form POST");
  await page.waitForSelector('#outcome', { timeout: 10_000 });
  assert.equal((await page.textContent('#outcome')).trim(), 'Done.');
  assert.equal((await page.textContent('#status')).trim(), 'approved and done');
  assert.equal(await page.$('#approve'), null, 'a decided approval has no form');
  const resultUrl = await page.getAttribute('#result-url', 'href');
  assert.ok(resultUrl.startsWith(`${base}/sandbox/pay/plink_`), resultUrl);
  await page.screenshot({ path: join(shots, 'approval-done.png'), fullPage: true });

  // 5. The waiting call is woken with the created link (not left to its 40 s wait).
  const result = await Promise.race([first.result, deadline(15_000, 'the waiting call after Approve')]);
  const wokenIn = Date.now() - approvedAt;
  assert.notEqual(result.isError, true, JSON.stringify(result));
  const created = result.structuredContent;
  assert.equal(created?.approved_via, 'approval_page', JSON.stringify(result));
  assert.equal(created.confirmed_by_user, true);
  assert.equal(created.replayed, false);
  assert.equal(created.url, resultUrl, 'the call returns the link the page shows');
  assert.ok(wokenIn < 10_000, `the waiting call took ${wokenIn} ms after Approve`);
  assert.ok(first.notes.length >= 1);
  // Each note either points at the page or, once approved, says the action is being performed.
  assert.ok(first.notes[0].message.includes(url), JSON.stringify(first.notes));
  assert.ok(first.notes.every((n) => n.message.includes(url) || n.message.startsWith('The user approved')), JSON.stringify(first.notes));
  const links = await linksFor('Invoice SW-2026-0177');
  assert.equal(links.length, 1, 'approving created exactly one link');
  assert.equal(links[0].amount, 825050);
  assert.equal(links[0].short_url, created.url);

  // 6. A second action, attacked from another origin while it waits.
  const second = waitingCall(client, invoice('SW-2026-0178', '1999.00', 'Meera Iyer', 'meera@example.in'), 'approve-2');
  const url2 = await second.link;
  assert.notEqual(url2, url);
  const id2 = new URL(url2).pathname.split('/').pop();
  attacker = await attackerServer(base);
  const attackerPort = attacker.address().port;
  const victim = await browser.newPage({ viewport: { width: 900, height: 700 } });
  await victim.goto(url2);
  const realToken = await victim.getAttribute('input[name=form_token]', 'value');
  assert.ok(realToken);

  // From a page on another port of this host (Sec-Fetch-Site: same-site) and on another name (cross-site), even
  // with the real form token, and with a forged one: every auto-submitted Approve is refused with 403.
  const attempts = [
    ['same-site, real token', `http://127.0.0.1:${attackerPort}`, 'same-site', realToken],
    ['cross-site, real token', `http://localhost:${attackerPort}`, 'cross-site', realToken],
    ['cross-site, forged token', `http://localhost:${attackerPort}`, 'cross-site', 'forged-token'],
  ];
  const evil = await browser.newPage({ viewport: { width: 900, height: 700 } });
  for (const [what, origin, site, token] of attempts) {
    const [refused] = await Promise.all([
      evil.waitForResponse((r) => r.url() === url2 && r.request().method() === 'POST', { timeout: 10_000 }),
      evil.goto(`${origin}/win-a-prize?id=${encodeURIComponent(id2)}&token=${encodeURIComponent(token)}`),
    ]);
    const sent = await refused.request().allHeaders();
    assert.equal(sent.origin, origin, `${what}: the browser sent the attacker's Origin`);
    assert.equal(sent['sec-fetch-site'], site, what);
    assert.equal(refused.status(), 403, `${what}: ${refused.status()}`);
    await evil.waitForURL(url2);
    await evil.waitForLoadState();
    assert.equal((await evil.textContent('h1')).trim(), 'Not allowed', what);
    assert.match(await evil.textContent('body'), /A decision can only be made from the approval's own page/);
    if (what === 'same-site, real token') {
      await evil.screenshot({ path: join(shots, 'approval-cross-site-refused.png'), fullPage: true });
    }
  }

  // On the page itself, but with the form's token tampered with: refused too.
  await victim.$eval('input[name=form_token]', (input) => { input.value = 'not-the-page-token'; });
  const [tampered] = await Promise.all([
    victim.waitForResponse((r) => r.url() === url2 && r.request().method() === 'POST'),
    victim.click('#approve'),
  ]);
  assert.equal(tampered.status(), 403);

  // Framed by another site, the page does not render (X-Frame-Options DENY, frame-ancestors 'none').
  const [framedResponse] = await Promise.all([
    evil.waitForResponse((r) => r.url() === url2 && r.request().method() === 'GET', { timeout: 10_000 }),
    evil.goto(`http://127.0.0.1:${attackerPort}/framed?id=${encodeURIComponent(id2)}`),
  ]);
  assert.equal(framedResponse.headers()['x-frame-options'], 'DENY');
  assert.match(framedResponse.headers()['content-security-policy'], /frame-ancestors 'none'/);
  await evil.waitForLoadState('load');
  const frames = evil.mainFrame().childFrames();
  assert.equal(frames.length, 1);
  assert.notEqual(frames[0].url(), url2, 'the browser showed its error page in the frame, not the approval');
  assert.equal(await frames[0].$('#approve').catch(() => null), null, 'the approval rendered inside a frame');
  await evil.screenshot({ path: join(shots, 'approval-framing-refused.png'), fullPage: true });

  // Still pending after all of it; nothing was created for it.
  const still = await victim.goto(url2);
  assert.equal(still.status(), 200);
  assert.equal((await victim.textContent('#status')).trim(), 'waiting for you');
  assert.ok(await victim.isVisible('#approve'));
  assert.equal(await victim.getAttribute('input[name=form_token]', 'value'), realToken);
  assert.deepEqual(await linksFor('Invoice SW-2026-0178'), [], 'a refused decision created nothing');

  // The person declines it on its own page; the waiting call hears so at once, and nothing is created.
  await victim.click('#decline');
  await victim.waitForSelector('#outcome', { timeout: 10_000 });
  assert.equal((await victim.textContent('#outcome')).trim(), 'Declined. Nothing was done.');
  const declined = await Promise.race([second.result, deadline(15_000, 'the second waiting call after Decline')]);
  assert.equal(declined.isError, true, JSON.stringify(declined));
  assert.match(declined.content[0].text, /declined/);
  assert.ok(second.notes.some((n) => n.message.includes(url2)));
  assert.deepEqual(await linksFor('Invoice SW-2026-0178'), [], 'declining created nothing');

  // The list now shows both decided, none waiting.
  await page.goto(`${base}/approvals`);
  assert.equal((await page.textContent('h1')).trim(), '0 waiting');
  assert.deepEqual(
    (await page.$$eval('tr.approval', (rows) => rows.map((r) => r.dataset.status))).sort(),
    ['declined', 'done'],
  );

  const secs = (ms) => (ms / 1000).toFixed(1);
  console.log(
    `ok: approval page listed and showed ₹8,250.50 for Rohan Mehta, Approve created ${links[0].id} and woke the waiting ` +
    `call in ${secs(wokenIn)} s (asked ${secs(approvedAt - asked)} s earlier, ${first.notes.length} progress note(s) with the link); ` +
    `${attempts.length} cross-origin approves and a tampered token got 403, framing refused, declined second action ` +
    `created nothing; ${secs(Date.now() - started)} s; screenshots in ${shots}`,
  );
} catch (e) {
  failed = true;
  console.error(e);
  console.error(`--- demo stderr (tail) ---\n${stderr.split('\n').slice(-80).join('\n')}`);
} finally {
  client?.close();
  await browser?.close().catch(() => {});
  attacker?.closeAllConnections();
  attacker?.close();
  if (demo.exitCode === null && demo.signalCode === null && demo.pid !== undefined) {
    const exited = new Promise((r) => demo.once('exit', r));
    demo.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000).unref())]);
    if (demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
