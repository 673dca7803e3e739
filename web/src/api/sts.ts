// STS AssumeRoleWithWebIdentity from the browser, as Katta's web client does for a new vault's
// bucket: unsigned (the web-identity token is the proof), at the storage profile's STS endpoint.
// The only call of the app to another origin; the CSP's connect-src names the profiles' endpoints.
import { ApiError, networkError } from "./errors";

export interface TemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

const STS_VERSION = "2011-06-15";

/** The STS endpoint of a profile: its own, else AWS's regional one. */
export function stsEndpoint(profile: { stsEndpoint?: string | null; region?: string }): string {
  return profile.stsEndpoint || `https://sts.${profile.region || "us-east-1"}.amazonaws.com`;
}

export async function assumeRoleWithWebIdentity(
  profile: { stsEndpoint?: string | null; region?: string; stsDurationSeconds?: number | null },
  roleArn: string,
  webIdentityToken: string,
  sessionName: string,
): Promise<TemporaryCredentials> {
  const form = new URLSearchParams({
    Action: "AssumeRoleWithWebIdentity", Version: STS_VERSION, RoleArn: roleArn,
    RoleSessionName: sessionName, WebIdentityToken: webIdentityToken,
  });
  if (profile.stsDurationSeconds) form.set("DurationSeconds", String(profile.stsDurationSeconds));
  let response: Response;
  try {
    response = await fetch(stsEndpoint(profile), { method: "POST", body: form, credentials: "omit" });
  } catch {
    throw networkError();
  }
  const xml = new DOMParser().parseFromString(await response.text(), "application/xml");
  const text = (name: string) => xml.getElementsByTagName(name)[0]?.textContent ?? "";
  if (!response.ok) {
    const message = text("Message") || text("Code") || `status ${response.status}`;
    throw new ApiError(response.status, `The storage refused the vault's credentials: ${message}`);
  }
  const credentials = { accessKeyId: text("AccessKeyId"), secretAccessKey: text("SecretAccessKey"), sessionToken: text("SessionToken") };
  if (!credentials.accessKeyId || !credentials.secretAccessKey || !credentials.sessionToken) {
    throw new ApiError(502, "The storage answered without credentials.");
  }
  return credentials;
}
