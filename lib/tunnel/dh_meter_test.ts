import { assertEquals } from "../testing/assert.ts";
import { TunnelDhMeter } from "./dh_meter.ts";
import { generateTunnelPrivateKey, TunnelKeyPair, tunnelPublicKey } from "./keys.ts";

Deno.test("handshake: the DH meter counts DH done outside a verified packet as dhUnverified", () => {
  const counters = { dhOperations: 0, dhUnverified: 0 };
  const meter = new TunnelDhMeter(counters);
  const a = meter.pair(generateTunnelPrivateKey());
  const b = TunnelKeyPair.generate();
  const shared = a.dh(b.publicKey);
  assertEquals(shared, b.dh(a.publicKey), "a metered pair computes the same DH");
  assertEquals(counters, { dhOperations: 1, dhUnverified: 1 });
  meter.verified(() => {
    a.dh(tunnelPublicKey(generateTunnelPrivateKey()));
    a.dh(b.publicKey);
  });
  assertEquals(counters, { dhOperations: 3, dhUnverified: 1 });
  // Leaving the verified scope (even by a throw) makes later DH unverified again.
  try {
    meter.verified(() => {
      throw new Error("bad packet");
    });
  } catch { /* expected */ }
  a.dh(b.publicKey);
  assertEquals(counters, { dhOperations: 4, dhUnverified: 2 });
});
