/**
 * `perm:` the broker and the client, under their binaries' flags, speak SQS over HTTPS to a
 * queue whose CA they trust through DENO_CERT, with NODE_EXTRA_CA_CERTS also set (naming
 * another CA), as in an environment set up for Node programs. The AWS SDK's default
 * `node:https` agent asks for the `sys` permission "ca" there, which no binary has.
 *
 * @module
 */
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { freeTcpPort } from "../../lib/testing/util.ts";
import { startFauxqs } from "../broker/fauxqs.ts";
import { makeCert, startTlsFront } from "../client/tls_front.ts";
import { Binary, ptClientEnv } from "./binary.ts";

const CREDS = btoa(JSON.stringify({ "aws-access-key-id": "test", "aws-secret-key": "test" }));

/** One SQS call that went through the TLS front. */
interface SqsCall {
  /** The SQS action (X-Amz-Target without "AmazonSQS."). */
  action: string;
  queueUrl: string;
  messages: number;
}

Deno.test("perm: broker and client speak SQS over HTTPS trusting its CA through DENO_CERT", async () => {
  const dir = await Deno.makeTempDir({ prefix: "perm-sqs-tls-" });
  const fauxqs = await startFauxqs();
  const cert = await makeCert(["localhost"]);
  await Deno.writeTextFile(`${dir}/sqs-ca.pem`, cert.caPem);
  await Deno.writeTextFile(`${dir}/other-ca.pem`, (await makeCert(["other.test"])).caPem);
  const trust = { DENO_CERT: `${dir}/sqs-ca.pem`, NODE_EXTRA_CA_CERTS: `${dir}/other-ca.pem` };
  const calls: SqsCall[] = [];
  // HTTPS in front of fauxqs: each call is forwarded and recorded.
  const front = await startTlsFront(cert, async (req) => {
    const url = new URL(req.url);
    const body = await req.text();
    const headers = new Headers(req.headers);
    headers.delete("accept-encoding");
    const res = await fetch(`${fauxqs.endpoint}${url.pathname}${url.search}`, {
      method: req.method,
      headers,
      body: req.method === "GET" ? undefined : body,
    });
    const text = await res.text();
    const action = (req.headers.get("x-amz-target") ?? "").replace(/^AmazonSQS\./, "");
    let parsed: { QueueUrl?: string; Messages?: unknown[] } = {};
    try {
      parsed = JSON.parse(body || "{}");
      parsed.Messages = JSON.parse(text).Messages;
    } catch { /* not JSON */ }
    calls.push({ action, queueUrl: parsed.QueueUrl ?? "", messages: parsed.Messages?.length ?? 0 });
    const out = new Headers(res.headers);
    out.delete("content-length");
    out.delete("content-encoding");
    return new Response(text, { status: res.status, headers: out });
  });
  const endpoint = `https://localhost:${front.port}`;
  const brokerPort = freeTcpPort();
  const broker = Binary.start("broker-proxy", [
    "broker",
    "--addr",
    `127.0.0.1:${brokerPort}`,
    "--disable-tls",
    "--broker-sqs-name",
    "snowflake-broker",
    "--broker-sqs-region",
    "us-east-1",
    "--broker-sqs-endpoint",
    endpoint,
  ], { env: { AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", ...trust } });
  let client: Binary | undefined;
  try {
    await broker.waitFor(/SQS: polling/);
    client = Binary.start("client", [
      "-sqsqueue",
      `${endpoint}/000000000000/snowflake-broker`,
      "-sqscreds",
      CREDS,
      "-ice",
      "stun:127.0.0.1:1",
      "-log",
      `${dir}/client.log`,
    ], {
      env: { ...ptClientEnv(dir), ...trust },
    });
    const [, socksPort] = await client.waitFor(/^CMETHOD snowflake socks5 127\.0\.0\.1:(\d+)$/m);
    // One SOCKS5 request makes the client rendezvous.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(socksPort) });
    try {
      await conn.write(new Uint8Array([5, 1, 0, 5, 1, 0, 1, 192, 0, 2, 3, 0, 80]));
      // The broker's answer (no proxies) reaches the client through its answer queue.
      for (let i = 0; i < 600; i++) {
        const answered = calls.some((c) =>
          c.action === "ReceiveMessage" && /snowflake-client-/.test(c.queueUrl) && c.messages > 0
        );
        if (answered) break;
        if (i === 599) {
          const log = await Deno.readTextFile(`${dir}/client.log`).catch(() => "");
          throw new Error(`no answer over SQS: ${JSON.stringify(calls)}\n${log}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      conn.close();
    }
  } finally {
    await client?.stop();
    await broker.stop();
    await front.close();
    await fauxqs.stop();
  }
  const actions = new Set(calls.map((c) => c.action));
  for (const a of ["CreateQueue", "SendMessage", "GetQueueUrl", "ReceiveMessage"]) {
    assert(actions.has(a), `${a} not seen over HTTPS: ${[...actions]}`);
  }
  assert(front.records.every((r) => r.sni === "localhost"), JSON.stringify(front.records));
  for (const b of [broker, client!]) {
    assertEquals(/NotCapable|Requires \w+ access/.test(b.stderr), false, b.stderr);
  }
  await Deno.remove(dir, { recursive: true });
});
