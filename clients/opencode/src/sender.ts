// Delivery to the hub that never blocks OpenCode: events queue in memory (bounded), a
// timer posts them as NDJSON batches, failures back off exponentially, and whatever
// cannot be delivered goes to a local JSONL file that is replayed, oldest first, once the
// hub answers again. Every event carries a deterministic event_id, so a replay of a batch
// the hub had in fact stored is deduplicated there: nothing is counted twice.
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname } from "node:path";

import type { StacklensEvent } from "./events.js";

export type SenderOptions = {
  url: string;
  apiKey: string;
  stackName: string;
  spillFile: string;
  batchSize?: number;
  maxQueue?: number;
  flushIntervalMs?: number;
  maxBackoffMs?: number;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
};

export class Sender {
  private queue: StacklensEvent[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sending: Promise<void> | undefined;
  private failures = 0;
  private nextAttempt = 0;
  readonly stats = { sent: 0, spilled: 0, replayed: 0, rejected: 0, failedPosts: 0 };

  constructor(private readonly options: SenderOptions) {}

  private get batchSize(): number {
    return this.options.batchSize ?? 200;
  }

  enqueue(event: StacklensEvent): void {
    this.queue.push({ stack_name: this.options.stackName, ...event });
    if (this.queue.length > (this.options.maxQueue ?? 10_000)) {
      // Bounded memory: the oldest half goes to disk now rather than growing without end.
      this.spill(this.queue.splice(0, this.queue.length >> 1));
    }
    this.schedule(this.queue.length >= this.batchSize ? 0 : this.options.flushIntervalMs ?? 1000);
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined) return;
    const wait = Math.max(delayMs, this.nextAttempt - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, wait);
    this.timer.unref?.();
  }

  // One delivery round: the spill file first (oldest), then the queue. Never throws.
  flush(): Promise<void> {
    if (this.sending === undefined) {
      this.sending = this.deliver().finally(() => {
        this.sending = undefined;
      });
    }
    return this.sending;
  }

  private async deliver(): Promise<void> {
    if (!(await this.replaySpill())) {
      this.afterFailure();
      return;
    }
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.batchSize);
      const outcome = await this.post(batch);
      if (outcome === "retry") {
        this.spill(batch);
        this.afterFailure();
        return;
      }
      if (outcome === "rejected") this.reject(batch);
      else this.stats.sent += batch.length;
    }
    this.failures = 0;
    this.nextAttempt = 0;
  }

  private afterFailure(): void {
    this.failures += 1;
    const backoff = Math.min(this.options.maxBackoffMs ?? 60_000, 500 * 2 ** this.failures);
    this.nextAttempt = Date.now() + backoff;
    if (existsSync(this.options.spillFile)) this.schedule(backoff);
  }

  private async replaySpill(): Promise<boolean> {
    const file = this.options.spillFile;
    if (!existsSync(file)) return true;
    const content = readFileSync(file);
    const events = content
      .toString("utf8")
      .split("\n")
      .filter((line) => line.trim() !== "")
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as StacklensEvent];
        } catch {
          return []; // a torn last line from a crash mid-write
        }
      });
    let done = 0;
    let ok = true;
    while (done < events.length) {
      const batch = events.slice(done, done + this.batchSize);
      const outcome = await this.post(batch);
      if (outcome === "retry") {
        ok = false;
        break;
      }
      if (outcome === "rejected") this.reject(batch);
      else this.stats.replayed += batch.length;
      done += batch.length;
    }
    // Rewrite the file as what is left plus whatever was spilled while we were posting
    // (appended after the bytes we read). One writer, so no lock is needed.
    const appended = readFileSync(file).subarray(content.length);
    const rest = events.slice(done).map((e) => JSON.stringify(e) + "\n").join("");
    if (rest === "" && appended.length === 0) {
      rmSync(file, { force: true });
    } else {
      writeFileSync(`${file}.tmp`, Buffer.concat([Buffer.from(rest, "utf8"), appended]));
      renameSync(`${file}.tmp`, file);
    }
    return ok;
  }

  // "ok": stored; "retry": the hub is unreachable, overloaded or refused the key (try
  // again later); "rejected": the hub refused the batch itself (400/413/415): retrying
  // cannot help, so it is set aside in <spill>.rejected for inspection.
  private async post(batch: StacklensEvent[]): Promise<"ok" | "retry" | "rejected"> {
    const doFetch = this.options.fetchImpl ?? fetch;
    const body = batch.map((e) => JSON.stringify(e)).join("\n") + "\n";
    try {
      const answer = await doFetch(`${this.options.url.replace(/\/+$/u, "")}/v1/events`, {
        method: "POST",
        headers: { "Content-Type": "application/x-ndjson", "X-API-Key": this.options.apiKey },
        body,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
      await answer.arrayBuffer().catch(() => undefined);
      if (answer.ok) return "ok";
      this.stats.failedPosts += 1;
      return [400, 413, 415, 422].includes(answer.status) ? "rejected" : "retry";
    } catch {
      this.stats.failedPosts += 1;
      return "retry";
    }
  }

  private reject(events: StacklensEvent[]): void {
    const file = `${this.options.spillFile}.rejected`;
    mkdirSync(dirname(file), { recursive: true });
    appendFileSync(file, events.map((e) => JSON.stringify(e) + "\n").join(""));
    this.stats.rejected += events.length;
  }

  spill(events: StacklensEvent[]): void {
    if (events.length === 0) return;
    mkdirSync(dirname(this.options.spillFile), { recursive: true });
    appendFileSync(this.options.spillFile, events.map((e) => JSON.stringify(e)).join("\n") + "\n");
    this.stats.spilled += events.length;
  }

  // At exit: one bounded attempt to deliver, then everything left goes to disk.
  async close(timeoutMs = 3000): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    await Promise.race([this.flush(), new Promise((r) => setTimeout(r, timeoutMs).unref?.())]);
    this.spillNow();
  }

  // Synchronous: for process exit, when no promise will run any more.
  spillNow(): void {
    this.spill(this.queue.splice(0));
  }
}
