import { describe, expect, it } from "vitest";
import { ChannelError, ChannelTampered, CheckCodeMismatch, MessageTooLarge, QrPayloadError } from "./errors";
import {
  ChannelInitiator,
  ChannelResponder,
  MAX_PLAINTEXT,
  QrIntent,
  channelAad,
  parseQrPayloadText,
  qrPayloadText,
} from "./linking";

// docs/device-linking.md §10, the vector katta_client's channel is tested with.
const BASE = "https://katta.example.com";
const RID = "e8da6355-550b-4a32-a193-1619d9830668";
const range = (from: number, to: number) => Uint8Array.from({ length: to - from + 1 }, (_, i) => from + i);
const hex = (text: string) => Uint8Array.from(Buffer.from(text, "hex"));
const G_PUBLIC = hex("07a37cbc142093c8b755dc1b10e86cb426374ad16aa853ed0bdfc0b2b86d1c7c");
const S_PUBLIC = hex("5869aff450549732cbaaed5e5df9b30a6da31cb0e5742bad5ad4a1a768f1a67b");
const aad = (token: string, base = BASE, rid = RID) => channelAad(base, rid, token);
const bytes = (text: string) => new TextEncoder().encode(text);

async function handshake() {
  const g = await ChannelResponder.create();
  const [s, initiate] = await ChannelInitiator.start(g.publicKey, aad("t0"));
  const [gChannel, ok] = await g.accept(initiate, aad("t0"), aad("t1"));
  return { g, gChannel, sChannel: await s.finish(ok, aad("t1")) };
}

describe("device linking: the documented vector", () => {
  it("gives katta's INITIATE, OK, check code and messages, byte for byte", async () => {
    const g = await ChannelResponder.create(range(1, 32), G_PUBLIC);
    expect(Buffer.from(g.publicKey).toString("hex")).toBe(Buffer.from(G_PUBLIC).toString("hex"));
    expect(Buffer.from(aad("t0")).toString("hex")).toBe(`0019${Buffer.from(BASE).toString("hex")}0024${
      Buffer.from(RID).toString("hex")}0002${Buffer.from("t0").toString("hex")}`);
    const [s, initiate] = await ChannelInitiator.start(g.publicKey, aad("t0"), { privateKey: range(33, 64), publicKey: S_PUBLIC });
    expect(initiate).toBe("WGmv9FBUlzLLqu1eXfmzCm2jHLDldCutWtShp2jxpnsABjoRZAW7QEQZ8qnzs5iJztu6HROOR27nHCSc+HxzeAIjOg");
    const [gChannel, ok] = await g.accept(initiate, aad("t0"), aad("t1"), range(65, 96));
    expect(ok).toBe("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpbXF1eX2CV6HyUZBlZiozIk0kWISEERdgYctytCgpk5I3lBg");
    const sChannel = await s.finish(ok, aad("t1"));
    expect(sChannel.checkCode).toBe("72");
    gChannel.verifyCheckCode(" 72\n");
    const success = bytes('{"type":"m.login.success"}');
    expect(await sChannel.seal(success, aad("t2"))).toBe("B7Y/ookbG5f8MgwvsK3EvtdJF9xyE800oMRD5g3KAi02bssqaMqwKlBb");
    expect(await gChannel.seal(success, aad("t3"))).toBe("OanK4ZiUWR3RZSHOL6yN6vAGlGiFafnfkHIoiP3TVY12+Hxru+4TT1bM");
  });

  it("writes and reads katta's QR payload text", () => {
    const text = "S0FUVEFfTElOSwEBB6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9_AsrhtHHwAJGU4ZGE2MzU1LTU1MGItNGEzMi1hMTkzLTE2MTlkOTgzMDY2OAAZaHR0cHM6Ly9rYXR0YS5leGFtcGxlLmNvbQ";
    const payload = parseQrPayloadText(`  ${text}\n`);
    expect(payload).toMatchObject({ intent: QrIntent.EXISTING_DEVICE, rendezvousId: RID, baseUrl: BASE });
    expect(qrPayloadText(payload)).toBe(text);
    expect(parseQrPayloadText(qrPayloadText({ ...payload, intent: QrIntent.NEW_DEVICE })).intent).toBe(QrIntent.NEW_DEVICE);
  });
});

