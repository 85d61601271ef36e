import { assertEquals, assertThrows } from "../testing/assert.ts";
import { type CertInfo, coversHostnames, readCertInfo, renewAt } from "./cert_info.ts";

const DAY = 24 * 3600_000;
const info = (lifetimeMs: number): CertInfo => ({
  notBefore: 0,
  notAfter: lifetimeMs,
  dnsNames: ["a.example", "b.example"],
  serialNumber: "01",
});

Deno.test("acme: renewal is due 30 days before expiry, or at 2/3 of a short lifetime", () => {
  assertEquals(renewAt(info(90 * DAY)), 60 * DAY);
  assertEquals(renewAt(info(9_000)), 6_000);
  assertEquals(renewAt(info(90 * DAY), 10 * DAY), 80 * DAY);
  // renewBeforeMs longer than the lifetime: not before a third of it has passed.
  assertEquals(renewAt(info(9_000), 60_000), 3_000);
});

Deno.test("acme: hostnames must all be covered, case-insensitively", () => {
  assertEquals(coversHostnames(info(1), ["A.example"]), true);
  assertEquals(coversHostnames(info(1), ["a.example", "c.example"]), false);
});

Deno.test("acme: readCertInfo rejects text without a certificate", () => {
  assertThrows(() => readCertInfo("-----BEGIN PRIVATE KEY-----\n"), SyntaxError);
});
