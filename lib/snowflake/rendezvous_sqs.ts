/**
 * SQS rendezvous (docs/PROTOCOL.md §7): the poll is sent to the broker's queue with a fresh
 * `ClientID` message attribute (hex of 8 random bytes per attempt); the broker answers in
 * queue `snowflake-client-<ClientID>`, which this polls. Credentials come as `sqscreds`,
 * base64 of `{"aws-access-key-id":…,"aws-secret-key":…}`; the region is taken from the
 * queue URL's host (`sqs.<region>.amazonaws.com`), as in Go; other hosts (an SQS-compatible
 * endpoint such as fauxqs in the tests) are used as the endpoint with region us-east-1.
 * HTTPS goes over a {@link TlsAgent}: the SDK's default `node:https` agent fails under the
 * binary's flags when NODE_EXTRA_CA_CERTS is set.
 *
 * @module
 */
import type { SQSClient, SQSClientConfig } from "@aws-sdk/client-sqs";
import type { RendezvousMethod } from "./rendezvous.ts";
import { TlsAgent } from "../net/tls_agent.ts";

type Sdk = typeof import("@aws-sdk/client-sqs");
let sdk: Promise<Sdk> | undefined;
/** The AWS SDK, loaded on first use: it adds ~10–20 MB of RSS (docs/client.md "Memory"). */
function loadSdk(): Promise<Sdk> {
  sdk ??= import("@aws-sdk/client-sqs");
  return sdk;
}

// Go client timing.
/** Wait before looking up the answer queue, and between lookups. */
const QUEUE_WAIT_MS = 1000;
const RETRIES = 5;
/** ReceiveMessage long-poll. */
const WAIT_TIME_S = 20;

/** Decodes `sqscreds`; SyntaxError naming what is wrong. */
export function parseSqsCreds(s: string): { accessKeyId: string; secretAccessKey: string } {
  let obj: Record<string, unknown>;
  try {
    obj = JSON.parse(new TextDecoder().decode(Uint8Array.fromBase64(s.trim())));
  } catch {
    throw new SyntaxError("sqscreds is not base64 of a JSON object");
  }
  const id = obj["aws-access-key-id"];
  const key = obj["aws-secret-key"];
  if (typeof id !== "string" || typeof key !== "string" || !id || !key) {
    throw new SyntaxError("sqscreds lacks aws-access-key-id or aws-secret-key");
  }
  return { accessKeyId: id, secretAccessKey: key };
}

/** Options for {@link SqsRendezvous}. */
export interface SqsRendezvousOptions {
  log?: (message: string) => void;
  /** Override the wait between answer-queue lookups (tests). */
  queueWaitMs?: number;
}

/** Rendezvous through an Amazon SQS queue. */
export class SqsRendezvous implements RendezvousMethod {
  readonly name = "sqs";
  readonly #clientConfig: SQSClientConfig;
  #client: SQSClient | undefined;
  readonly #queueUrl: string;
  /** The endpoint of a non-AWS queue URL: answer-queue URLs are moved onto it. */
  readonly #endpoint: string | null;
  readonly #options: SqsRendezvousOptions;

  constructor(queueUrl: string, creds: string, options: SqsRendezvousOptions = {}) {
    const url = new URL(queueUrl);
    const aws = /^sqs\.([\w-]+)\.amazonaws\.com$/.exec(url.hostname);
    this.#clientConfig = {
      region: aws?.[1] ?? "us-east-1",
      credentials: parseSqsCreds(creds),
      // The SDK's default agent settings.
      requestHandler: { httpsAgent: new TlsAgent({ keepAlive: true, maxSockets: 50 }) },
      ...(aws ? {} : { endpoint: url.origin, useQueueUrlAsEndpoint: false }),
    };
    this.#queueUrl = queueUrl;
    this.#endpoint = aws ? null : url.origin;
    this.#options = options;
  }

  async exchange(request: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    const log = this.#options.log ?? (() => {});
    const wait = this.#options.queueWaitMs ?? QUEUE_WAIT_MS;
    const id = Array.from(
      crypto.getRandomValues(new Uint8Array(8)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    const { GetQueueUrlCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } =
      await loadSdk();
    const client = (this.#client ??= new SQSClient(this.#clientConfig));
    await client.send(
      new SendMessageCommand({
        QueueUrl: this.#queueUrl,
        MessageBody: new TextDecoder().decode(request),
        MessageAttributes: { ClientID: { DataType: "String", StringValue: id } },
      }),
      { abortSignal: signal },
    );
    let answerQueue: string | undefined;
    let lastError: unknown;
    for (let i = 0; i < RETRIES && !answerQueue; i++) {
      await sleep(wait, signal);
      try {
        const r = await client.send(
          new GetQueueUrlCommand({ QueueName: `snowflake-client-${id}` }),
          { abortSignal: signal },
        );
        answerQueue = r.QueueUrl && this.#endpoint
          ? this.#endpoint + new URL(r.QueueUrl.replace(/^(\w+:\/\/)[^/]*/, "$1x")).pathname
          : r.QueueUrl;
      } catch (e) {
        lastError = e;
        log(`SQS: answer queue not there yet (attempt ${i + 1} of ${RETRIES})`);
      }
    }
    if (!answerQueue) throw lastError ?? new Error("SQS: no answer queue");
    for (let i = 0; i < RETRIES; i++) {
      const r = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: answerQueue,
          MaxNumberOfMessages: 1,
          WaitTimeSeconds: WAIT_TIME_S,
        }),
        { abortSignal: signal },
      );
      const body = r.Messages?.[0]?.Body;
      if (body !== undefined) return new TextEncoder().encode(body);
      log(`SQS: no answer yet (attempt ${i + 1} of ${RETRIES})`);
    }
    throw new Error("SQS: no answer from the broker");
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}
