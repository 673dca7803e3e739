// Linking this browser from a device that has the keys (docs/device-linking.md, QR shown by the new
// device, intent 0): the browser opens a rendezvous and shows its QR code; the other device (e.g.
// `katta device link PAYLOAD`) scans it, shows a check code, which the user types here; only then
// does the browser offer its device key, and the other device registers it with the user keys.
import { ApiError, type Api } from "../api";
import {
  ChannelResponder,
  CheckCodeMismatch,
  DEVICE_TYPE_BROWSER,
  QrIntent,
  channelAad,
  qrPayloadBytes,
  qrPayloadText,
  type SecureChannel,
} from "../crypto";
import type { AccountFlows } from "./account";
import { FlowError, type Unlocked } from "./keyring";

const POLL_MS = 1000;
const WAIT_MS = 120_000; // as katta waits for the other device
const USER_CANCELLED = "user_cancelled";
const utf8 = new TextEncoder();

/** Turn-taking over the rendezvous: each write replaces exactly the payload last seen. */
class Mailbox {
  constructor(private readonly api: Api, readonly id: string, private readonly baseUrl: string, private token: string) {}

  aad(): Uint8Array<ArrayBuffer> {
    return channelAad(this.baseUrl, this.id, this.token);
  }

  async write(data: string): Promise<void> {
    this.token = (await rendezvous(() => this.api.writeRendezvous(this.id, this.token, data))).sequence_token;
  }

  /** Waits for the other device's write: its data and the AAD it was sealed with. */
  async read(signal: AbortSignal): Promise<[string, Uint8Array<ArrayBuffer>]> {
    const deadline = Date.now() + WAIT_MS;
    while (!signal.aborted) {
      const state = await rendezvous(() => this.api.readRendezvous(this.id));
      if (state.sequence_token !== this.token) {
        const aad = this.aad();
        this.token = state.sequence_token;
        return [state.data, aad];
      }
      if (Date.now() >= deadline) throw new FlowError("The other device did not answer in time. Show a new code and try again.");
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    throw new FlowError("Linking was cancelled.");
  }

  end(): Promise<void> {
    return this.api.endRendezvous(this.id).catch(() => undefined);
  }
}

async function rendezvous<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) throw new FlowError("This code has expired or was cancelled. Show a new one.");
    if (error instanceof ApiError && error.status === 409) throw new FlowError("Another device used this code. Show a new one.");
    throw error;
  }
}

type Message = Record<string, unknown> & { type: string };

export class BrowserLink {
  private channel: SecureChannel | undefined;

  private constructor(private readonly account: AccountFlows, private readonly userId: string,
                      private readonly mailbox: Mailbox, private readonly responder: ChannelResponder,
                      private readonly baseUrl: string, readonly qrText: string, readonly qrBytes: Uint8Array) {}

  /** A new rendezvous and the QR code to show for it. */
  static async start(api: Api, account: AccountFlows, userId: string, baseUrl: string = window.location.origin): Promise<BrowserLink> {
    const responder = await ChannelResponder.create();
    const created = await api.createRendezvous();
    const qr = { intent: QrIntent.NEW_DEVICE, publicKey: responder.publicKey, rendezvousId: created.id, baseUrl };
    return new BrowserLink(account, userId, new Mailbox(api, created.id, baseUrl, created.sequence_token), responder,
                           baseUrl, qrPayloadText(qr), qrPayloadBytes(qr));
  }

  /** Waits until the other device scanned the code and the secure channel stands. */
  async connect(signal: AbortSignal): Promise<void> {
    const [initiate, initiateAad] = await this.mailbox.read(signal);
    const [channel, ok] = await this.responder.accept(initiate, initiateAad, this.mailbox.aad());
    this.channel = channel;
    await this.mailbox.write(ok);
    const protocols = await this.receive(signal, "m.login.protocols");
    if (protocols.base_url !== this.baseUrl) {
      await this.fail("unexpected_message_received");
      throw new FlowError("The other device is signed in to another server than this one.");
    }
  }

  /** The code the user read on the other device: only a match lets this browser offer its key. */
  async confirm(typed: string, deviceName: string, signal: AbortSignal): Promise<Unlocked> {
    const channel = this.established();
    try {
      channel.verifyCheckCode(typed);
    } catch (error) {
      if (!(error instanceof CheckCodeMismatch)) throw error;
      await this.fail(USER_CANCELLED);
      throw new FlowError("That is not the code the other device shows. Nothing was registered: show a new code and start again.", "checkCode");
    }
    const device = await this.account.newBrowserKey(this.userId);
    await this.send({ type: "device_offer", device_id: await device.deviceId(), device_public_key: await device.encodedPublicKey(),
                      device_name: deviceName.replace(/[*<>"\x00-\x1f\x7f]/g, "").trim() || "Web browser", device_type: DEVICE_TYPE_BROWSER });
    await this.receive(signal, "m.login.success");
    channel.close();
    await this.mailbox.end();
    return this.account.adoptLinked();
  }

  /** The user gave up: tell the other device when the channel stands, and drop the rendezvous. */
  async cancel(): Promise<void> {
    if (this.channel && !this.channel.closed) await this.fail(USER_CANCELLED);
    else await this.mailbox.end();
  }

  private established(): SecureChannel {
    if (this.channel === undefined) throw new FlowError("The other device has not scanned the code yet.");
    return this.channel;
  }

  private async send(message: Message): Promise<void> {
    const aad = this.mailbox.aad();
    await this.mailbox.write(await this.established().seal(utf8.encode(JSON.stringify(message)), aad));
  }

  private async receive(signal: AbortSignal, expected: string): Promise<Message> {
    const [data, aad] = await this.mailbox.read(signal);
    const plaintext = await this.established().open(data, aad);
    let message: unknown;
    try {
      message = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plaintext));
    } catch {
      message = null;
    }
    const type = typeof message === "object" && message !== null ? (message as Message).type : undefined;
    if (type === "m.login.failure" || type === "m.login.declined") {
      this.established().close();
      await this.mailbox.end();
      throw new FlowError(type === "m.login.declined" ? "The other device declined to add this browser."
        : `The other device ended the linking (${String((message as Message).reason)}). Nothing was registered here.`);
    }
    if (type !== expected) {
      await this.fail("unexpected_message_received");
      throw new FlowError("The other device sent something unexpected. Show a new code and try again.");
    }
    return message as Message;
  }

  private async fail(reason: string): Promise<void> {
    try {
      await this.send({ type: "m.login.failure", reason });
    } catch {
      await this.mailbox.end();
    }
    this.channel?.close();
  }
}
