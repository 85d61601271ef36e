import { assert, assertEquals, assertThrows } from "../lib/testing/assert.ts";
import { ConfigError, loadConfig, parseClientConfig, parseServerConfig } from "./config.ts";

const K1 = btoa(String.fromCharCode(...new Uint8Array(32).fill(1)));
const K2 = btoa(String.fromCharCode(...new Uint8Array(32).fill(2)));
const K3 = btoa(String.fromCharCode(...new Uint8Array(32).fill(3)));

const SERVER = `
listen_port: 51820
private_key: ${K1}
tunnel_ip: 10.8.0.1/24
peers:
  - name: a
    public_key: ${K2}
    tunnel_ip: 10.8.0.2
  - name: b
    public_key: ${K3}
    tunnel_ip: 10.8.0.3
`;

function serverError(text: string): string {
  const e = assertThrows(() => parseServerConfig(text, "/etc/server.yaml"), ConfigError);
  return (e as Error).message;
}

Deno.test("tunnel:config: a valid server.yaml gives defaults and decoded keys", () => {
  const c = parseServerConfig(SERVER, "/etc/server.yaml");
  assertEquals(c.listenAddress, "0.0.0.0");
  assertEquals(c.listenPort, 51820);
  assertEquals(c.mtu, 1420);
  assertEquals(c.replayWindow, 8128);
  assertEquals(c.peers.map((p) => p.tunnelIp), ["10.8.0.2", "10.8.0.3"]);
  assertEquals(c.peers[1]!.publicKey[0], 3);
  assertEquals(c.privateKey.length, 32);
});

Deno.test("tunnel:config: errors name the file, the field and the problem", () => {
  assertEquals(
    serverError(SERVER.replace("10.8.0.3", "10.0.0.300")),
    'server.yaml: peers[1].tunnel_ip: "10.0.0.300" is not an IPv4 address',
  );
  assertEquals(
    serverError(SERVER.replace("51820", '"x"')),
    'server.yaml: listen_port: "x" is not an integer',
  );
  assertEquals(
    serverError(SERVER.replace("10.8.0.3", "10.9.0.3")),
    'server.yaml: peers[1].tunnel_ip: "10.9.0.3" is outside the server\'s tunnel_ip 10.8.0.1/24',
  );
  assertEquals(
    serverError(SERVER.replace(K3, "abc")),
    'server.yaml: peers[1].public_key: is not a base64 X25519 key (44 characters ending in "=")',
  );
  assertEquals(
    serverError(SERVER + "mtu: 70000\n"),
    "server.yaml: mtu: 70000 is out of range (576 to 65535)",
  );
  assertEquals(
    serverError(SERVER.replace(K3, K2)),
    "server.yaml: peers[1].public_key: same key as peers[0]",
  );
  assert(
    serverError(SERVER + "listen_prot: 1\n").startsWith("server.yaml: listen_prot: unknown field"),
  );
  assertEquals(
    serverError(SERVER.replace("tunnel_ip: 10.8.0.1/24", "tunnel_ip: 10.8.0.1")),
    'server.yaml: tunnel_ip: "10.8.0.1" needs a prefix length, e.g. 10.8.0.1/24',
  );
  assertEquals(
    serverError(SERVER + "status: 127.0.0.1:9\n"),
    'server.yaml: status: "127.0.0.1:9" is not a socket path; a TCP port would let every local ' +
      "user read the status, so it must be a unix socket path (created 0600), e.g. /run/pytunnel.sock",
  );
  assert(serverError("peers: [\n").startsWith("server.yaml: line "));
  assertEquals(serverError("- 1\n"), "server.yaml: must be a mapping of fields, got object");
});

