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
    const failed = error.errors[0];
    // A 400 names the field and why: "Name: must not be empty." says more than "invalid request".
    return failed === undefined ? sentence(error.detail) : `${FIELD_NAMES[failed.field] ?? failed.field}: ${sentence(failed.reason)}`;
  }
  if (error instanceof FlowError) return error.message;
  if (error instanceof KattaCryptoError) return `The keys do not fit: ${error.message}.`;
  return "Something went wrong. Try again, and report it if it persists.";
}

/** The server's details are lowercase phrases ("you are not a member of this vault"): as a sentence. */
function sentence(detail: string): string {
  const text = detail.charAt(0).toUpperCase() + detail.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** The failing field of an error, so a form can mark that input. */
export function failingField(error: unknown): string | undefined {
  if (error instanceof ApiError || error instanceof FlowError) return error.field;
  return undefined;
}
