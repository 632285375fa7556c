// The customers' phones of the demo's WhatsApp sandbox, in headless Chromium (Debian's /usr/bin/chromium) driven
// by playwright-core: the browser half of tests/python/whatsapp_flow.py, which starts `switchboard demo`, plays
// the agent with the official Python MCP SDK and runs this script as its phone.
//
// Protocol: one JSON command per line on stdin, one JSON answer per line on stdout ({"id", "ok": true, "result"}
// or {"id", "ok": false, "error"}); the first line out is {"ready": true}. Commands:
//   {"op": "write", "base", "wa_id", "text", "typed_shot"?, "sent_shot"?}: open the customer's phone, type `text`
//       into #text (screenshot), click #send, wait for the chat to show it (screenshot), then leave the page (so
//       its self-reload does not read the business's next message before the test looks), answering the chat.
//   {"op": "view", "base", "wa_id", "shot"?}: open (or reload) the phone and answer the chat as shown.
//   {"op": "index", "base", "shot"?}: open /sandbox/phone and answer its rows.
//   {"op": "close"}: close the browser and exit.
// A chat is {"customer", "refresh", "messages": [{"id", "direction", "text", "quote", "ticks", "glyph", "color"}]}.
// Screenshots go to target/browser/.
//
// Usage (by tests/python/whatsapp_flow.py): node tests/browser/whatsapp_flow.mjs
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';

// playwright-core is installed by .ci/browser-e2e.sh into target/ci-browser (not a project dependency).
const require = createRequire(resolve(process.env.PLAYWRIGHT_CORE_DIR ?? 'target/ci-browser') + '/');
const { chromium } = require('playwright-core');

const shots = resolve('target/browser');
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
const page = await browser.newPage({ viewport: { width: 480, height: 820 } });

function answer(message) {
  process.stdout.write(JSON.stringify(message) + '\n');
}

async function shot(name) {
  if (name) await page.screenshot({ path: join(shots, name), fullPage: true });
}

/// The chat as the page shows it.
async function chat() {
  return page.evaluate(() => ({
    customer: document.querySelector('#customer')?.textContent.trim() ?? null,
    refresh: document.querySelector('meta[http-equiv="refresh" i]') !== null,
    messages: [...document.querySelectorAll('#messages li.message')].map((li) => {
      const ticks = li.querySelector('.ticks');
      return {
        id: li.dataset.id,
        direction: li.classList.contains('inbound') ? 'inbound' : li.classList.contains('outbound') ? 'outbound' : '?',
        text: li.querySelector('.body')?.textContent ?? null,
        quote: li.querySelector('.quote')?.textContent ?? null,
        ticks: ticks?.getAttribute('title') ?? null,
        glyph: ticks?.textContent ?? null,
        color: ticks ? getComputedStyle(ticks).color : null,
      };
    }),
  }));
}

async function open(url) {
  const response = await page.goto(url);
  if (response?.status() !== 200) throw new Error(`GET ${url}: ${response?.status()}`);
}

const ops = {
  async write({ base, wa_id: waId, text, typed_shot: typedShot, sent_shot: sentShot }) {
    const url = `${base}/sandbox/phone/${waId}`;
    await open(url);
    const before = (await chat()).messages.length;
    await page.fill('#text', text);
    await shot(typedShot);
    const [posted] = await Promise.all([
      page.waitForResponse((r) => r.url() === url && r.request().method() === 'POST'),
      page.click('#send'),
    ]);
    if (posted.status() !== 303) throw new Error(`POST ${url}: ${posted.status()}`);
    await page.waitForURL(url);
    await page.waitForFunction((n) => document.querySelectorAll('#messages li.message').length > n, before);
    const shown = await chat();
    await shot(sentShot);
    await page.goto('about:blank');
    return shown;
  },

  async view({ base, wa_id: waId, shot: name }) {
    await open(`${base}/sandbox/phone/${waId}`);
    const shown = await chat();
    await shot(name);
    return shown;
  },

  async index({ base, shot: name }) {
    await page.setViewportSize({ width: 900, height: 600 });
    await open(`${base}/sandbox/phone`);
    const rows = await page.$$eval('#customers tr', (trs) => trs.slice(1).map((tr) => {
      const cells = [...tr.querySelectorAll('td')].map((td) => td.textContent.trim());
      return { name: cells[0], phone: cells[1], crm: cells[2], last: cells[3], href: tr.querySelector('a')?.getAttribute('href') };
    }));
    await shot(name);
    await page.goto('about:blank');
    await page.setViewportSize({ width: 480, height: 820 });
    return rows;
  },
};

const lines = createInterface({ input: process.stdin });
answer({ ready: true });
for await (const line of lines) {
  if (!line.trim()) continue;
  const command = JSON.parse(line);
  if (command.op === 'close') break;
  try {
    const op = ops[command.op];
    if (!op) throw new Error(`unknown op ${command.op}`);
    answer({ id: command.id, ok: true, result: await op(command) });
  } catch (e) {
    answer({ id: command.id, ok: false, error: String(e?.stack ?? e) });
  }
}
await browser.close().catch(() => {});
process.exit(0);
