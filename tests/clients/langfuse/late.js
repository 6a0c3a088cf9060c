// The usual langfuse v3 pattern when a call outlasts a flush: the generation is created
// (and flushed) before the call, and ended with its output and usage afterwards.
// Usage: node late.js '<params JSON>'
"use strict";
const { Langfuse } = require("langfuse");

async function main() {
  const params = JSON.parse(process.argv[2]);
  const client = new Langfuse({
    publicKey: process.env.LANGFUSE_PUBLIC_KEY,
    secretKey: process.env.LANGFUSE_SECRET_KEY,
    baseUrl: process.env.LANGFUSE_HOST,
  });
  const trace = client.trace({ name: "long-call", sessionId: params.sessionId });
  const generation = trace.generation({ name: "llm-call", model: params.model, input: params.prompt });
  await client.flushAsync(); // the create goes out alone
  generation.end({
    output: params.response,
    usage: { input: params.inputTokens, output: params.outputTokens },
  });
  await client.shutdownAsync();
  process.stdout.write(JSON.stringify({ traceId: trace.id, generationId: generation.id }) + "\n");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
