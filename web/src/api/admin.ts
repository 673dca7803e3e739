// The admin's calls (role admin; the API answers 403 to anyone else) and the DTOs only they read.
import type { Api } from "./client";
import { ApiError } from "./errors";
import type { AuthorityDto, Instant, SettingsDto, UserDto } from "./types";

export interface GroupDto {
  id: string;
  type: "GROUP";
  name: string;
  pictureUrl?: string;
  memberSize?: number;
  vaultCount?: number;
}

export type StorageProtocol = "S3STATIC" | "S3STS";
export const S3_STORAGE_CLASSES = ["STANDARD", "INTELLIGENT_TIERING", "STANDARD_IA", "ONEZONE_IA",
  "REDUCED_REDUNDANCY", "GLACIER", "GLACIER_IR", "DEEP_ARCHIVE"] as const;

/** StorageProfileS3StaticDto and StorageProfileS3STSDto of the contract (the STS fields only for S3STS). */
export interface StorageProfileDto {
  id: string;
  name: string;
  protocol: StorageProtocol;
  archived?: boolean;
  endpoint?: string | null;
  pathStyleAccessEnabled?: boolean;
  storageClass: (typeof S3_STORAGE_CLASSES)[number];
  region: string;
  regions: string[];
  bucketPrefix: string;
  stsRoleCreateBucketClient?: string;
  stsRoleCreateBucketHub?: string;
  stsEndpoint?: string | null;
  stsRoleAccessBucketAssumeRoleWithWebIdentity?: string;
  stsRoleAccessBucketAssumeRoleTaggedSession?: string | null;
  stsDurationSeconds?: number | null;
  stsSessionTag?: string;
}

/** One audit event: id, timestamp, type and the type's own fields (Katta's *EventDto). */
export interface AuditEventDto {
  id: number;
  timestamp: Instant;
  type: string;
  [field: string]: unknown;
}

export interface AuditQuery {
  startDate: Instant;
  endDate: Instant;
  pageSize: number;
  types: readonly string[];
  /** The previous page's last id (excluded); none for the first page. */
  paginationId?: number;
}

export class AdminApi {
  constructor(private readonly api: Api) {}

  /** Whether the signed-in user holds the admin role, as the API decides it (its roles claim and
   * role map are the server's): the one admin-only route that reads nothing. */
  async isAdmin(): Promise<boolean> {
    try {
      await this.api.call("billing");
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.status === 403) return false;
      throw error;
    }
  }

  putSettings(settings: Partial<SettingsDto>): Promise<void> {
    return this.api.call("putSettings", { body: settings });
  }

  users(): Promise<UserDto[]> {
    return this.api.call("users");
  }

  setUserEnabled(id: string, enabled: boolean): Promise<void> {
    return this.api.call("setUserEnabled", { params: { id }, body: String(enabled) });
  }

  groups(): Promise<GroupDto[]> {
    return this.api.call("groups");
  }

  createGroup(name: string): Promise<GroupDto> {
    return this.api.call("createGroup", { body: { name } });
  }

  renameGroup(groupId: string, name: string): Promise<GroupDto> {
    return this.api.call("renameGroup", { params: { groupId }, body: { name } });
  }

  deleteGroup(groupId: string): Promise<void> {
    return this.api.call("deleteGroup", { params: { groupId } });
  }

  groupMembers(groupId: string): Promise<AuthorityDto[]> {
    return this.api.call("groupMembers", { params: { groupId } });
  }

  addGroupMember(groupId: string, userId: string): Promise<void> {
    return this.api.call("addGroupMember", { params: { groupId, userId } });
  }

  removeGroupMember(groupId: string, userId: string): Promise<void> {
    return this.api.call("removeGroupMember", { params: { groupId, userId } });
  }

  storageProfiles(): Promise<StorageProfileDto[]> {
    return this.api.call("storageProfiles");
  }

  createStorageProfile(profile: Omit<StorageProfileDto, "id" | "archived">): Promise<StorageProfileDto> {
    return this.api.call("createStorageProfile", { body: profile });
  }

  archiveStorageProfile(profileId: string): Promise<void> {
    return this.api.call("archiveStorageProfile", { params: { profileId }, body: { archived: true } });
  }

  auditLog(query: AuditQuery): Promise<AuditEventDto[]> {
    const { types, paginationId, ...rest } = query;
    return this.api.call("auditLog", {
      query: { ...rest, type: types, ...(paginationId === undefined ? {} : { paginationId }) },
    });
  }
}
