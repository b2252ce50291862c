// Requests to api-backend (same origin; the read token, when set, travels in its cookie).

export class HttpError extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

/// A refused request as an error with the API's `detail` (or the status text).
async function failure(r: Response): Promise<HttpError> {
  let detail = r.statusText;
  try {
    detail = (await r.json()).detail ?? detail;
  } catch {
    // not JSON: keep the status text
  }
  return new HttpError(r.status, detail);
}

type Listener = () => void;
const unauthorized = new Set<Listener>();

/// Called whenever the backend answers 401: the read token is set and this tab has no cookie.
export function onUnauthorized(l: Listener): () => void {
  unauthorized.add(l);
  return () => unauthorized.delete(l);
}

/// The request early.js started for `path` before the bundle loaded, once (then: none).
function early(path: string): Promise<Response> | undefined {
  const started = (window as { srmonEarly?: Record<string, Promise<Response>> }).srmonEarly;
  const r = started?.[path];
  if (started) delete started[path];
  return r;
}

export async function getJson<T>(path: string): Promise<T> {
  const r = await (early(path) ?? fetch(path, { credentials: "same-origin", headers: { accept: "application/json" } }));
  if (r.status === 401) unauthorized.forEach((l) => l());
  if (!r.ok) throw await failure(r);
  return r.json() as Promise<T>;
}

export type Status = "up" | "stale" | "stopped" | "removed";

export interface AlertCount {
  firing: number;
  pending: number;
}

export interface HostValues {
  sampled_at: string;
  cpu_percent?: number;
  mem_percent?: number;
  mem_used_bytes?: number;
  mem_total_bytes?: number;
  disk_read_bytes_per_sec?: number;
  disk_write_bytes_per_sec?: number;
  net_rx_bytes_per_sec?: number;
  net_tx_bytes_per_sec?: number;
  disk_used_percent?: number;
}

export interface ContainerValues {
  cpu_percent?: number;
  mem_used_bytes?: number;
  mem_percent?: number;
  net_rx_bytes_per_sec?: number;
  net_tx_bytes_per_sec?: number;
  blk_read_bytes_per_sec?: number;
  blk_write_bytes_per_sec?: number;
}

export interface FleetContainer {
  id: string;
  name: string;
  image?: string;
  state?: string;
  status: Status;
  alerts?: AlertCount; // absent: none open
  values?: ContainerValues;
}

export interface FleetHost {
  id: string;
  name: string;
  status: Status;
  last_seen: string;
  alerts?: AlertCount; // absent: none open
  values?: HostValues;
  containers: FleetContainer[];
}

export interface Fleet {
  hosts: FleetHost[];
  orphans: FleetContainer[];
}

/// Exchanges the token for the backend's HttpOnly cookie; the page keeps nothing of it.
export async function login(token: string): Promise<void> {
  const r = await fetch("/api/v1/session", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token }),
  });
  if (!r.ok) throw await failure(r);
}

/// The admin token for writes (API_ADMIN_TOKEN), asked for when a write is refused; kept in
/// this variable only, so it lasts as long as the tab and is never stored.
let adminToken: string | null = null;

export function setAdminToken(token: string | null) {
  adminToken = token;
}

/// A write (POST, PUT, DELETE) with a JSON body; its JSON answer, or null for 204.
export async function send<T>(method: string, path: string, body?: unknown): Promise<T | null> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (adminToken) headers.authorization = `Bearer ${adminToken}`;
  const r = await fetch(path, {
    method,
    credentials: "same-origin",
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) throw await failure(r);
  return r.status === 204 ? null : ((await r.json()) as T);
}
