/** Public surface of the admin HTTP endpoint. */
export { startAdminServer, defaultRoutes, toJson } from "./server.ts";
export type { AdminServer, AdminServerOptions } from "./server.ts";
export { Router } from "./router.ts";
export type { Route, RouteHandler, AdminRequest, AdminResponse, HttpMethod } from "./router.ts";
export { AdminBindError, bearerAuthorized, isLoopbackHost, tokenMatches } from "./auth.ts";
export { progressCheck } from "./readiness.ts";
export type { ProgressInput } from "./readiness.ts";
export type * from "./source.ts";
export { actorSystemAdminSource } from "./actor-system-source.ts";
export type { ActorSystemSourceOptions, ActorSystemView } from "./actor-system-source.ts";
