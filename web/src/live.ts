// The tab's one live connection: the alert stream (SSE). EventSource reconnects by itself and
// sends Last-Event-ID, so no alert is missed across a backend restart. It also keeps what the
// views show of it: the open alerts (from the snapshot, then every event) and the feed of the
// latest events, newest first. A machine page watches its machine's samples on the same
// connection (`samples=`): the stream is opened again for it, resuming after the last alert
// event seen (`last_event_id`), so nothing is missed in between.
import { useEffect, useState } from "preact/hooks";

export type Connection = "connecting" | "live" | "lost";

/// An alert event or an open alert, as the backend sends them.
export interface Alert {
  alert_id: string;
  kind: string;
  machine_id: string;
  machine_kind: "host" | "container";
  machine_name: string;
  host_id?: string;
  subject?: string;
  state: "pending" | "firing" | "resolved" | "cancelled";
  severity: string;
  metric?: string;
  direction?: string;
  threshold?: number;
  value?: number;
  exit_code?: number;
  at?: string;
  since?: string;
}

const FEED = 200;

let state: Connection = "connecting";
let active = new Map<string, Alert>();
let feed: Alert[] = [];
const listeners = new Set<() => void>();
let source: EventSource | null = null;
let lastId = ""; // the id of the last alert event received
let version = 0; // moves on every change of the open alerts
let watched: { machine: string; listener: (s: LiveSample) => void; opened: () => void } | null = null;

/// A sample from the stream, shaped as the samples API answers raw samples.
export type LiveSample = Record<string, unknown> & { sampled_at: string };

const NOTIFY_MS = 250; // changes reach the views at most this often (a burst renders once)
let notifying: number | undefined;

function changed() {
  if (notifying !== undefined) return;
  notifying = window.setTimeout(() => {
    notifying = undefined;
    listeners.forEach((l) => l());
  }, NOTIFY_MS);
}

function set(next: Connection) {
  state = next;
  changed();
}

function url(): string {
  const q = new URLSearchParams();
  if (watched) q.set("samples", watched.machine);
  if (lastId) q.set("last_event_id", lastId);
  const query = q.toString();
  return `/api/v1/alerts/stream${query ? `?${query}` : ""}`;
}

export function connect() {
  if (source) return;
  source = new EventSource(url());
  source.onopen = () => {
    set("live");
    watched?.opened(); // the watcher fetches what it may have missed while the stream was away
  };
  source.onerror = () => set(source?.readyState === EventSource.CLOSED ? "lost" : "connecting");
  source.addEventListener("snapshot", (e) => {
    const open: Alert[] = JSON.parse((e as MessageEvent).data);
    active = new Map(open.map((a) => [a.alert_id, a]));
    version++;
    set("live");
  });
  source.addEventListener("alert", (e) => {
    lastId = (e as MessageEvent).lastEventId || lastId;
    const a: Alert = JSON.parse((e as MessageEvent).data);
    if (a.state === "pending" || a.state === "firing") active.set(a.alert_id, a);
    else active.delete(a.alert_id);
    version++;
    feed = [a, ...feed].slice(0, FEED);
    changed();
  });
  // a host's record: its host part; a container's sample: its container part
  source.addEventListener("record", (e) => {
    const r = JSON.parse((e as MessageEvent).data);
    watched?.listener({ ...r.host, sampled_at: r.sampled_at });
  });
  source.addEventListener("sample", (e) => {
    const s = JSON.parse((e as MessageEvent).data);
    watched?.listener({ ...s.container, sampled_at: s.sampled_at });
  });
}

/// Streams `machine`'s new samples to `listener` until the returned function is called;
/// `opened` is called each time the stream (re)opens.
export function watchSamples(machine: string, listener: (s: LiveSample) => void, opened: () => void): () => void {
  const mine = { machine, listener, opened };
  watched = mine;
  reopen();
  return () => {
    if (watched !== mine) return;
    watched = null;
    reopen();
  };
}

/// Opens the stream again with the current parameters; calls in the same task open it once
/// (a machine page's switch stops one watch and starts the next).
let reopening = false;
function reopen() {
  if (reopening) return;
  reopening = true;
  queueMicrotask(() => {
    reopening = false;
    source?.close();
    source = null;
    connect();
  });
}

/// After a login: the stream starts again with the new cookie.
export function reconnect() {
  set("connecting");
  reopen();
}

/// Re-renders the caller on every change of the connection, the open alerts or the feed.
function useLive() {
  const [, tick] = useState(0);
  useEffect(() => {
    const l = () => tick((n) => n + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
}

export function useConnection(): Connection {
  useLive();
  return state;
}

export function useAlerts(): { active: Alert[]; feed: Alert[]; version: number } {
  useLive();
  return { active: [...active.values()], feed, version };
}
