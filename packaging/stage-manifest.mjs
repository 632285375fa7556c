// Write a bundle's manifest.json: packaging/mcpb/manifest.json for one platform, once the binary being packed is
// known to serve exactly the tools the manifest lists (a bundle must not promise tools its server lacks).
//
//   node packaging/stage-manifest.mjs TEMPLATE OUT PLATFORM EXE_SUFFIX SERVED_TOOLS_JSON
//
// PLATFORM is darwin, linux or win32; EXE_SUFFIX is ".exe" on win32, else empty; SERVED_TOOLS_JSON is what
// `switchboard tools` printed.
import { readFileSync, writeFileSync } from "node:fs";

const [template, out, platform, exe, servedPath] = process.argv.slice(2);
if (!servedPath) {
  console.error("usage: stage-manifest.mjs TEMPLATE OUT PLATFORM EXE_SUFFIX SERVED_TOOLS_JSON");
  process.exit(2);
}
const manifest = JSON.parse(readFileSync(template, "utf8"));
const brief = (tools) => tools.map(({ name, description }) => ({ name, description }));
const served = brief(JSON.parse(readFileSync(servedPath, "utf8")));
const listed = brief(manifest.tools ?? []);
if (JSON.stringify(served) !== JSON.stringify(listed)) {
  const names = (tools) => tools.map((t) => t.name).join(", ");
  console.error(
    `the binary serves tools the manifest does not list as they are (${template}):\n` +
      `  served: ${names(served)}\n  listed: ${names(listed)}\n` +
      "Update the manifest's tools from `switchboard tools` (name and description of each); " +
      "`cargo test` checks it against the source.",
  );
  process.exit(1);
}

const binary = `server/switchboard${exe}`;
manifest.server.entry_point = binary;
manifest.server.mcp_config.command = `\${__dirname}/${binary}`;
manifest.compatibility = { ...(manifest.compatibility ?? {}), platforms: [platform] };
writeFileSync(out, JSON.stringify(manifest, null, 2) + "\n");
