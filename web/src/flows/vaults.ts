// Vault flows (as katta_client/vaults.py does on a desktop):
// * create: vault keys and seeds; vault.uvf and uvf/jwks.json with PUT /api/vaults/{id} (the
//   creator becomes OWNER), the owner's own access token, then the bucket: s3-token → STS on the
//   profile's create-bucket role → PUT /api/storage/{id}, where the server writes the template;
// * open: access token → member key (owners: and the recovery key) → vault.uvf;
// * grant: the member key sealed to each waiting member's ECDH key, the recovery key in owners'.
import {
  ApiError,
  assumeRoleWithWebIdentity,
  type Api,
  type AuthorityDto,
  type MemberDto,
  type StorageProfileDto,
  type VaultDto,
  type VaultRole,
} from "../api";
import { DecryptionFailed, VaultKeys, VaultMetadata, b64urlDecode, rootDirectoryTemplate, vaultUvfOrigin } from "../crypto";
import { FlowError, type Progress, type Unlocked } from "./keyring";

export const PROTOCOL_S3STS = "S3STS";

export interface VaultWithRole extends VaultDto {
  role: VaultRole;
}

export interface OpenedVault {
  vault: VaultDto;
  keys: VaultKeys;
  metadata: VaultMetadata;
}

export interface CreatedVault extends OpenedVault {
  /** The recovery private key (base64 PKCS#8): shown to the owner once, never stored by the app. */
  recoveryKey: string;
}

export class VaultFlows {
  constructor(private readonly api: Api, private readonly origin: string = window.location.origin) {}

