// Browser test of the sandbox pay page, in headless Chromium (Debian's /usr/bin/chromium) driven by
// playwright-core: a payment link is created through the sandbox's Razorpay API, the page renders its amount,
// description and customer, the Pay click settles it, and both signed webhooks are acknowledged by the
// receiver. Screenshots go to target/browser/.
//
// Usage: node tests/browser/pay_page.mjs path/to/switchboard
import { spawn } from 'node:child_process';
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
const dir = mkdtempSync(join(tmpdir(), 'switchboard-browser-'));

const demo = spawn(binary, ['demo', '--http', '127.0.0.1:0', '--data-dir', dir, '--webhook-delay-ms', '300'], {
  stdio: ['ignore', 'pipe', 'pipe'],
  env: { ...process.env, RUST_LOG: 'info' },
});
let stderr = '';
demo.stderr.on('data', (chunk) => { stderr += chunk; });

function deadline(ms, what) {
  // unref: a pending deadline must not keep node alive once the test is done.
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref());
}

async function mcpBase() {
  let out = '';
  const found = new Promise((resolveUrl, reject) => {
    demo.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/MCP endpoint \(Streamable HTTP\)\s+(\S+)\/mcp/);
      if (m) resolveUrl(m[1]);
    });
    demo.on('exit', (code) => reject(new Error(`demo exited with ${code}: ${stderr}`)));
  });
  return Promise.race([found, deadline(30_000, 'the demo banner')]);
}

let browser;
try {
  const base = await mcpBase();
  const world = JSON.parse(readFileSync(join(dir, 'sandbox.json'), 'utf8'));
  const { razorpay_key_id: key, razorpay_key_secret: secret } = world.credentials;
  const auth = 'Basic ' + Buffer.from(`${key}:${secret}`).toString('base64');
  const api = (path, init = {}) =>
    fetch(`${base}/sandbox/razorpay${path}`, { ...init, headers: { authorization: auth, 'content-type': 'application/json' } })
      .then(async (r) => ({ status: r.status, body: await r.json() }));

  const created = await api('/v1/payment_links', {
    method: 'POST',
    body: JSON.stringify({
      amount: 825050, currency: 'INR', reference_id: 'INV-2026-0078', description: 'Invoice INV-2026-0078 <packaging>',
      customer: { name: 'Priya Nair', email: 'priya.nair@lotus-design.example' },
    }),
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const link = created.body;

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 800, height: 900 } });
  await page.goto(link.short_url);
  assert.equal(await page.textContent('#amount'), '₹8,250.50');
  assert.equal(await page.textContent('#description'), 'Invoice INV-2026-0078 <packaging>', 'escaped, shown as text');
  assert.match(await page.textContent('#customer'), /Priya Nair · priya\.nair@lotus-design\.example/);
  assert.equal(await page.textContent('#status'), 'created');
  await page.screenshot({ path: join(shots, 'pay-page.png'), fullPage: true });

  await page.click('#pay');
  await page.waitForSelector('#paid', { timeout: 10_000 });
  assert.equal(await page.textContent('#status'), 'paid');

  // Both signed webhooks (payment.captured, payment_link.paid) reach the receiver and are acknowledged.
  const until = Date.now() + 20_000;
  for (;;) {
    await page.reload();
    if (Number(await page.textContent('#deliveries')) >= 2) break;
    assert.ok(Date.now() < until, 'webhooks were not acknowledged');
    await page.waitForTimeout(100);
  }
  await page.screenshot({ path: join(shots, 'paid.png'), fullPage: true });

  const fetched = await api(`/v1/payment_links/${link.id}`);
  assert.equal(fetched.body.status, 'paid');
  assert.equal(fetched.body.amount_paid, 825050);
  const payment = await api(`/v1/payments/${fetched.body.payments[0].payment_id}`);
  assert.equal(payment.body.status, 'captured');
  console.log(`ok: pay page rendered ₹8,250.50, Pay settled ${link.id} as ${payment.body.id}; screenshots in ${shots}`);
} catch (e) {
  console.error(`--- demo stderr ---\n${stderr}`);
  throw e;
} finally {
  await browser?.close();
  demo.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
