/**
 * `sqs:` SQS rendezvous through fauxqs (an SQS-compatible server from npm, run as its own
 * process under Deno: Debian's node 20 lacks the node:sqlite it needs). The broker's side of the queue protocol is played by the test: it receives the
 * poll from the broker queue, checks the `ClientID` attribute, creates
 * `snowflake-client-<ClientID>` and puts the answer there, as the Go broker does.
 */
import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { assert, assertEquals } from "../../lib/testing/assert.ts";
import { freeTcpPort } from "../../lib/testing/util.ts";
import { decodeClientPollRequest, encodeClientPollResponse } from "../../lib/snowflake/messages.ts";
import { BrokerChannel } from "../../lib/snowflake/rendezvous.ts";
import { parseSqsCreds, SqsRendezvous } from "../../lib/snowflake/rendezvous_sqs.ts";

const CREDS = btoa(JSON.stringify({ "aws-access-key-id": "AKIATEST", "aws-secret-key": "secret" }));

async function startFauxqs(): Promise<{ port: number; proc: Deno.ChildProcess }> {
  const port = freeTcpPort();
  const root = new URL("../../", import.meta.url).pathname;
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}node_modules/fauxqs/dist/cli.js`],
    env: { FAUXQS_PORT: String(port), FAUXQS_HOST: "127.0.0.1", FAUXQS_LOGGER: "false" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  let exited = false;
  proc.status.then(() => (exited = true));
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return { port, proc };
    } catch {
      if (exited) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (!exited) proc.kill();
  throw new Error("fauxqs did not start");
}

Deno.test({
  name: "sqs: a poll goes through the broker queue and the answer comes back",
  async fn() {
    const { port, proc } = await startFauxqs();
    try {
      const endpoint = `http://127.0.0.1:${port}`;
      const sqs = new SQSClient({
        region: "us-east-1",
        endpoint,
        credentials: parseSqsCreds(CREDS),
        useQueueUrlAsEndpoint: false,
      });
      await sqs.send(new CreateQueueCommand({ QueueName: "snowflake-broker" }));
      // fauxqs names its queues sqs.<region>.<host>; clients are given the plain endpoint.
      const QueueUrl = `${endpoint}/000000000000/snowflake-broker`;
      const answer = {
        type: "answer" as const,
        sdp: "v=0\r\na=candidate:1 1 udp 1 198.51.100.9 9 typ host\r\n",
      };
      let seenClientId = "";
      const broker = (async () => {
        for (;;) {
          const r = await sqs.send(
            new ReceiveMessageCommand({
              QueueUrl,
              WaitTimeSeconds: 5,
              MessageAttributeNames: ["All"],
            }),
          );
          const m = r.Messages?.[0];
          if (!m) continue;
          seenClientId = m.MessageAttributes?.ClientID?.StringValue ?? "";
          const poll = decodeClientPollRequest(m.Body!);
          assertEquals(JSON.parse(poll.offer).type, "offer");
          const q = await sqs.send(
            new CreateQueueCommand({ QueueName: `snowflake-client-${seenClientId}` }),
          );
          await sqs.send(
            new SendMessageCommand({
              QueueUrl: `${endpoint}/000000000000/${q.QueueUrl!.split("/").pop()}`,
              MessageBody: encodeClientPollResponse({ answer: JSON.stringify(answer) }),
            }),
          );
          return;
        }
      })();
      const channel = new BrokerChannel(
        new SqsRendezvous(QueueUrl!, CREDS, { queueWaitMs: 200 }),
      );
      const got = await channel.negotiate({ type: "offer", sdp: "v=0\r\n" });
      await broker;
      assertEquals(got.answer, answer);
      assert(/^[0-9a-f]{16}$/.test(seenClientId), seenClientId);
      console.log(`fauxqs at ${endpoint}: poll with ClientID ${seenClientId}, answer received`);
      sqs.destroy();
    } finally {
      proc.kill();
      await proc.status;
    }
  },
});
