// What the pages call: each flow joins the API module and the crypto module, so pages hold
// neither crypto nor fetch calls of their own (DESIGN §15).
import type { Api } from "../api";
import { AccountFlows } from "./account";
import { TrustFlows } from "./trust";
import { VaultFlows } from "./vaults";

export { AccountFlows, defaultDeviceName, type AccountDraft, type AccountState } from "./account";
export { BrowserLink } from "./linking";
export { FlowError, keyring, lock, unlocked, type Progress, type Unlocked } from "./keyring";
export { failingField, humanMessage } from "./messages";
export { TrustFlows, type MemberTrust } from "./trust";
export { VaultFlows, type CreatedVault, type OpenedVault, type VaultWithRole } from "./vaults";

export interface Flows {
  account: AccountFlows;
  vaults: VaultFlows;
  trust: TrustFlows;
}

export function createFlows(api: Api): Flows {
  return { account: new AccountFlows(api), vaults: new VaultFlows(api), trust: new TrustFlows(api) };
}
