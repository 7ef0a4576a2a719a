// Runs the official @microsoft/signalr client through a list of steps and prints one JSON line per step.
// Usage: node client.mjs '<json: {url, skipNegotiation, reconnect, reconnectDelays, reauthenticate,
// serverTimeoutMs, keepAliveMs, steps}>'
// reconnectDelays: the automatic reconnect's waits (ms); reauthenticate: the arguments of an
// authenticatev2 invoked on every reconnection, as the in-game resource does, its answer an event
// "reauthenticated".
// Steps: start, stop, invoke {method, args}, send {method, args}, event {name, timeoutMs},
// distinct {name, count, timeoutMs} (waits for count events of different arguments, returns every one
// received, duplicates too), reconnected {timeoutMs}, closed {timeoutMs}, sleep {ms}, pause (prints at
// once, then waits for a line on stdin: the test acts meanwhile). Each prints {step, ok, result|error}.
import * as signalR from "@microsoft/signalr";
import * as readline from "node:readline";

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const plan = JSON.parse(process.argv[2]);
const events = [];
const waiters = [];
const notify = () => waiters.splice(0).forEach((wake) => wake());

let builder = new signalR.HubConnectionBuilder()
  .withUrl(plan.url, { transport: signalR.HttpTransportType.WebSockets, skipNegotiation: !!plan.skipNegotiation })
  .configureLogging(signalR.LogLevel.None);
if (plan.reconnect || plan.reconnectDelays)
  builder = builder.withAutomaticReconnect(plan.reconnectDelays ?? [0, 200, 500, 1000]);
const connection = builder.build();
if (plan.serverTimeoutMs) connection.serverTimeoutInMilliseconds = plan.serverTimeoutMs;
if (plan.keepAliveMs) connection.keepAliveIntervalInMilliseconds = plan.keepAliveMs;

connection.on("pushEvent", (...args) => { events.push({ name: "pushEvent", args }); notify(); });
connection.onreconnecting((error) => { events.push({ name: "reconnecting", args: [String(error)] }); notify(); });
connection.onreconnected(async (id) => {
  events.push({ name: "reconnected", args: [id] });
  notify();
  if (plan.reauthenticate) {
    let answer;
    try { answer = await connection.invoke("authenticatev2", ...plan.reauthenticate); }
    catch (error) { answer = { error: error.message }; }
    events.push({ name: "reauthenticated", args: [answer] });
    notify();
  }
});
connection.onclose((error) => { events.push({ name: "closed", args: [error ? error.message : null] }); notify(); });

async function waitFor(name, timeoutMs) {
  const deadline = Date.now() + (timeoutMs ?? 10000);
  for (;;) {
    const index = events.findIndex((event) => event.name === name);
    if (index >= 0) return events.splice(index, 1)[0].args;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no ${name} within ${timeoutMs ?? 10000} ms`);
    await new Promise((wake) => { waiters.push(wake); setTimeout(wake, left); });
  }
}

async function waitForDistinct(name, count, timeoutMs) {
  const deadline = Date.now() + (timeoutMs ?? 10000);
  for (;;) {
    const found = events.filter((event) => event.name === name);
    if (new Set(found.map((event) => JSON.stringify(event.args))).size >= count) {
      found.forEach((event) => events.splice(events.indexOf(event), 1));
      return found.map((event) => event.args);
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`${found.length} ${name} (not ${count} different) within ${timeoutMs ?? 10000} ms`);
    await new Promise((wake) => { waiters.push(wake); setTimeout(wake, left); });
  }
}

const sleep = (ms) => new Promise((wake) => setTimeout(wake, ms));
for (const step of plan.steps) {
  let line;
  try {
    let result = null;
    if (step.op === "start") await connection.start();
    else if (step.op === "stop") await connection.stop();
    else if (step.op === "invoke") result = await connection.invoke(step.method, ...(step.args ?? []));
    else if (step.op === "send") await connection.send(step.method, ...(step.args ?? []));
    else if (step.op === "event" || step.op === "reconnected" || step.op === "closed")
      result = await waitFor(step.op === "event" ? step.name : step.op, step.timeoutMs);
    else if (step.op === "distinct") result = await waitForDistinct(step.name, step.count, step.timeoutMs);
    else if (step.op === "sleep") await sleep(step.ms);
    else if (step.op === "pause") {
      process.stdout.write(JSON.stringify({ step: "pause", ok: true, result: null, state: connection.state }) + "\n");
      await lines.next();
      continue;
    }
    else throw new Error(`unknown step ${step.op}`);
    line = { step: step.op, ok: true, result: result ?? null, state: connection.state };
  } catch (error) {
    line = { step: step.op, ok: false, error: error.message, state: connection.state };
  }
  process.stdout.write(JSON.stringify(line) + "\n");
}
await connection.stop();
process.exit(0);
