// Seed 001's LangfuseService (src/services/LangfuseService.ts), as written there, run
// with the real langfuse v3 SDK: traceGeneration, then scoreGeneration, then shutdown.
// Usage: node send.js '<params JSON>' '<metadata JSON>' <score> '<comment>'
// Configured like the seed: LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY, LANGFUSE_HOST.
"use strict";
const { Langfuse } = require("langfuse");

class LangfuseService {
  constructor() {
    this.client = new Langfuse({
      publicKey: process.env.LANGFUSE_PUBLIC_KEY,
      secretKey: process.env.LANGFUSE_SECRET_KEY,
      baseUrl: process.env.LANGFUSE_HOST || "https://cloud.langfuse.com",
    });
  }

  async traceGeneration(params, metadata) {
    const trace = this.client.trace({
      name: `${params.provider}/${params.model}`,
      metadata,
      // Beyond the seed: the trace's session and user (Langfuse's trace fields).
      sessionId: params.sessionId,
      userId: params.userId,
    });

    trace.generation({
      name: "llm-call",
      model: params.model,
      input: params.prompt,
      output: params.response,
      usage: {
        promptTokens: params.inputTokens,
        completionTokens: params.outputTokens,
      },
      metadata: {
        provider: params.provider,
        durationMs: params.durationMs,
        cost: params.cost,
      },
    });

    await this.client.flushAsync();
    return trace.id;
  }

  async scoreGeneration(traceId, score, comment) {
    this.client.score({
      traceId,
      name: "user-feedback",
      value: score,
      comment,
    });

    await this.client.flushAsync();
  }

  async shutdown() {
    await this.client.shutdownAsync();
  }
}

async function main() {
  const [params, metadata, score, comment] = process.argv.slice(2);
  const service = new LangfuseService();
  const traceId = await service.traceGeneration(JSON.parse(params), JSON.parse(metadata));
  await service.scoreGeneration(traceId, Number(score), comment);
  await service.shutdown();
  process.stdout.write(JSON.stringify({ traceId }) + "\n");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
