// The official TypeScript SDK client (npm @modelcontextprotocol/sdk): lists tools, calls echo and,
// when told it can sample, the server's sampling tool. Prints one JSON line for the test to read.
// Usage: node ts_client.mjs <url> <plain|sampling> <tool name prefix>
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const [url, capability, prefix] = process.argv.slice(2);
const sampling = capability === "sampling";
const client = new Client({ name: "mcphub-ts-test", version: "1.0.0" }, { capabilities: sampling ? { sampling: {} } : {} });
if (sampling) {
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({
    role: "assistant",
    content: { type: "text", text: "sampled by the TypeScript client" },
    model: "stand-in",
  }));
}
await client.connect(new StreamableHTTPClientTransport(new URL(url)));
const tools = (await client.listTools()).tools.map((tool) => tool.name);
const echo = await client.callTool({ name: `${prefix}echo`, arguments: { message: "hi" } });
const sampled = sampling
  ? await client.callTool({ name: `${prefix}trigger-sampling-request`, arguments: { prompt: "say hi", maxTokens: 10 } })
  : null;
console.log(JSON.stringify({ tools, echo, sampled }));
await client.close();
