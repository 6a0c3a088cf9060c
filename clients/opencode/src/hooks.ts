// The plugin's hooks and its configuration, apart from the entry module: OpenCode calls
// every function the entry module exports, so the entry exports only the plugin.
import { homedir } from "node:os";
import { join } from "node:path";

import type { Hooks } from "@opencode-ai/plugin";

import {
  type AssistantInfo,
  type ToolInfo,
  assistantMessage,
  sessionError,
  sessionIdle,
  sessionStart,
  toolUse,
  userMessage,
} from "./events.js";
import { Sender, type SenderOptions } from "./sender.js";

export type StacklensConfig = Omit<SenderOptions, "fetchImpl"> & { fetchImpl?: typeof fetch };

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): StacklensConfig | undefined {
  const url = env.STACKLENS_URL;
  const apiKey = env.STACKLENS_API_KEY;
  const stackName = env.STACK_NAME;
  if (!url || !apiKey || !stackName) return undefined;
  const spillFile =
    env.STACKLENS_SPOOL_FILE ||
    join(env.XDG_STATE_HOME || join(homedir(), ".local", "state"), "stacklens", `opencode-${stackName}.jsonl`);
  return { url, apiKey, stackName, spillFile };
}

type Part = { id?: string; type: string; messageID?: string; text?: string; time?: { end?: number } };

// The hooks, given a sender: exported for tests that drive them with OpenCode's payloads.
export function createHooks(sender: Sender, now: () => number = Date.now): Hooks {
  const texts = new Map<string, Map<string, string>>(); // messageID -> partID -> text
  const reported = new Set<string>(); // assistant messages already forwarded
  const idleTurns = new Map<string, number>();

  const textOf = (messageID: string): string => [...(texts.get(messageID)?.values() ?? [])].join("");

  return {
    event: async ({ event }) => {
      const e = event as { type: string; properties: Record<string, any> };
      switch (e.type) {
        case "session.created": {
          const info = e.properties.info as { id: string; parentID?: string; time: { created: number } };
          sender.enqueue(sessionStart(info.id, info.time.created));
          break;
        }
        case "session.idle": {
          const id = e.properties.sessionID as string;
          const turn = (idleTurns.get(id) ?? 0) + 1;
          idleTurns.set(id, turn);
          sender.enqueue(sessionIdle(id, turn, now()));
          void sender.flush(); // a turn ended: deliver now rather than on the timer
          break;
        }
        case "session.error":
          sender.enqueue(sessionError(e.properties.sessionID, e.properties.error, now()));
          break;
        case "message.part.updated": {
          const part = e.properties.part as Part & ToolInfo;
          if (part.type === "text" && part.messageID && part.id) {
            const parts = texts.get(part.messageID) ?? new Map<string, string>();
            parts.set(part.id, part.text ?? "");
            texts.set(part.messageID, parts);
          } else if (part.type === "tool") {
            const tool = toolUse(part);
            if (tool) sender.enqueue(tool);
          }
          break;
        }
        case "message.updated": {
          const info = e.properties.info as AssistantInfo | { role: "user" };
          if (info.role !== "assistant" || reported.has(info.id)) break;
          if (info.time.completed === undefined && info.error === undefined) break;
          reported.add(info.id);
          for (const out of assistantMessage(info, textOf(info.id))) sender.enqueue(out);
          texts.delete(info.id);
          break;
        }
        default:
          break;
      }
    },
    "chat.message": async (input, output) => {
      const text = output.parts
        .filter((p) => p.type === "text")
        .map((p) => (p as { text?: string }).text ?? "")
        .join("");
      const messageID = output.message.id ?? input.messageID ?? `${input.sessionID}-${now()}`;
      sender.enqueue(
        userMessage(input.sessionID, messageID, text, input.model, input.agent ?? output.message.agent, now()),
      );
    },
    dispose: async () => {
      await sender.close();
    },
  };
}

