// server.json, the MCP Registry entry: validate it against the registry's published schema, or record a built
// bundle's SHA-256 in it.
//
//   node packaging/server-json.mjs validate server.json
//   node packaging/server-json.mjs record server.json BUNDLE.mcpb SHA256
//
// Runs with the packages of packaging/package.json (packaging/bundle.sh installs them into
// target/packaging-tools); the schema is packaging/schemas/server.schema.json (its source: packaging/schemas/README.md).
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const [command, file, ...rest] = process.argv.slice(2);

if (command === "validate" && file) {
  const require = createRequire(join(here, "..", "target", "packaging-tools", "package.json"));
  const Ajv = require("ajv").default;
  const addFormats = require("ajv-formats").default;
  const schema = JSON.parse(readFileSync(join(here, "schemas", "server.schema.json"), "utf8"));
  // The registry's schema uses OpenAPI's `example` keyword, which strict mode would reject as unknown.
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  const doc = JSON.parse(readFileSync(file, "utf8"));
  if (!validate(doc)) {
    console.error(`${file} does not match ${schema.$id}:`);
    for (const e of validate.errors) console.error(`  ${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);
    process.exit(1);
  }
  if (doc.$schema !== schema.$id) {
    console.error(`${file} names schema ${doc.$schema}, but the vendored one is ${schema.$id}`);
    process.exit(1);
  }
  console.log(`${file} matches ${schema.$id}`);
} else if (command === "record" && file && rest.length === 2) {
  const [bundle, sha] = rest;
  if (!/^[a-f0-9]{64}$/.test(sha)) {
    console.error(`not a SHA-256: ${sha}`);
    process.exit(1);
  }
  const doc = JSON.parse(readFileSync(file, "utf8"));
  const name = basename(bundle);
  const entry = (doc.packages ?? []).find((p) => p.registryType === "mcpb" && p.identifier.endsWith(`/${name}`));
  if (!entry) {
    console.error(
      `${file} has no mcpb package for ${name}: add one whose identifier is the release download URL ` +
        `ending in /${name}, then run again`,
    );
    process.exit(1);
  }
  entry.fileSha256 = sha;
  writeFileSync(file, JSON.stringify(doc, null, 2) + "\n");
  console.log(`${file}: ${name} has SHA-256 ${sha}`);
} else {
  console.error("usage: server-json.mjs validate FILE | record FILE BUNDLE.mcpb SHA256");
  process.exit(2);
}
