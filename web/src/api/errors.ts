// What went wrong, in words a page can show: the problem JSON's detail and the field it names.

/** One entry of the problem JSON's `errors` (a 400 names every field that failed). */
export interface FieldError {
  field: string;
  reason: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;
  /** The first failing field of a 400, when the server named one. */
  readonly field: string | undefined;
  readonly errors: readonly FieldError[];
  readonly requestId: string | undefined;

  constructor(status: number, detail: string, errors: readonly FieldError[] = [], requestId?: string) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.errors = errors;
    this.field = errors[0]?.field;
    this.requestId = requestId;
  }
}

interface Problem {
  status?: unknown;
  detail?: unknown;
  title?: unknown;
  errors?: unknown;
  requestId?: unknown;
}

const FALLBACK: Record<number, string> = {
  401: "Your session has ended. Please sign in again.",
  403: "You are not allowed to do this.",
  404: "This was not found. It may have been removed.",
  409: "Someone changed this at the same time. Reload and try again.",
  413: "This is too large to send.",
  429: "Too many requests. Wait a moment and try again.",
  503: "The service is busy. Try again in a moment.",
};

function fieldErrors(value: unknown): FieldError[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item: unknown) => {
    if (typeof item !== "object" || item === null) return [];
    const { field, reason } = item as Record<string, unknown>;
    return typeof field === "string" && typeof reason === "string" ? [{ field, reason }] : [];
  });
}

/** The ApiError of a failed response, from its RFC 9457 body when it has one. */
export async function apiErrorOf(response: Response): Promise<ApiError> {
  let problem: Problem = {};
  try {
    const body: unknown = await response.json();
    if (typeof body === "object" && body !== null) problem = body as Problem;
  } catch {
    // Not JSON (a proxy's HTML page): the status alone must do.
  }
  const detail =
    typeof problem.detail === "string" && problem.detail !== ""
      ? problem.detail
      : (FALLBACK[response.status] ?? "Something went wrong. Try again, and report it if it persists.");
  const requestId = typeof problem.requestId === "string" ? problem.requestId : undefined;
  return new ApiError(response.status, detail, fieldErrors(problem.errors), requestId);
}

/** A network failure (offline, DNS, CORS) as an ApiError with status 0. */
export function networkError(): ApiError {
  return new ApiError(0, "The server cannot be reached. Check your connection and try again.");
}
