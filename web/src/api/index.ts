export { Api, type Session } from "./client";
export { ApiError, type FieldError } from "./errors";
export { OPERATIONS, pathOf, type Operation, type OperationName } from "./operations";
export type * from "./types";
export { AdminApi, S3_STORAGE_CLASSES, type AuditEventDto, type AuditQuery, type GroupDto, type StorageProfileDto, type StorageProtocol } from "./admin";
export { EmergencyApi, type RecoveredKeyShareDto, type RecoveryProcessDto, type RecoveryType } from "./emergency";
export { assumeRoleWithWebIdentity, type TemporaryCredentials } from "./sts";