describe("device linking: refusals", () => {
  it("refuses QR payloads that are not Katta's or not canonical", () => {
    const good = { intent: QrIntent.NEW_DEVICE, publicKey: G_PUBLIC, rendezvousId: RID, baseUrl: BASE };
    const raw = Buffer.from(qrPayloadText(good), "base64url");
    const variants = [
      Buffer.concat([raw, Buffer.of(0)]), // trailing byte
      Buffer.concat([Buffer.from("MATRIX_QR!"), raw.subarray(10)]),
      Buffer.concat([raw.subarray(0, 10), Buffer.of(2), raw.subarray(11)]), // version
      Buffer.concat([raw.subarray(0, 11), Buffer.of(7), raw.subarray(12)]), // intent
      raw.subarray(0, 50),
    ];
    for (const variant of variants) expect(() => parseQrPayloadText(variant.toString("base64url"))).toThrow(QrPayloadError);
    expect(() => parseQrPayloadText(`${qrPayloadText(good)}=`)).toThrow(QrPayloadError);
    for (const baseUrl of ["ftp://x.example", "https://x.example/?a=1", "https://x.example/#f", "/relative"]) {
      expect(() => qrPayloadText({ ...good, baseUrl })).toThrow(QrPayloadError);
    }
    expect(() => qrPayloadText({ ...good, rendezvousId: "a b" })).toThrow(QrPayloadError);
  });

  it("binds INITIATE and OK to base URL, rendezvous id and token", async () => {
    for (const wrong of [aad("t1"), aad("t0", "https://evil.example"), aad("t0", BASE, "other")]) {
      const g = await ChannelResponder.create();
      const [, initiate] = await ChannelInitiator.start(g.publicKey, aad("t0"));
      await expect(g.accept(initiate, wrong, aad("t1"))).rejects.toBeInstanceOf(ChannelTampered);
    }
    const g = await ChannelResponder.create();
    const [s, initiate] = await ChannelInitiator.start(g.publicKey, aad("t0"));
    const [, ok] = await g.accept(initiate, aad("t0"), aad("t1"));
    await expect(s.finish(ok, aad("t0"))).rejects.toBeInstanceOf(ChannelTampered);
  });

  it("answers one INITIATE only, and a shoulder-surfer's OK does not establish the real scanner", async () => {
    const g = await ChannelResponder.create();
    const [real] = await ChannelInitiator.start(g.publicKey, aad("t0"));
    const [, surfer] = await ChannelInitiator.start(g.publicKey, aad("t0"));
    const [, ok] = await g.accept(surfer, aad("t0"), aad("t1"));
    await expect(g.accept(surfer, aad("t0"), aad("t1"))).rejects.toBeInstanceOf(ChannelError);
    await expect(real.finish(ok, aad("t1"))).rejects.toBeInstanceOf(ChannelTampered);
  });

  it("refuses a wrong check code, and G never shows its own", async () => {
    const { gChannel, sChannel } = await handshake();
    const wrong = String(((Number(sChannel.checkCode) - 10 + 1) % 90) + 10);
    for (const typed of [wrong, "", "1", `${sChannel.checkCode}0`]) {
      expect(() => gChannel.verifyCheckCode(typed)).toThrow(CheckCodeMismatch);
    }
    expect(() => gChannel.checkCode).toThrow(ChannelError);
  });

  it("refuses replayed, reordered, re-bound and non-canonical messages, then stays closed", async () => {
    const { gChannel, sChannel } = await handshake();
    const first = await sChannel.seal(bytes("one"), aad("t2"));
    const second = await sChannel.seal(bytes("two"), aad("t3"));
    expect(new TextDecoder().decode(await gChannel.open(first, aad("t2")))).toBe("one");
    await expect(gChannel.open(first, aad("t3"))).rejects.toBeInstanceOf(ChannelTampered);
    await expect(gChannel.open(second, aad("t3"))).rejects.toBeInstanceOf(ChannelError); // closed for good
    const other = await handshake();
    const reply = await other.gChannel.seal(bytes("x"), aad("t2"));
    await expect(other.sChannel.open(`${reply}=`, aad("t2"))).rejects.toBeInstanceOf(ChannelTampered);
  });

  it("refuses a message too large before spending a sequence number", async () => {
    const { gChannel, sChannel } = await handshake();
    await expect(sChannel.seal(new Uint8Array(MAX_PLAINTEXT + 1), aad("t2"))).rejects.toBeInstanceOf(MessageTooLarge);
    const fits = await sChannel.seal(new Uint8Array(MAX_PLAINTEXT), aad("t2"));
    expect(fits.length).toBeLessThanOrEqual(4096);
    expect((await gChannel.open(fits, aad("t2"))).length).toBe(MAX_PLAINTEXT);
  });

  it("refuses a low-order point as G's key", async () => {
    await expect(ChannelInitiator.start(new Uint8Array(32), aad("t0"))).rejects.toBeInstanceOf(ChannelError);
  });
});
