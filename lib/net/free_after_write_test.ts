import { assertEquals, assertRejects } from "../testing/assert.ts";
import { freeAfterWrite } from "./free_after_write.ts";

Deno.test("net: freeAfterWrite frees a whole-buffer chunk once the sink has it, not a view", async () => {
  const seen: number[][] = [];
  const w = freeAfterWrite(new WritableStream({ write: (c) => void seen.push([...c]) }));
  const writer = w.getWriter();
  const whole = new Uint8Array([1, 2, 3]);
  const backing = new Uint8Array([4, 5, 6, 7]);
  const view = backing.subarray(1, 3);
  await writer.write(whole);
  await writer.write(view);
  await writer.close();
  assertEquals(seen, [[1, 2, 3], [5, 6]]);
  assertEquals(whole.buffer.byteLength, 0);
  assertEquals([...backing], [4, 5, 6, 7]);
});

Deno.test("net: freeAfterWrite passes the sink's failure on and keeps the chunk", async () => {
  const w = freeAfterWrite(new WritableStream({ write: () => Promise.reject(new Error("down")) }));
  const chunk = new Uint8Array([1]);
  await assertRejects(() => w.getWriter().write(chunk), Error, "down");
  assertEquals(chunk.byteLength, 1);
});

Deno.test("net: freeAfterWrite errors as soon as the stream behind it fails", async () => {
  let fail!: (e: Error) => void;
  const w = freeAfterWrite(new WritableStream({ start: (c) => void (fail = (e) => c.error(e)) }));
  const piping = new ReadableStream<Uint8Array>().pipeTo(w);
  fail(new Error("relay gone"));
  await assertRejects(() => piping, Error, "relay gone");
});
