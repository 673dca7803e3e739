import { createApp } from "vue";

import { Api } from "./api";
import { Auth, SILENT_RENEW_PAGE, completeSilentRenew, oidcSettings } from "./auth";
import App from "./App.vue";
import { createAppRouter } from "./router";
import { SHELL, createShell } from "./shell";
import "./style.css";

const appUrl = new URL(import.meta.env.BASE_URL, window.location.origin).href;

async function start(): Promise<void> {
  // /api/config is public: no session yet.
  const config = await new Api({ accessToken: () => null, expired: () => undefined }).config();
  const settings = oidcSettings(config, appUrl);
  if (window.location.href.startsWith(appUrl + SILENT_RENEW_PAGE)) {
    await completeSilentRenew(settings);
    return;
  }
  const auth = new Auth(settings);
  const api = new Api({ accessToken: () => auth.accessToken(), expired: () => void auth.expire() });
  createApp(App).provide(SHELL, createShell(api, auth)).use(createAppRouter()).mount("#app");
}

start().catch((error: unknown) => {
  // No page can be drawn without the configuration: say so in plain words.
  const message = document.createElement("p");
  message.setAttribute("role", "alert");
  message.textContent = `Katta cannot start: ${error instanceof Error ? error.message : String(error)}`;
  document.getElementById("app")?.replaceChildren(message);
});
