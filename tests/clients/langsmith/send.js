// Seed 001's LangsmithService (src/services/LangsmithService.ts), as written there, run
// with the real langsmith SDK: traceRun, then addFeedback, then the client's pending
// batches are awaited (what a service does before it exits).
// Usage: node send.js '<params JSON>' '<metadata JSON>' <score> '<comment>'
// Configured like the seed: LANGCHAIN_API_KEY, LANGCHAIN_ENDPOINT.
"use strict";
const { Client } = require("langsmith");
const { RunTree } = require("langsmith/run_trees");

class LangsmithService {
  constructor() {
    this.client = new Client({
      apiKey: process.env.LANGCHAIN_API_KEY,
      apiUrl: process.env.LANGCHAIN_ENDPOINT,
    });
  }

  async traceRun(params, metadata) {
    const runTree = new RunTree({
      name: `${params.provider}/${params.model}`,
      run_type: "llm",
      inputs: { prompt: params.prompt },
      client: this.client,
    });

    await runTree.postRun();

    runTree.end({
      outputs: { response: params.response },
      extra: {
        tokens: {
          prompt: params.inputTokens,
          completion: params.outputTokens,
        },
        duration_ms: params.durationMs,
        ...metadata,
      },
    });

    await runTree.patchRun();
    return runTree.id;
  }

  async addFeedback(runId, score, comment) {
    await this.client.createFeedback(runId, "user-feedback", {
      score,
      comment,
    });
  }
}

async function main() {
  const [params, metadata, score, comment] = process.argv.slice(2);
  const service = new LangsmithService();
  const runId = await service.traceRun(JSON.parse(params), JSON.parse(metadata));
  await service.addFeedback(runId, Number(score), comment);
  await service.client.awaitPendingTraceBatches();
  process.stdout.write(JSON.stringify({ runId }) + "\n");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
