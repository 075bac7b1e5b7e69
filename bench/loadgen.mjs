// Open-loop HTTP/1.1 load generator for bench/submit.py: node built-ins only.
//
// Reads one JSON job on stdin, prints one JSON result on stdout. Request i is due at
// t0 + i/rate whatever happened to earlier requests, and its latency runs from that
// scheduled time to the last byte of its response, so a stalled server is charged for
// every request it made wait (no coordinated omission).
//
// Job: {host, port, rate, duration, firstIndex, maxConnections, drainSeconds,
//       inflightSeconds, expectStatus, variants: [{head, body}]}
// `head` is the request line and headers without Content-Length or the blank line;
// `{n}` in `body` becomes firstIndex + i, so every request can carry a unique email.

import net from "node:net";
import { performance } from "node:perf_hooks";

const HEADER_END = Buffer.from("\r\n\r\n");
const IDLE_RETIRE_MS = 5000;

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on("data", (chunk) => chunks.push(chunk));
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString()));
    process.stdin.on("error", reject);
  });
}

function compileVariant({ head, body }) {
  if (!body) {
    const bytes = Buffer.from(`${head}Content-Length: 0\r\n\r\n`);
    return () => bytes;
  }
  const [before, after] = body.includes("{n}") ? body.split("{n}") : [body, null];
  return (n) => {
    const text = after === null ? before : `${before}${n}${after}`;
    return Buffer.from(`${head}Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  };
}

// Response parsing for what gunicorn sends: Content-Length bodies, or read-to-close.
function parseHead(buffer, end) {
  const text = buffer.toString("latin1", 0, end);
  const status = Number(text.slice(9, 12));
  let contentLength = -1;
  let close = text.startsWith("HTTP/1.0");
  for (const line of text.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim().toLowerCase();
    if (name === "content-length") contentLength = Number(value);
    else if (name === "connection") close = value === "close";
    else if (name === "transfer-encoding" && value !== "identity") {
      throw new Error(`unsupported transfer-encoding: ${value}`);
    }
  }
  return { status, contentLength, close };
}

async function main() {
  const job = JSON.parse(await readStdin());
  const total = Math.max(1, Math.round(job.rate * job.duration));
  const intervalMs = 1000 / job.rate;
  const builders = job.variants.map(compileVariant);

  const latenciesUs = new Float64Array(total);
  let recorded = 0;
  const lagsMs = new Float64Array(total);
  // The slowest answer to the requests due in each second of the schedule: tells a few
  // stalls (a handful of bad seconds) from steady queueing (every second slow).
  const worstMsBySecond = new Float64Array(Math.ceil(job.duration) + 1);
  const statuses = {};
  const errors = {};
  const samples = [];
  let expected = 0;
  let sent = 0;
  let finished = 0;
  let open = 0;
  let peakOpen = 0;
  let peakBacklog = 0;
  let lastCompletion = 0;
  const idle = [];
  // Requests waiting for a free connection, oldest first. A head index instead of
  // Array.shift(), which copies the whole array: an overloaded run queues 100,000s.
  const backlog = {
    items: [], head: 0,
    get length() { return this.items.length - this.head; },
    push(i) { this.items.push(i); },
    shift() { return this.head < this.items.length ? this.items[this.head++] : undefined; },
    clear() { this.head = this.items.length; },
  };
  const connections = new Set();

  const t0 = performance.now() + 20;
  const cpuStart = process.cpuUsage();

  function countError(kind) {
    errors[kind] = (errors[kind] || 0) + 1;
  }

  function complete(conn, status, now) {
    const request = conn.request;
    conn.request = -1;
    const latencyMs = now - (t0 + request * intervalMs);
    latenciesUs[recorded++] = latencyMs * 1000;
    const second = Math.floor((request * intervalMs) / 1000);
    worstMsBySecond[second] = Math.max(worstMsBySecond[second], latencyMs);
    statuses[status] = (statuses[status] || 0) + 1;
    if (status === job.expectStatus) expected += 1;
    else if (samples.length < 3) {
      samples.push({ status, body: conn.buffer.toString("utf8", 0, 600) });
    }
    lastCompletion = now;
    finished += 1;
  }

  function fail(conn, kind) {
    if (conn.request >= 0) {
      conn.request = -1;
      countError(kind);
      finished += 1;
    }
  }

  function retire(conn) {
    connections.delete(conn);
    conn.dead = true;
    open -= 1;
    conn.socket.destroy();
  }

  function release(conn) {
    retire(conn);
    const next = backlog.shift();
    if (next !== undefined) send(next);
  }

  function onData(conn, chunk) {
    if (conn.request < 0) return;  // bytes after a complete response: ignore
    conn.buffer = conn.buffer.length ? Buffer.concat([conn.buffer, chunk]) : chunk;
    if (conn.head === null) {
      const end = conn.buffer.indexOf(HEADER_END);
      if (end < 0) return;
      try {
        conn.head = parseHead(conn.buffer, end);
      } catch (error) {
        fail(conn, error.message);
        release(conn);
        return;
      }
      conn.bodyStart = end + 4;
    }
    const { contentLength, status, close } = conn.head;
    if (contentLength < 0 || conn.buffer.length - conn.bodyStart < contentLength) return;
    complete(conn, status, performance.now());
    if (close) {
      release(conn);
      return;
    }
    const next = backlog.shift();
    if (next !== undefined) dispatchOn(conn, next);
    else {
      conn.idleSince = performance.now();
      idle.push(conn);
    }
  }

  function onClose(conn) {
    if (conn.dead) return;
    if (conn.request >= 0 && conn.head && conn.head.contentLength < 0) {
      complete(conn, conn.head.status, performance.now());  // body ran to the close
    } else {
      fail(conn, conn.error || "connection closed before the response");
    }
    release(conn);
  }

  function connect() {
    const socket = net.connect({ host: job.host, port: job.port, noDelay: true });
    const conn = { socket, request: -1, buffer: Buffer.alloc(0), head: null, dead: false,
                   error: null };
    open += 1;
    peakOpen = Math.max(peakOpen, open);
    connections.add(conn);
    socket.on("data", (chunk) => onData(conn, chunk));
    socket.on("error", (error) => { conn.error = error.code || error.message; });
    socket.on("close", () => onClose(conn));
    return conn;
  }

  function dispatchOn(conn, i) {
    conn.request = i;
    conn.buffer = Buffer.alloc(0);
    conn.head = null;
    conn.socket.write(builders[i % builders.length](job.firstIndex + i));
  }

  // Gunicorn closes keep-alive connections idle for its `keepalive` seconds (10 in
  // bench/gunicorn.conf.py); retiring ours sooner keeps a request from racing that close.
  function takeIdle() {
    const now = performance.now();
    for (let conn = idle.pop(); conn; conn = idle.pop()) {
      if (conn.dead) continue;
      if (now - conn.idleSince < IDLE_RETIRE_MS) return conn;
      retire(conn);
    }
    return undefined;
  }

  function send(i) {
    let conn = takeIdle();
    if (!conn && open < job.maxConnections) conn = connect();
    if (conn) dispatchOn(conn, i);
    else {
      backlog.push(i);
      peakBacklog = Math.max(peakBacklog, backlog.length);
    }
  }

  const sendingDone = new Promise((resolve) => {
    function pump() {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - t0) / intervalMs) + 1);
      while (sent < due) {
        lagsMs[sent] = now - (t0 + sent * intervalMs);
        send(sent);
        sent += 1;
      }
      if (sent >= total) resolve();
      else setTimeout(pump, Math.max(0, t0 + sent * intervalMs - performance.now()));
    }
    setTimeout(pump, Math.max(0, t0 - performance.now()));
  });
  await sendingDone;

  // Bounded waits for the stragglers. Requests still queued for a free connection after
  // drainSeconds are dropped unsent; those already sent get up to inflightSeconds more,
  // so a request the server may still act on (a signature) is not abandoned mid-way.
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const drainDeadline = performance.now() + job.drainSeconds * 1000;
  while (finished < total && performance.now() < drainDeadline) await sleep(5);
  const unsent = backlog.length;
  backlog.clear();
  if (unsent > 0) {
    errors[`not sent: no free connection ${job.drainSeconds}s after the end`] = unsent;
  }
  const inflightDeadline = performance.now() + job.inflightSeconds * 1000;
  while (finished + unsent < total && performance.now() < inflightDeadline) await sleep(5);
  const unanswered = total - finished - unsent;
  const waited = job.drainSeconds + job.inflightSeconds;
  if (unanswered > 0) errors[`sent, no response ${waited}s after the end`] = unanswered;
  for (const conn of connections) {
    conn.dead = true;
    conn.socket.destroy();
  }

  const cpu = process.cpuUsage(cpuStart);
  const lags = Array.from(lagsMs.subarray(0, sent)).sort((a, b) => a - b);
  const result = {
    total, sent, expected, statuses, errors, samples, peakOpen, peakBacklog,
    elapsedSeconds: (Math.max(lastCompletion, t0 + job.duration * 1000) - t0) / 1000,
    dispatchLagMs: { p99: lags[Math.floor(0.99 * (lags.length - 1))] || 0,
                     max: lags[lags.length - 1] || 0 },
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    cpuUserSeconds: cpu.user / 1e6,
    latenciesUs: Array.from(latenciesUs.subarray(0, recorded), Math.round),
    worstMsBySecond: Array.from(worstMsBySecond, (ms) => Math.round(ms * 10) / 10),
  };
  process.stdout.write(JSON.stringify(result));
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
