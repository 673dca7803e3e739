// What the admin and emergency pages share: load once signed in, run an action, show what the API
import "./admin.css";
// said (its problem JSON's detail; a 403 for a caller without the role), focus the field it names.
import { inject, nextTick, onMounted, ref, watch } from "vue";

import { ApiError } from "../../api";
import { SHELL } from "../../shell";

/** The id of the input of a DTO field, so that a 400 naming the field can focus it. */
export function fieldId(field: string): string {
  return `field-${field}`;
}

function asApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  // The crypto module's errors (a wrong account key, a tampered share) say what went wrong.
  return new ApiError(0, error instanceof Error ? error.message : String(error));
}

export function usePage(load: () => Promise<void>) {
  const shell = inject(SHELL)!;
  const failure = ref<ApiError | null>(null);
  /** The last success, announced politely. */
  const status = ref("");
  const busy = ref(false);

  async function run(action: () => Promise<void>, done = ""): Promise<boolean> {
    busy.value = true;
    failure.value = null;
    status.value = "";
    try {
      await action();
      status.value = done;
      return true;
    } catch (error) {
      const refused = asApiError(error);
      failure.value = refused;
      // A field inside a union is named by its path (`S3STS.bucketPrefix`): its input is the last segment's.
      // A rule across fields names the field only in its detail, which starts "field: …".
      const named = refused.field ?? /^([\w.]+): /.exec(refused.detail)?.[1];
      const input = named === undefined ? null : document.getElementById(fieldId(named.split(".").pop() as string));
      if (input !== null && named !== undefined) {
        // The person reads the field's label where the API wrote its DTO name.
        const label = document.querySelector(`label[for="${input.id}"]`)?.textContent?.trim();
        if (label && refused.detail.startsWith(`${named}: `)) {
          failure.value = new ApiError(refused.status, `${label}: ${refused.detail.slice(named.length + 2)}`,
            refused.errors, refused.requestId);
        }
        await nextTick(() => input.focus());
      }
      return false;
    } finally {
      busy.value = false;
    }
  }

  // Once mounted, so that load may use what the page's setup makes after calling this.
  onMounted(() => {
    if (shell.session.state === "signed-in") void run(load);
  });
  watch(() => shell.session.state, (state) => {
    if (state === "signed-in") void run(load);
  });

  return { shell, failure, status, busy, run };
}
