/**
 * The SQS rendezvous channel (README "Broker"; docs/BROKER.md, "SQS"): clients send their
 * 1.0 poll to the broker's queue with a `ClientID` message attribute; the broker answers on
 * queue `snowflake-client-<ClientID>`, which it creates, and deletes client queues untouched
 * for 2 minutes. Works against AWS or any SQS-compatible endpoint (`--broker-sqs-endpoint`).
 * HTTPS goes over a {@link TlsAgent}: the SDK's default `node:https` agent fails under the
 * binary's flags when NODE_EXTRA_CA_CERTS is set.
 *
 * @module
 */
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ListQueuesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import type { Logger } from "../../lib/log/mod.ts";
import { TlsAgent } from "../../lib/net/tls_agent.ts";
import type { Broker } from "./broker.ts";

export const CLIENT_QUEUE_PREFIX = "snowflake-client-";
const CLEANUP_INTERVAL_MS = 30_000;
const CLIENT_QUEUE_MAX_AGE_S = 120;

export interface SqsRendezvousOptions {
  broker: Broker;
  queueName: string;
  region: string;
  /** An SQS-compatible endpoint instead of AWS's (e.g. a local emulator). */
  endpoint?: string;
  log?: Logger;
}

export class SqsRendezvous {
  #client: SQSClient;
  #opts: SqsRendezvousOptions;
  #abort = new AbortController();
  #loops: Promise<void>[] = [];
  #queueUrl = "";

  constructor(opts: SqsRendezvousOptions) {
    this.#opts = opts;
    this.#client = new SQSClient({
      region: opts.region,
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      // The SDK's default agent settings.
      requestHandler: { httpsAgent: new TlsAgent({ keepAlive: true, maxSockets: 50 }) },
    });
  }

  /** Creates the broker's queue (retention 5 min) and starts polling and cleaning up. */
  async start(): Promise<void> {
    const res = await this.#client.send(
      new CreateQueueCommand({
        QueueName: this.#opts.queueName,
        Attributes: { MessageRetentionPeriod: "300" },
      }),
    );
    this.#queueUrl = res.QueueUrl!;
    this.#opts.log?.log(`SQS: polling ${this.#queueUrl}`);
    this.#loops.push(this.#pollLoop(), this.#cleanupLoop());
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await Promise.allSettled(this.#loops);
    this.#client.destroy();
  }

  async #pollLoop(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      let messages: Message[] = [];
      try {
        const res = await this.#client.send(
          new ReceiveMessageCommand({
            QueueUrl: this.#queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 15,
            MessageAttributeNames: ["All"],
          }),
          { abortSignal: signal },
        );
        messages = res.Messages ?? [];
      } catch (e) {
        if (signal.aborted) return;
        this.#opts.log?.log(`SQS: error while polling for messages: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      // Each message is matched concurrently: a client waits up to the client timeout.
      for (const m of messages) this.#handle(m).catch(() => {});
    }
  }

  async #handle(message: Message): Promise<void> {
    const client = this.#client;
    try {
      const clientId = message.MessageAttributes?.ClientID?.StringValue;
      if (!clientId) {
        this.#opts.log?.log("SQS: poll without a ClientID attribute, ignored");
        return;
      }
      const answerQueue = await client.send(
        new CreateQueueCommand({ QueueName: CLIENT_QUEUE_PREFIX + clientId }),
      );
      const reply = await this.#opts.broker.clientPoll(message.Body ?? "", "sqs");
      await client.send(
        new SendMessageCommand({ QueueUrl: answerQueue.QueueUrl!, MessageBody: reply }),
      );
    } catch (e) {
      this.#opts.log?.log(`SQS: error handling a client poll: ${(e as Error).message}`);
    } finally {
      await client.send(
        new DeleteMessageCommand({
          QueueUrl: this.#queueUrl,
          ReceiptHandle: message.ReceiptHandle,
        }),
      ).catch(() => {});
    }
  }

  async #cleanupLoop(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, CLEANUP_INTERVAL_MS);
        signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
      });
      if (signal.aborted) return;
      try {
        await this.cleanupClientQueues();
      } catch (e) {
        this.#opts.log?.log(`SQS: client queue cleanup failed: ${(e as Error).message}`);
      }
    }
  }

  /** Deletes client answer queues last modified more than 2 minutes ago; returns how many. */
  async cleanupClientQueues(nowS = Date.now() / 1000): Promise<number> {
    const urls: string[] = [];
    let NextToken: string | undefined;
    do {
      const res = await this.#client.send(
        new ListQueuesCommand({
          QueueNamePrefix: CLIENT_QUEUE_PREFIX,
          MaxResults: 1000,
          NextToken,
        }),
      );
      urls.push(...(res.QueueUrls ?? []));
      NextToken = res.NextToken;
    } while (NextToken);
    let deleted = 0;
    for (const url of urls) {
      if (!url.includes(CLIENT_QUEUE_PREFIX)) continue;
      try {
        const attrs = await this.#client.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: ["LastModifiedTimestamp"],
          }),
        );
        const modified = Number(attrs.Attributes?.LastModifiedTimestamp);
        if (Number.isFinite(modified) && modified < nowS - CLIENT_QUEUE_MAX_AGE_S) {
          await this.#client.send(new DeleteQueueCommand({ QueueUrl: url }));
          deleted++;
        }
      } catch { /* deleted meanwhile */ }
    }
    return deleted;
  }
}
