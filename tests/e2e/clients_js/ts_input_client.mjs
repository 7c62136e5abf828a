// The official TypeScript SDK client (npm @modelcontextprotocol/sdk, a handshake-era client) calls
// the tools of a server that asks the client for input mid-call: sampling, elicitation, roots.
// Its requests go to each port in turn, as a load balancer without affinity would send them.
// Prints one JSON line for the test to read.
// Usage: node ts_input_client.mjs <url> <comma-separated ports> <tool name prefix>
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";

const [url, portList, prefix] = process.argv.slice(2);
const ports = portList.split(",");
const seen = [];
let turn = 0;
const alternating = (input, init) => {
  const target = new URL(input instanceof Request ? input.url : input);
  target.port = ports[turn++ % ports.length];
  seen.push(target.port);
  return fetch(target, init);
};
const client = new Client(
  { name: "mcphub-ts-input-test", version: "1.0.0" },
  { capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } },
);
client.setRequestHandler(CreateMessageRequestSchema, async () => ({
  role: "assistant",
  content: { type: "text", text: "Paris, said the TypeScript client" },
  model: "stand-in",
}));
client.setRequestHandler(ElicitRequestSchema, async (request) => ({
  action: "accept",
  content: Object.fromEntries(Object.keys(request.params.requestedSchema?.properties ?? {}).map((key) => [key, "Lin"])),
}));
client.setRequestHandler(ListRootsRequestSchema, async () => ({
  roots: [{ uri: "file:///home/dev/ts-project", name: "ts-project" }],
}));
await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: alternating }));
const tools = (await client.listTools()).tools.map((tool) => tool.name);
const results = {};
for (const name of ["sampling", "elicitation", "list_roots", "multi_round", "multiple_inputs"]) {
  const result = await client.callTool({ name: `${prefix}test_input_required_result_${name}`, arguments: {} });
  results[name] = result.content.map((block) => block.text).join("");
}
console.log(JSON.stringify({ tools, results, seen: [...new Set(seen)] }));
await client.close();
