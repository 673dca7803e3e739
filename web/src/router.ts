// The app's pages. Each path is a page the server answers with index.html (chalicelib/webapp:
// /app/<page> and /app/<page>/<item>), so a reload or a shared link lands on the same page.
import { createRouter, createWebHistory, type RouteRecordRaw } from "vue-router";

import { CALLBACK_PAGE } from "./auth";
import CallbackPage from "./pages/CallbackPage.vue";
import HomePage from "./pages/HomePage.vue";
import NotFoundPage from "./pages/NotFoundPage.vue";

declare module "vue-router" {
  interface RouteMeta {
    /** The page's title, for the document title and for screen readers after navigation. */
    title: string;
  }
}

export const routes: RouteRecordRaw[] = [
  { path: "/", name: "home", component: HomePage, meta: { title: "Katta" } },
  { path: `/${CALLBACK_PAGE}`, name: "callback", component: CallbackPage, meta: { title: "Signing in…" } },
  { path: "/:unknown(.*)*", name: "not-found", component: NotFoundPage, meta: { title: "Page not found" } },
];

export function createAppRouter() {
  const router = createRouter({ history: createWebHistory(import.meta.env.BASE_URL), routes });
  router.afterEach((to, from) => {
    document.title = to.meta.title === "Katta" ? "Katta" : `${to.meta.title} · Katta`;
    // A new page is announced by moving focus to its content, as a page load would; not on the first.
    if (from.matched.length > 0) requestAnimationFrame(() => document.getElementById("main")?.focus());
  });
  return router;
}
