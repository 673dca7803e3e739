// One slow step of a page: its progress line while it runs, its human message when it fails.
import { ref } from "vue";

import { failingField, humanMessage, type Progress } from "../../flows";

export function useTask() {
  const busy = ref(false);
  const step = ref("");
  const error = ref<string | null>(null);
  const field = ref<string | undefined>(undefined);

  async function run<T>(action: (progress: Progress) => Promise<T>): Promise<T | undefined> {
    busy.value = true;
    error.value = null;
    field.value = undefined;
    step.value = "Working…";
    try {
      return await action((next) => (step.value = next));
    } catch (failure) {
      error.value = humanMessage(failure);
      field.value = failingField(failure);
      return undefined;
    } finally {
      busy.value = false;
      step.value = "";
    }
  }

  return { busy, step, error, field, run };
}

/** Offers text or bytes as a file to save (the account key, a recovery key, a vault template). */
export function download(fileName: string, content: string | Blob, type = "text/plain"): void {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}
