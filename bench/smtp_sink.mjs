// An SMTP server on loopback that accepts every message and logs when it came, for bench/.
// The same protocol and log as bench/_smtp_sink.py (aiosmtpd), at a fraction of the CPU:
// on two shared cores the Python sink's ~1.5 ms a message would be taken from the workers
// being measured. Built-in modules only.
//
//   node bench/smtp_sink.mjs --port 2525 --log /tmp/received.log
//
// Prints "ready" once it listens. Each accepted message appends "<CLOCK_MONOTONIC seconds>
// <Message-ID>" to the log ("-" when it has none), flushed every --flush-ms.
// CLOCK_MONOTONIC is one clock for every process on Linux, like Python's time.monotonic().
import fs from "node:fs";
import net from "node:net";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { port: { type: "string" }, log: { type: "string" }, "flush-ms": { type: "string", default: "20" } },
});
const log = fs.openSync(values.log, "a");
let pending = [];
const flush = () => {
  if (pending.length) {
    fs.writeSync(log, pending.join(""));
    pending = [];
  }
};
setInterval(flush, Number(values["flush-ms"]));

const MESSAGE_ID = /^Message-ID:[ \t]*(\S+)/im;
const now = () => Number(process.hrtime.bigint()) / 1e9; // CLOCK_MONOTONIC on Linux

function session(socket) {
  let buffer = "";
  let inData = false;
  let data = [];
  const reply = (text) => socket.write(text + "\r\n");
  reply("220 bench-sink ESMTP");
  socket.setEncoding("latin1");
  socket.on("data", (chunk) => {
    buffer += chunk;
    let end;
    while ((end = buffer.indexOf("\r\n")) !== -1) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (inData) {
        if (line === ".") {
          inData = false;
          const headers = data.join("\r\n").split("\r\n\r\n", 1)[0];
          const found = MESSAGE_ID.exec(headers);
          pending.push(`${now().toFixed(6)} ${found ? found[1] : "-"}\n`);
          data = [];
          reply("250 2.0.0 OK");
        } else {
          data.push(line.startsWith(".") ? line.slice(1) : line); // dot-unstuffing
        }
        continue;
      }
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === "EHLO") socket.write("250-bench-sink\r\n250-8BITMIME\r\n250 SIZE 33554432\r\n");
      else if (verb === "HELO") reply("250 bench-sink");
      else if (verb === "MAIL" || verb === "RCPT" || verb === "RSET" || verb === "NOOP") reply("250 OK");
      else if (verb === "DATA") { inData = true; reply("354 End data with <CR><LF>.<CR><LF>"); }
      else if (verb === "QUIT") { reply("221 Bye"); socket.end(); }
      else reply("502 5.5.2 Command not implemented");
    }
  });
  socket.on("error", () => {});
}

const server = net.createServer(session);
server.listen(Number(values.port), "127.0.0.1", () => console.log("ready"));
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => { flush(); process.exit(0); });
}
