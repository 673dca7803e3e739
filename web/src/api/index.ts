export { Api, type Session } from "./client";
export { ApiError, type FieldError } from "./errors";
export { OPERATIONS, pathOf, type Operation, type OperationName } from "./operations";
export type * from "./types";
export { assumeRoleWithWebIdentity, type TemporaryCredentials } from "./sts";
