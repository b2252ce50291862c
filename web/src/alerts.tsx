// Alerts view: the live feed (firing, resolved, cancelled, pending as they happen), the alerts
// open now, and the history by date range with the API's filters (machine, state), paged by
// its cursor.
import { useState } from "preact/hooks";
import { getJson } from "./api";
import { Alert, useAlerts } from "./live";

interface Stored extends Alert {
  id: number;
}

function when(t?: string): string {
  return t ? new Date(t).toLocaleString() : "";
}

/// What the alert is about: the metric with its value against the threshold, or the kind.
function what(a: Alert): string {
  const subject = a.subject ? ` ${a.subject}` : "";
  if (a.metric) {
    const value = a.value !== undefined ? a.value.toFixed(2) : "?";
    const side = a.direction === "below" ? "under" : "over";
    const limit = a.threshold !== undefined ? ` (alerts ${side} ${a.threshold})` : "";
    return `${a.metric}${subject}: ${value}${limit}`;
  }
  if (a.exit_code !== undefined) return `${a.kind} (exit ${a.exit_code})`;
  return `${a.kind.replaceAll("_", " ")}${subject}`;
}

function Row({ a }: { a: Alert }) {
  return (
    <tr class={`alert state-${a.state}`} data-alert={a.alert_id} data-machine={a.machine_id}>
      <td>{when(a.at ?? a.since)}</td>
      <td class="state">{a.state}</td>
      <td>{a.severity}</td>
      <td class="machine">
        {a.machine_name}
        {a.machine_kind === "container" ? <span class="dim"> (container)</span> : null}
      </td>
      <td>{what(a)}</td>
    </tr>
  );
}

function Table({ rows, empty, id }: { rows: Alert[]; empty: string; id: string }) {
  if (rows.length === 0) return <p class="note" id={id}>{empty}</p>;
  return (
    <table class="alerts" id={id}>
      <thead>
        <tr>
          <th>time</th>
          <th>state</th>
          <th>severity</th>
          <th>machine</th>
          <th>what</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((a, i) => (
          <Row key={`${a.alert_id}-${a.state}-${i}`} a={a} />
        ))}
      </tbody>
    </table>
  );
}

function History() {
  const today = new Date().toISOString().slice(0, 10);
  const [from, setFrom] = useState(today);
  const [to, setTo] = useState(today);
  const [machine, setMachine] = useState("");
  const [stateFilter, setStateFilter] = useState("");
  const [rows, setRows] = useState<Stored[] | null>(null);
  const [cursor, setCursor] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = async (after: number | null) => {
    const q = new URLSearchParams({ from, to });
    if (machine) q.set("machine", machine);
    if (stateFilter) q.set("state", stateFilter);
    if (after !== null) q.set("cursor", String(after));
    try {
      const page = await getJson<{ alerts: Stored[]; next_cursor: number | null }>(`/api/v1/alerts?${q}`);
      setRows(after === null ? page.alerts : [...(rows ?? []), ...page.alerts]);
      setCursor(page.next_cursor);
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const field = (label: string, value: string, set: (v: string) => void, type = "text") => (
    <label>
      {label} <input type={type} value={value} onInput={(e) => set((e.target as HTMLInputElement).value)} />
    </label>
  );
  return (
    <section>
      <h2>History</h2>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          load(null);
        }}
      >
        {field("from", from, setFrom, "date")}
        {field("to", to, setTo, "date")}
        {field("machine id", machine, setMachine)}
        <label>
          state{" "}
          <select value={stateFilter} onChange={(e) => setStateFilter((e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            <option value="firing">firing</option>
            <option value="resolved">resolved</option>
            <option value="pending">pending</option>
            <option value="cancelled">cancelled</option>
          </select>
        </label>
        <button type="submit">Show</button>
      </form>
      {error ? <p class="error">{error}</p> : null}
      {rows ? <Table rows={rows} empty="No alert events in this range." id="history" /> : null}
      {cursor !== null ? <button onClick={() => load(cursor)}>More</button> : null}
    </section>
  );
}

export function AlertsView() {
  const { active, feed } = useAlerts();
  const open = [...active].sort((a, b) => (b.since ?? "").localeCompare(a.since ?? ""));
  return (
    <div class="alerts-view">
      <section>
        <h2>Live feed</h2>
        <Table rows={feed} empty="No alert event since this page opened." id="feed" />
      </section>
      <section>
        <h2>Open now ({open.length})</h2>
        <Table rows={open} empty="No open alert." id="active" />
      </section>
      <History />
    </div>
  );
}
