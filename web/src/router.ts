// The app's pages. Each path is a page the server answers with index.html (chalicelib/webapp:
// /app/<page> and /app/<page>/<item>), so a reload or a shared link lands on the same page.
import { createRouter, createWebHistory, type RouteRecordRaw } from "vue-router";

import { CALLBACK_PAGE } from "./auth";
import CallbackPage from "./pages/CallbackPage.vue";
import HomePage from "./pages/HomePage.vue";
import NotFoundPage from "./pages/NotFoundPage.vue";
import { keyring } from "./flows";

declare module "vue-router" {
  interface RouteMeta {
    /** The page's title, for the document title and for screen readers after navigation. */
    title: string;
    /** The page needs the user's unlocked keys: without them the start page unlocks them first. */
    needsKeys?: true;
  }
}

// The user's pages (keys, vaults, sharing, devices, account); loaded when first visited, so the
// first page's JavaScript stays small.
const userPages: RouteRecordRaw[] = [
  { path: "/setup", name: "setup", component: () => import("./pages/SetupPage.vue"), meta: { title: "Set up your account" } },
  { path: "/unlock", name: "unlock", component: () => import("./pages/UnlockPage.vue"), meta: { title: "Unlock your keys" } },
  { path: "/vaults", name: "vaults", component: () => import("./pages/VaultsPage.vue"), meta: { title: "Vaults", needsKeys: true } },
  { path: "/vaults/:vaultId", name: "vault", component: () => import("./pages/VaultPage.vue"), meta: { title: "Vault", needsKeys: true } },
  { path: "/create-vault", name: "create-vault", component: () => import("./pages/CreateVaultPage.vue"), meta: { title: "Create a vault", needsKeys: true } },
  { path: "/devices", name: "devices", component: () => import("./pages/DevicesPage.vue"), meta: { title: "My devices", needsKeys: true } },
  { path: "/account", name: "account", component: () => import("./pages/AccountPage.vue"), meta: { title: "My account", needsKeys: true } },
];

export const routes: RouteRecordRaw[] = [
  { path: "/", name: "home", component: HomePage, meta: { title: "Katta" } },
  { path: `/${CALLBACK_PAGE}`, name: "callback", component: CallbackPage, meta: { title: "Signing in…" } },
  ...userPages,
  // The admin's pages and the emergency council's, loaded only when opened (the first page stays small).
  { path: "/admin/users", name: "admin-users", component: () => import("./pages/admin/UsersPage.vue"), meta: { title: "Users" } },
  { path: "/admin/groups", name: "admin-groups", component: () => import("./pages/admin/GroupsPage.vue"), meta: { title: "Groups" } },
  { path: "/admin/storage", name: "admin-storage", component: () => import("./pages/admin/StoragePage.vue"),
    meta: { title: "Storage profiles" } },
  { path: "/admin/audit", name: "admin-audit", component: () => import("./pages/admin/AuditPage.vue"), meta: { title: "Audit log" } },
  { path: "/admin/settings", name: "admin-settings", component: () => import("./pages/admin/SettingsPage.vue"),
    meta: { title: "Settings" } },
  { path: "/emergency", name: "emergency", component: () => import("./pages/emergency/EmergencyPage.vue"),
    meta: { title: "Emergency access" } },
  { path: "/:unknown(.*)*", name: "not-found", component: NotFoundPage, meta: { title: "Page not found" } },
];

export function createAppRouter() {
  const router = createRouter({ history: createWebHistory(import.meta.env.BASE_URL), routes });
  router.beforeEach((to) => (to.meta.needsKeys && keyring.unlocked === null ? { name: "home", query: { next: to.fullPath } } : true));
  router.afterEach((to, from) => {
    document.title = to.meta.title === "Katta" ? "Katta" : `${to.meta.title} · Katta`;
    // A new page is announced by moving focus to its content, as a page load would; not on the first.
    if (from.matched.length > 0) requestAnimationFrame(() => document.getElementById("main")?.focus());
  });
  return router;
}
