// The tab's one live connection: the alert stream (SSE). EventSource reconnects by itself and
// sends Last-Event-ID, so no alert is missed across a backend restart. Listeners get the
// connection state and every alert event.
import { useEffect, useState } from "preact/hooks";

export type Connection = "connecting" | "live" | "lost";

type Listener = (c: Connection) => void;
type AlertListener = (event: unknown) => void;

let state: Connection = "connecting";
const listeners = new Set<Listener>();
const alertListeners = new Set<AlertListener>();
let source: EventSource | null = null;

function set(next: Connection) {
  state = next;
  listeners.forEach((l) => l(next));
}

export function connect() {
  if (source) return;
  source = new EventSource("/api/v1/alerts/stream");
  source.onopen = () => set("live");
  source.onerror = () => set(source?.readyState === EventSource.CLOSED ? "lost" : "connecting");
  source.addEventListener("snapshot", () => set("live"));
  source.addEventListener("alert", (e) => {
    const data = JSON.parse((e as MessageEvent).data);
    alertListeners.forEach((l) => l(data));
  });
}

/// After a login: the stream starts again with the new cookie.
export function reconnect() {
  source?.close();
  source = null;
  set("connecting");
  connect();
}

export function onAlert(l: AlertListener): () => void {
  alertListeners.add(l);
  return () => alertListeners.delete(l);
}

export function useConnection(): Connection {
  const [c, setC] = useState(state);
  useEffect(() => {
    listeners.add(setC);
    return () => {
      listeners.delete(setC);
    };
  }, []);
  return c;
}
