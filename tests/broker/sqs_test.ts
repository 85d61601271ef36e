// The broker's SQS rendezvous against the fauxqs emulator (npm) on loopback.
import {
  CreateQueueCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { assertEquals } from "../../lib/testing/assert.ts";
import {
  decodeClientPollResponse,
  decodeProxyPollResponse,
  encodeAnswerRequest,
  encodeClientPollRequest,
  encodeProxyPollRequest,
} from "../../lib/snowflake/mod.ts";
import { fakeSdp, post, spawnBroker } from "./spawn.ts";
import { startFauxqs } from "./fauxqs.ts";
import { Broker } from "../../proxy/broker/broker.ts";
import { BridgeList, DEFAULT_BRIDGE_LIST } from "../../proxy/broker/bridge_list.ts";
import { SqsRendezvous } from "../../proxy/broker/sqs.ts";

const AWS_ENV = { AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" };

Deno.test("sqs: a client poll sent through fauxqs is matched and answered", async () => {
  const fauxqs = await startFauxqs();
  const broker = await spawnBroker([
    "--broker-sqs-name",
    "snowflake-broker",
    "--broker-sqs-region",
    "us-east-1",
    "--broker-sqs-endpoint",
    fauxqs.endpoint,
    "--unsafe-logging",
  ], { env: AWS_ENV });
  const sqs = new SQSClient({
    region: "us-east-1",
    endpoint: fauxqs.endpoint,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  try {
    // A proxy waits and answers whatever it is given.
    const proxy = (async () => {
      const r = await post(
        broker.url + "proxy",
        encodeProxyPollRequest({
          sid: "sqs-proxy",
          type: "standalone",
          nat: "unrestricted",
          clients: 0,
          acceptedRelayPattern: "",
        }),
      );
      const resp = decodeProxyPollResponse(r.text);
      if (resp.status === "client match") {
        await post(
          broker.url + "answer",
          encodeAnswerRequest({ sid: "sqs-proxy", answer: fakeSdp("answer", "sqs") }),
        );
      }
      return resp;
    })();
    for (
      let i = 0;
      i < 100 && !(await (await fetch(broker.url + "debug")).text()).includes("available: 1");
      i++
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const queueUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: "snowflake-broker" })))
      .QueueUrl!;
    const clientId = "0123456789abcdef";
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: encodeClientPollRequest({
          offer: fakeSdp("offer", "via-sqs"),
          nat: "unknown",
        }),
        MessageAttributes: { ClientID: { DataType: "String", StringValue: clientId } },
      }),
    );
    // The answer queue appears once the broker took the poll.
    let answerUrl = "";
    for (let i = 0; i < 200 && !answerUrl; i++) {
      try {
        answerUrl =
          (await sqs.send(new GetQueueUrlCommand({ QueueName: `snowflake-client-${clientId}` })))
            .QueueUrl!;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    let body = "";
    for (let i = 0; i < 5 && !body; i++) {
      const res = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: answerUrl, WaitTimeSeconds: 5 }),
      );
      body = res.Messages?.[0]?.Body ?? "";
    }
    assertEquals(decodeClientPollResponse(body), { answer: fakeSdp("answer", "sqs") });
    const given = await proxy;
    assertEquals([given.status, given.offer], ["client match", fakeSdp("offer", "via-sqs")]);
    const metrics = await (await fetch(broker.url + "metrics")).text();
    assertEquals(/client-sqs-count (\d+)/.exec(metrics)?.[1], "8");
  } finally {
    sqs.destroy();
    await broker.stop();
    await fauxqs.stop();
  }
});

Deno.test({
  name: "sqs: client answer queues untouched for 2 minutes are deleted, others kept",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const fauxqs = await startFauxqs();
    for (const [k, v] of Object.entries(AWS_ENV)) Deno.env.set(k, v);
    const broker = new Broker({
      bridges: BridgeList.parse(DEFAULT_BRIDGE_LIST),
      allowedRelayPattern: "",
    });
    const rendezvous = new SqsRendezvous({
      broker,
      queueName: "snowflake-broker",
      region: "us-east-1",
      endpoint: fauxqs.endpoint,
    });
    const sqs = new SQSClient({
      region: "us-east-1",
      endpoint: fauxqs.endpoint,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    try {
      await rendezvous.start();
      await sqs.send(new CreateQueueCommand({ QueueName: "snowflake-client-00000000000000aa" }));
      await sqs.send(new CreateQueueCommand({ QueueName: "unrelated-queue" }));
      // Now: nothing is old enough.
      assertEquals(await rendezvous.cleanupClientQueues(), 0);
      // Three minutes on, the client queue is stale; the others stay.
      assertEquals(await rendezvous.cleanupClientQueues(Date.now() / 1000 + 180), 1);
      const left = (await sqs.send(new ListQueuesCommand({}))).QueueUrls ?? [];
      assertEquals(left.some((u) => u.includes("snowflake-client-")), false);
      assertEquals(left.some((u) => u.endsWith("/unrelated-queue")), true);
      assertEquals(left.some((u) => u.endsWith("/snowflake-broker")), true);
    } finally {
      sqs.destroy();
      await rendezvous.close();
      broker.close();
      await fauxqs.stop();
    }
  },
});
