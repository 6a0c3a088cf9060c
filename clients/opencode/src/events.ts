// Pure mapping: OpenCode hook payloads -> stacklens native events (the hub's event
// contract, v1). No I/O here. Content never leaves the machine: a message becomes its
// SHA-256, length and word count, as the OpenCode logging hook in the stacks already did;
// a bash command becomes its command name only.
import { createHash } from "node:crypto";

export type StacklensEvent = {
  event_id: string;
  timestamp: string;
  stack_name?: string;
  event_type: "session_start" | "session_end" | "message" | "llm_call" | "tool_use" | "error";
  session_id?: string;
  service?: string;
  message?: string;
  data?: Record<string, unknown>;
};

export type AssistantInfo = {
  id: string;
  sessionID: string;
  role: "assistant";
  time: { created: number; completed?: number };
  modelID: string;
  providerID: string;
  mode: string;
  cost: number;
  tokens: { input: number; output: number; reasoning: number; cache: { read: number; write: number } };
  error?: { name: string; data?: Record<string, unknown> };
};

export type ToolInfo = {
  callID: string;
  sessionID: string;
  messageID: string;
  tool: string;
  state:
    | { status: "pending" | "running"; input?: Record<string, unknown> }
    | { status: "completed"; input: Record<string, unknown>; time: { start: number; end: number } }
    | { status: "error"; input: Record<string, unknown>; error: string; time: { start: number; end: number } };
};

const iso = (ms: number): string => new Date(ms).toISOString();

export function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

export function contentFields(text: string): Record<string, unknown> {
  const words = text.trim() === "" ? 0 : text.trim().split(/\s+/u).length;
  return { content_hash: sha256(text), content_length: text.length, word_count: words };
}

// The executable of a shell command line: `FOO=1 sudo ls -la | wc` -> `ls`; never the
// arguments (they carry paths, hosts and secrets).
export function commandName(command: string): string | undefined {
  const words = command.trim().split(/\s+/u);
  for (const word of words) {
    if (/^[A-Za-z_][A-Za-z0-9_]*=/u.test(word) || word === "sudo" || word === "env") continue;
    const name = word.split("/").pop() ?? "";
    return /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/u.test(name) ? name : undefined;
  }
  return undefined;
}

export function sessionStart(sessionID: string, createdMs: number): StacklensEvent {
  return {
    event_id: `oc-session-start-${sessionID}`,
    timestamp: iso(createdMs),
    event_type: "session_start",
    session_id: sessionID,
  };
}

export function sessionIdle(sessionID: string, turn: number, nowMs: number): StacklensEvent {
  return {
    event_id: `oc-session-idle-${sessionID}-${turn}`,
    timestamp: iso(nowMs),
    event_type: "session_end",
    session_id: sessionID,
    data: { reason: "idle" },
  };
}

export function sessionError(
  sessionID: string | undefined,
  error: { name?: string; data?: Record<string, unknown> } | undefined,
  nowMs: number,
): StacklensEvent {
  const name = error?.name ?? "UnknownError";
  return {
    event_id: `oc-session-error-${sessionID ?? "none"}-${nowMs}`,
    timestamp: iso(nowMs),
    event_type: "error",
    session_id: sessionID,
    message: `session error: ${name}`,
    data: { error_code: name, success: false },
  };
}

export function userMessage(
  sessionID: string,
  messageID: string,
  text: string,
  model: { providerID: string; modelID: string } | undefined,
  agent: string | undefined,
  nowMs: number,
): StacklensEvent {
  return {
    event_id: `oc-message-${messageID}`,
    timestamp: iso(nowMs),
    event_type: "message",
    session_id: sessionID,
    data: {
      role: "user",
      model: model?.modelID,
      provider: model?.providerID,
      agent,
      ...contentFields(text),
    },
  };
}

// The tokens as OpenCode reports them, in the hub's contract: tokens_in counts every
// input token including cache reads and writes (OpenCode's `input` excludes them).
export function usage(info: AssistantInfo): Record<string, unknown> {
  const { input, output, reasoning, cache } = info.tokens;
  return {
    tokens_in: input + cache.read + cache.write,
    tokens_out: output,
    tokens_reasoning: reasoning,
    tokens_cache_read: cache.read,
    tokens_cache_write: cache.write,
    cost_usd: info.cost,
  };
}

// A completed assistant message: the message (with its content fields) and the LLM call
// that produced it.
export function assistantMessage(info: AssistantInfo, text: string): StacklensEvent[] {
  const completed = info.time.completed ?? info.time.created;
  const common = {
    model: info.modelID,
    provider: info.providerID,
    agent: info.mode,
    ...usage(info),
  };
  const failed = info.error !== undefined;
  return [
    {
      event_id: `oc-message-${info.id}`,
      timestamp: iso(completed),
      event_type: "message",
      session_id: info.sessionID,
      data: { role: "assistant", ...common, ...contentFields(text) },
    },
    {
      event_id: `oc-llm-${info.id}`,
      timestamp: iso(info.time.created),
      event_type: "llm_call",
      session_id: info.sessionID,
      data: {
        ...common,
        duration_ms: Math.max(0, completed - info.time.created),
        success: !failed,
        ...(failed ? { error_code: info.error?.name } : {}),
      },
    },
  ];
}

export function toolUse(part: ToolInfo): StacklensEvent | undefined {
  const state = part.state;
  if (state.status !== "completed" && state.status !== "error") return undefined;
  const data: Record<string, unknown> = {
    tool: part.tool,
    success: state.status === "completed",
    duration_ms: Math.max(0, state.time.end - state.time.start),
    args_hash: sha256(JSON.stringify(state.input ?? {})),
  };
  if (part.tool === "bash" && typeof state.input?.command === "string") {
    const name = commandName(state.input.command);
    if (name !== undefined) data.command = name;
  }
  if (state.status === "error") data.error_code = "tool_error";
  return {
    event_id: `oc-tool-${part.callID}`,
    timestamp: iso(state.time.start),
    event_type: "tool_use",
    session_id: part.sessionID,
    data,
  };
}
