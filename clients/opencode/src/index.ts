// stacklens plugin for OpenCode: forwards sessions (created, idle, error), messages
// (role, model, provider, agent, tokens, cost, content hash/length/word count) and tool
// uses (tool, success, duration, args hash, bash command name) to a stacklens hub.
//
// Configured by the lines `stacklens stacks create --print-env` prints:
//   STACK_NAME, STACKLENS_URL, STACKLENS_API_KEY
// and optionally STACKLENS_SPOOL_FILE (default ~/.local/state/stacklens/opencode-<stack>.jsonl).
// Hooks only enqueue: OpenCode never waits on the network.
import type { Plugin } from "@opencode-ai/plugin";

import { configFromEnv, createHooks } from "./hooks.js";
import { Sender } from "./sender.js";

export const StacklensPlugin: Plugin = async () => {
  const config = configFromEnv();
  if (config === undefined) return {}; // not configured: do nothing, never fail OpenCode
  const sender = new Sender(config);
  // Whatever is still queued when the process exits goes to the spill file (synchronous).
  process.once("exit", () => sender.spillNow());
  return createHooks(sender);
};
