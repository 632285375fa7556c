// Start an unpacked Switchboard bundle exactly as Claude Desktop does and speak MCP to it over stdio.
//
//   node .ci/bundle-launch.mjs UNPACKED_DIR
//
// The launch command comes from MCPB's own getMcpConfigForManifest (the code Claude Desktop uses to turn a
// manifest and the user's settings into a server process): ${__dirname} becomes the install directory and every
// ${user_config.x} the value the user gave, or the manifest's default. Two users are simulated: one who filled in
// Razorpay and Stripe keys, a data directory and a listener address; one who only switched on read-only mode.
// Each must answer initialize, tools/list and prompts/list the way the manifest promises.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = process.argv[2];
if (!dir) {
  console.error("usage: bundle-launch.mjs UNPACKED_DIR");
  process.exit(2);
}
const require = createRequire(join(root, "target", "packaging-tools", "package.json"));
const mcpb = await import(pathToFileURL(require.resolve("@anthropic-ai/mcpb")).href);
const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));

let failed = 0;
const check = (what, ok, detail = "") => {
  console.log(`${ok ? "PASS" : "FAIL"}  ${what}${ok || !detail ? "" : `: ${detail}`}`);
  if (!ok) failed++;
};

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

/** The process Claude Desktop would start for these settings. */
async function launchConfig(userConfig) {
  const config = await mcpb.getMcpConfigForManifest({
    manifest,
    extensionPath: dir,
    systemDirs: { HOME: process.env.HOME ?? tmpdir(), DESKTOP: tmpdir(), DOCUMENTS: tmpdir(), DOWNLOADS: tmpdir() },
    userConfig,
    pathSeparator: "/",
  });
  if (!config) throw new Error("getMcpConfigForManifest gave no config: the manifest requires a setting");
  return config;
}

/** Start the server and talk JSON-RPC over its stdio, one line per message. */
function start(config) {
  // Like an MCP client's stdio transport: a few inherited variables plus the manifest's env.
  const env = { PATH: process.env.PATH, HOME: process.env.HOME ?? tmpdir(), ...config.env };
  const child = spawn(config.command, config.args ?? [], { env, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const waiting = new Map();
  let buffer = "";
  child.stdout.on("data", (d) => {
    buffer += d;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const message = JSON.parse(line);
      waiting.get(message.id)?.(message);
    }
  });
  let exited = null;
  const failures = new Set();
  child.once("exit", (code, signal) => {
    exited = `the server exited (${signal ?? `code ${code}`}); its stderr:\n${stderr}`;
    for (const fail of failures) fail(new Error(exited));
  });
  let nextId = 1;
  const request = (method, params = {}) =>
    new Promise((resolve, reject) => {
      if (exited) return reject(new Error(`${method}: ${exited}`));
      const id = nextId++;
      const fail = (e) => {
        clearTimeout(timer);
        reject(e);
      };
      const timer = setTimeout(() => fail(new Error(`no answer to ${method} in 20 s; stderr:\n${stderr}`)), 20000);
      failures.add(fail);
      waiting.set(id, (message) => {
        clearTimeout(timer);
        failures.delete(fail);
        message.error ? reject(new Error(`${method}: ${JSON.stringify(message.error)}`)) : resolve(message.result);
      });
      child.stdin.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
    });
  const notify = (method) => child.stdin.write(JSON.stringify({ jsonrpc: "2.0", method }) + "\n");
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve(child.exitCode);
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      child.once("exit", (code) => {
        clearTimeout(timer);
        resolve(code);
      });
      child.stdin.end();
    });
  return { request, notify, stop, stderr: () => stderr };
}

async function session(config) {
  const server = start(config);
  const init = await server.request("initialize", {
    protocolVersion: "2025-11-25",
    capabilities: {},
    clientInfo: { name: "bundle-launch", version: "1" },
  });
  server.notify("notifications/initialized");
  const tools = (await server.request("tools/list")).tools;
  const prompts = (await server.request("prompts/list")).prompts;
  return { server, init, tools, prompts };
}

const listedTools = manifest.tools.map((t) => t.name).sort();
const listedPrompts = manifest.prompts.map((p) => p.name).sort();
const names = (items) => items.map((i) => i.name).sort();

// ---- a user who filled in Razorpay and Stripe, a data directory and the listener address ----
const secrets = { razorpay_key_secret: "bundle-ci-razorpay-secret-7f3a", stripe_api_key: "rk_test_bundle_ci_9c41d2" };
const dataDir = mkdtempSync(join(tmpdir(), "switchboard-bundle-data-"));
const port = await freePort();
const filled = await launchConfig({
  razorpay_key_id: "rzp_test_bundleci",
  ...secrets,
  data_dir: dataDir,
  webhook_listen: `127.0.0.1:${port}`,
});
check("command is the bundled binary", filled.command === join(dir, "server", "switchboard"), filled.command);
check("args are serve", JSON.stringify(filled.args) === '["serve"]', JSON.stringify(filled.args));
check("secrets reach the env", filled.env.RAZORPAY_KEY_SECRET === secrets.razorpay_key_secret);
check("a boolean setting is passed as false", filled.env.SWITCHBOARD_READ_ONLY === "false", filled.env.SWITCHBOARD_READ_ONLY);
const leftover = Object.entries(filled.env).filter(([, v]) => v.includes("${"));
check("no ${…} is left unsubstituted", leftover.length === 0, JSON.stringify(leftover));

const a = await session(filled);
check("initialize: server switchboard", a.init.serverInfo?.name === "switchboard", JSON.stringify(a.init.serverInfo));
check(
  `initialize: version ${manifest.version} as in the manifest`,
  a.init.serverInfo?.version === manifest.version,
  a.init.serverInfo?.version,
);
check("tools/list: exactly the manifest's tools", JSON.stringify(names(a.tools)) === JSON.stringify(listedTools), names(a.tools).join(","));
check("prompts/list: exactly the manifest's prompts", JSON.stringify(names(a.prompts)) === JSON.stringify(listedPrompts));
const approvals = await fetch(`http://127.0.0.1:${port}/approvals`).catch((e) => ({ status: String(e) }));
check(`approval page listens on the configured address (:${port})`, approvals.status === 200, approvals.status);
const code = await a.server.stop();
check("exits cleanly when the client closes stdin", code === 0, `exit ${code}`);
const logA = a.server.stderr();
check("both configured providers are live", /providers=\[[^\]]*razorpay[^\]]*stripe/.test(logA), logA);
check("no setting arrived as an unexpanded placeholder", !logA.includes("placeholder"), logA);
check("no secret in the log", !Object.values(secrets).some((s) => logA.includes(s)));
check("the data directory given is used", readdirSync(dataDir).length > 0, dataDir);

// ---- a user who only switched on read-only mode ----
const readOnly = await launchConfig({ read_only: true, data_dir: dataDir, webhook_listen: "" });
check("read-only passes as true", readOnly.env.SWITCHBOARD_READ_ONLY === "true", readOnly.env.SWITCHBOARD_READ_ONLY);
const b = await session(readOnly);
const writes = b.tools.filter((t) => t.annotations?.readOnlyHint !== true).map((t) => t.name);
check("read-only: only read-only tools", writes.length === 0, writes.join(","));
check("read-only: fewer tools than the manifest lists", b.tools.length > 0 && b.tools.length < listedTools.length);
await b.server.stop();
check("no provider: starts all the same", /providers=\[\]/.test(b.server.stderr()), b.server.stderr());

console.log(failed ? `${failed} failed` : "all passed");
process.exit(failed ? 1 : 0);