  /** Every vault the user can reach, with the role they hold in it. */
  async list(): Promise<VaultWithRole[]> {
    const [all, owned] = await Promise.all([this.api.accessibleVaults(), this.api.accessibleVaults("OWNER")]);
    const owner = new Set(owned.map((v) => v.id));
    return all.map((v): VaultWithRole => ({ ...v, role: owner.has(v.id) ? "OWNER" : "MEMBER" }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The profiles a vault can be created on: live S3 STS ones (the browser creates buckets only through STS). */
  async profiles(): Promise<StorageProfileDto[]> {
    return (await this.api.storageProfiles()).filter((p) => p.protocol === PROTOCOL_S3STS && !p.archived);
  }

  async create(unlocked: Unlocked, input: { name: string; description: string; profile: StorageProfileDto; region?: string },
               progress: Progress): Promise<CreatedVault> {
    const name = input.name.trim();
    if (name === "") throw new FlowError("Give the vault a name.", "name");
    const { profile } = input;
    const region = input.region || profile.region || "us-east-1";
    if (profile.regions?.length && !profile.regions.includes(region)) {
      throw new FlowError(`The storage ${profile.name} offers no region ${region}.`, "region");
    }
    progress("Creating the vault's keys…");
    const vaultId = crypto.randomUUID();
    const keys = await VaultKeys.create();
    const metadata = VaultMetadata.create({ provider: profile.id, defaultPath: `${profile.bucketPrefix ?? ""}${vaultId}`,
                                            nickname: name, region });
    const vaultUvf = await keys.encryptMetadata(metadata, vaultUvfOrigin(`${this.origin}/api`, vaultId));
    progress("Storing the vault…");
    await this.api.putVault(vaultId, { name, description: input.description.trim(), uvfMetadataFile: vaultUvf,
                                       uvfKeySet: await keys.jwksJson() });
    try {
      await this.api.grantAccess(vaultId, { [unlocked.user.id]: await keys.encryptForUser(unlocked.keys.ecdhPublicKey, true) });
      progress("Creating the vault's bucket (this can take a moment)…");
      await this.createBucket(vaultId, profile, region, vaultUvf, metadata);
    } catch (error) {
      // As Katta's client does: a vault without its owner's token or its bucket is no vault.
      await this.api.deleteVault(vaultId).catch(() => undefined);
      throw error;
    }
    return { vault: await this.api.vault(vaultId), keys, metadata, recoveryKey: await keys.recoveryKeyText() };
  }

  /** Access token → member key → vault.uvf: the vault as its members see it. */
  async open(unlocked: Unlocked, vaultId: string): Promise<OpenedVault> {
    const vault = await this.api.vault(vaultId);
    let token: string;
    try {
      token = await this.api.accessToken(vaultId, true);
    } catch (error) {
      if (error instanceof ApiError && error.status === 403) {
        throw new FlowError("You have no access to this vault yet: an owner must grant it. Try again once they have.");
      }
      throw error;
    }
    let keys: VaultKeys;
    try {
      keys = await VaultKeys.fromAccessToken(await unlocked.keys.decryptAccessToken(token), vault.uvfKeySet ?? "");
    } catch (error) {
      if (error instanceof DecryptionFailed) {
        throw new FlowError("Your access to this vault does not open with your keys (were they reset?). Ask an owner to grant access again.");
      }
      throw error;
    }
    return { vault, keys, metadata: await keys.decryptMetadata(vault.uvfMetadataFile ?? "") };
  }

  rename(vaultId: string, name: string, description: string): Promise<VaultDto> {
    if (name.trim() === "") throw new FlowError("Give the vault a name.", "name");
    return this.api.putVault(vaultId, { name: name.trim(), description: description.trim() });
  }

  /** The vault template (`<name>.zip`, as Hub offers one): vault.uvf and the root directory's
   * `d/<h[0:2]>/<h[2:]>/dir.uvf`, the layout the server writes into a new bucket. */
  async template(opened: OpenedVault): Promise<Blob> {
    const [{ rootDirHash, dirUvf }, { strToU8, zipSync }] = await Promise.all([
      rootDirectoryTemplate(opened.metadata), import("fflate")]); // loaded only when a template is asked for
    const zip = zipSync({
      "vault.uvf": strToU8(opened.vault.uvfMetadataFile ?? ""),
      [`d/${rootDirHash.slice(0, 2)}/${rootDirHash.slice(2)}/dir.uvf`]: b64urlDecode(dirUvf),
    });
    return new Blob([new Uint8Array(zip)], { type: "application/zip" });
  }

  setArchived(vaultId: string, archived: boolean): Promise<VaultDto> {
    return this.api.setArchived(vaultId, archived);
  }

  members(vaultId: string): Promise<MemberDto[]> {
    return this.api.vaultMembers(vaultId);
  }

  search(query: string): Promise<AuthorityDto[]> {
    return query.trim().length < 2 ? Promise.resolve([]) : this.api.searchAuthorities(query.trim());
  }

  share(vaultId: string, authority: AuthorityDto, role: VaultRole): Promise<void> {
    return this.api.putMember(vaultId, authority, role);
  }

  unshare(vaultId: string, authorityId: string): Promise<void> {
    return this.api.removeMember(vaultId, authorityId);
  }

  waiting(vaultId: string): Promise<MemberDto[]> {
    return this.api.usersRequiringAccessGrant(vaultId);
  }

  /** Grants access to everyone awaiting it: the member key to each, the recovery key in owners' tokens. */
  async grantAll(opened: OpenedVault, progress: Progress): Promise<MemberDto[]> {
    const waiting = await this.waiting(opened.vault.id);
    const tokens: Record<string, string> = {};
    for (const member of waiting) {
      if (!member.ecdhPublicKey) continue;
      progress(`Sealing the vault key for ${member.name}…`);
      tokens[member.id] = await opened.keys.encryptForUser(member.ecdhPublicKey, member.vaultRole === "OWNER" && opened.keys.isOwner);
    }
    if (Object.keys(tokens).length > 0) await this.api.grantAccess(opened.vault.id, tokens);
    return waiting.filter((m) => m.id in tokens);
  }

  /** Waits (long poll) until someone awaits a grant in this vault; false when the wait ran out. */
  async waitForRequests(vaultId: string, signal: AbortSignal): Promise<boolean> {
    const pending = await this.api.pendingGrants(25, signal);
    return (pending[vaultId]?.length ?? 0) > 0;
  }

  private async createBucket(vaultId: string, profile: StorageProfileDto, region: string, vaultUvf: string,
                             metadata: VaultMetadata): Promise<void> {
    if (!profile.stsRoleCreateBucketClient) throw new FlowError(`The storage ${profile.name} names no role to create buckets with.`);
    const { access_token: token } = await this.api.s3Token(vaultId);
    const credentials = await assumeRoleWithWebIdentity(profile, profile.stsRoleCreateBucketClient, token, "katta-create-bucket");
    const template = await rootDirectoryTemplate(metadata);
    await this.api.createStorage(vaultId, {
      vaultId, storageConfigId: profile.id, vaultUvf, ...template, region,
      awsAccessKey: credentials.accessKeyId, awsSecretKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken,
    });
  }
}
