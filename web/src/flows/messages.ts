// What a page says when something failed: the problem JSON's detail (and its field), a flow's own
// words, or the crypto module's; never a bare status code.
import { ApiError } from "../api";
import { KattaCryptoError } from "../crypto";
import { FlowError } from "./keyring";

const FIELD_NAMES: Record<string, string> = {
  name: "Name",
  description: "Description",
  role: "Role",
  query: "Search",
};

export function humanMessage(error: unknown): string {
  if (error instanceof ApiError) {
    const field = error.field === undefined ? "" : ` (${FIELD_NAMES[error.field] ?? error.field})`;
    return error.detail + field;
  }
  if (error instanceof FlowError) return error.message;
  if (error instanceof KattaCryptoError) return `The keys do not fit: ${error.message}.`;
  return "Something went wrong. Try again, and report it if it persists.";
}

/** The failing field of an error, so a form can mark that input. */
export function failingField(error: unknown): string | undefined {
  if (error instanceof ApiError || error instanceof FlowError) return error.field;
  return undefined;
}
