export { startHost, type RunningHost, type StartHostOptions } from './startHost';
export { spawnHost, type SpawnedHost, type SpawnHostOptions } from './spawnHost';
export type { HostKeys } from './HostRequestHandler';
export type { CorsSettings } from './readLocalSettings';