Deno.test("tunnel:config: key files must be readable only by their owner", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pyt-config-" });
  try {
    const path = `${dir}/server.key`;
    await Deno.writeTextFile(path, K1 + "\n", { mode: 0o600 });
    await Deno.chmod(path, 0o600);
    const text = SERVER.replace(`private_key: ${K1}`, "private_key_file: server.key");
    assertEquals(parseServerConfig(text, `${dir}/server.yaml`).privateKey[0], 1);
    await Deno.chmod(path, 0o644);
    const e = assertThrows(() => parseServerConfig(text, `${dir}/server.yaml`), ConfigError);
    assertEquals(
      (e as Error).message.replaceAll(dir, "DIR"),
      'server.yaml: private_key_file: "DIR/server.key" is readable by group or others (mode 0644); run: chmod 600 DIR/server.key',
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tunnel:status-auth: no error message echoes a key", () => {
  // A private key file given as the config (`pytunnel check -c server.key`).
  const e = serverError(K1 + "\n");
  assertEquals(e, "server.yaml: must be a mapping of fields, got a string of 44 characters");
  for (const text of [`${K1}: 1\n`, `peers: [ ${K1}\n`, SERVER + `${K2}: x\n`]) {
    const msg = serverError(text);
    assert(!msg.includes(K1) && !msg.includes(K2), msg);
  }
});

Deno.test("tunnel:status-auth: a config with an inline private_key must be 0600", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pyt-config-" });
  try {
    const path = `${dir}/server.yaml`;
    await Deno.writeTextFile(path, SERVER);
    await Deno.chmod(path, 0o644);
    const e = assertThrows(() => loadConfig(path, parseServerConfig), ConfigError);
    assertEquals(
      (e as Error).message.replaceAll(dir, "DIR"),
      "server.yaml: private_key: the file holds a private key but is readable by group or others " +
        "(mode 0644); run: chmod 600 DIR/server.yaml (or move the key to private_key_file)",
    );
    await Deno.chmod(path, 0o600);
    assertEquals(loadConfig(path, parseServerConfig).privateKey[0], 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: a client config given to the server (and the reverse) says what it is", () => {
  const client = `server: 192.168.7.1:51820\nserver_public_key: ${K1}\nprivate_key: ${K2}\n` +
    `tunnel_ip: 10.8.0.2/24\n`;
  assertEquals(
    serverError(client),
    "server.yaml: this is a client config (it has `server:`): run it with `pytunnel client -c`",
  );
  const e = assertThrows(() => parseClientConfig(SERVER, "server.yaml"), ConfigError);
  assertEquals(
    (e as Error).message,
    "server.yaml: this is a server config (it has `peers:`): run it with `pytunnel server -c`",
  );
});

Deno.test("tunnel:config: client.yaml is validated the same way", () => {
  const text = `
server: 192.168.7.1:51820
server_public_key: ${K1}
private_key: ${K2}
tunnel_ip: 10.8.0.2/24
keepalive: 5
`;
  const c = parseClientConfig(text, "client.yaml");
  assertEquals([c.serverHost, c.serverPort, c.keepalive, c.mtu], ["192.168.7.1", 51820, 5, 1420]);
  const e = assertThrows(
    () => parseClientConfig(text.replace("192.168.7.1", "192.168.7.256"), "client.yaml"),
    ConfigError,
  );
  assertEquals((e as Error).message, 'client.yaml: server: "192.168.7.256" is not an IPv4 address');
  const e2 = assertThrows(
    () => parseClientConfig(text.replace("keepalive: 5", "keepalive: -1"), "client.yaml"),
    ConfigError,
  );
  assertEquals((e2 as Error).message, "client.yaml: keepalive: -1 is out of range (0 to 3600)");
});

Deno.test("tunnel:ipv6: tunnel_ip6 and IPv6 endpoints in configs are validated", () => {
  const v6 = SERVER.replace(
    "tunnel_ip: 10.8.0.1/24",
    "tunnel_ip: 10.8.0.1/24\ntunnel_ip6: fd08::1/64",
  )
    .replace("tunnel_ip: 10.8.0.2", "tunnel_ip: 10.8.0.2\n    tunnel_ip6: fd08::2");
  const c = parseServerConfig(v6 + `listen_address: "::"\n`, "/etc/server.yaml");
  assertEquals([c.tunnelIp6, c.peers[0]!.tunnelIp6, c.listenAddress], [
    "fd08::1/64",
    "fd08::2",
    "::",
  ]);
  assertEquals(
    serverError(v6.replace("tunnel_ip6: fd08::2", "tunnel_ip6: fd09::2")),
    'server.yaml: peers[0].tunnel_ip6: "fd09::2" is outside the server\'s tunnel_ip6 fd08::1/64',
  );
  assertEquals(
    serverError(
      SERVER.replace("tunnel_ip: 10.8.0.2", "tunnel_ip: 10.8.0.2\n    tunnel_ip6: fd08::2"),
    ),
    "server.yaml: peers[0].tunnel_ip6: the server has no tunnel_ip6",
  );
  assertEquals(
    serverError(v6.replace("fd08::1/64", "fd08::1")),
    'server.yaml: tunnel_ip6: "fd08::1" needs a prefix length, e.g. fd08::1/64',
  );
  const client = `server: "[fd31::1]:51820"\nserver_public_key: ${K1}\nprivate_key: ${K2}\n` +
    `tunnel_ip: 10.8.0.2/24\ntunnel_ip6: fd08::2/64\n`;
  const cc = parseClientConfig(client, "client.yaml");
  assertEquals([cc.serverHost, cc.serverPort, cc.tunnelIp6], ["fd31::1", 51820, "fd08::2/64"]);
  const e = assertThrows(
    () => parseClientConfig(client.replace("fd31::1", "fd31::g"), "client.yaml"),
    ConfigError,
  );
  assertEquals((e as Error).message, 'client.yaml: server: "fd31::g" is not an IPv6 address');
});
