// Rules view: the threshold rules (global, per machine, container-name pattern) with their
// editor, the API's validation message shown beside the field it names; and silences
// (create, list, expire). Writes send the admin token when the backend asks for it.
import { useEffect, useState } from "preact/hooks";
import { getJson, HttpError, send, setAdminToken } from "./api";

export const METRICS = [
  "host.cpu_percent", "host.mem_percent", "host.mem_used_bytes", "host.load_per_core",
  "host.disk_read_bytes_per_sec", "host.disk_write_bytes_per_sec", "host.net_rx_bytes_per_sec",
  "host.net_tx_bytes_per_sec", "host.filesystem_used_percent", "host.filesystem_inodes_used_percent",
  "host.temperature_c", "container.cpu_percent", "container.mem_percent", "container.mem_used_bytes",
  "container.net_rx_bytes_per_sec", "container.net_tx_bytes_per_sec", "container.blk_read_bytes_per_sec",
  "container.blk_write_bytes_per_sec", "container.restart_count",
];

interface Scope {
  kind: "all_hosts" | "all_containers" | "machine" | "container_name";
  id?: string;
  pattern?: string;
}

interface Rule {
  id: number;
  metric: string;
  scope: Scope;
  direction: "above" | "below";
  raise: number;
  clear: number;
  for_secs: number;
  severity: string;
  enabled: boolean;
  compat_key?: string;
}

interface Silence {
  id: number;
  machine_id?: string;
  rule_id?: number;
  kind?: string;
  starts_at: string;
  ends_at: string;
  comment: string;
}

function scopeText(s: Scope): string {
  if (s.kind === "machine") return `machine ${s.id}`;
  if (s.kind === "container_name") return `containers named ${s.pattern}`;
  return s.kind.replace("_", " ");
}

/// The field an API message is about, so it can be shown beside it.
function fieldOf(detail: string): string {
  for (const f of ["clear", "raise", "for_secs", "pattern", "scope", "metric", "severity", "direction"]) {
    if (detail.includes(f)) return f;
  }
  return "form";
}

/// Asks for the admin token when a write was refused with 401.
function AdminToken({ retry }: { retry: () => void }) {
  const [token, setToken] = useState("");
  return (
    <form
      class="toolbar admin"
      id="admin-token"
      onSubmit={(e) => {
        e.preventDefault();
        setAdminToken(token);
        setToken("");
        retry();
      }}
    >
      <span>Writes need the admin token (API_ADMIN_TOKEN), kept for this tab only:</span>
      <input type="password" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
      <button type="submit">Use it</button>
    </form>
  );
}

type Draft = Omit<Rule, "id" | "compat_key">;

const EMPTY: Draft = {
  metric: "container.cpu_percent",
  scope: { kind: "all_containers" },
  direction: "above",
  raise: 90,
  clear: 80,
  for_secs: 0,
  severity: "warning",
  enabled: true,
};

function Editor({ rule, saved, cancel }: { rule: Rule | null; saved: () => void; cancel?: () => void }) {
  const [d, setD] = useState<Draft>(rule ? { ...rule } : EMPTY);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [needAdmin, setNeedAdmin] = useState(false);
  const set = (patch: Partial<Draft>) => setD({ ...d, ...patch });
  const save = async () => {
    // exactly the rule's fields (the API refuses unknown ones such as id)
    const body: Draft = {
      metric: d.metric,
      scope: { ...d.scope },
      direction: d.direction,
      raise: d.raise,
      clear: d.clear,
      for_secs: d.for_secs,
      severity: d.severity,
      enabled: d.enabled,
    };
    if (body.scope.kind !== "machine") delete body.scope.id;
    if (body.scope.kind !== "container_name") delete body.scope.pattern;
    try {
      if (rule) await send("PUT", `/api/v1/thresholds/rules/${rule.id}`, body);
      else await send("POST", "/api/v1/thresholds/rules", body);
      setErrors({});
      setNeedAdmin(false);
      saved();
    } catch (e) {
      const err = e as HttpError;
      if (err.status === 401) setNeedAdmin(true);
      else setErrors({ [fieldOf(err.message)]: err.message });
    }
  };
  const error = (f: string) => (errors[f] ? <span class="error field-error" data-field={f}>{errors[f]}</span> : null);
  const num = (f: "raise" | "clear" | "for_secs") => (
    <label>
      {f === "for_secs" ? "for (s)" : f}{" "}
      <input
        name={f}
        type="number"
        step="any"
        value={d[f]}
        onInput={(e) => set({ [f]: Number((e.target as HTMLInputElement).value) } as Partial<Draft>)}
      />
      {error(f)}
    </label>
  );
  return (
    <div class="editor" data-rule={rule?.id ?? "new"}>
      <label>
        metric{" "}
        <select name="metric" value={d.metric} disabled={!!rule} onChange={(e) => set({ metric: (e.target as HTMLSelectElement).value })}>
          {METRICS.map((m) => (
            <option value={m}>{m}</option>
          ))}
        </select>
        {error("metric")}
      </label>
      <label>
        scope{" "}
        <select
          name="scope"
          value={d.scope.kind}
          onChange={(e) => set({ scope: { ...d.scope, kind: (e.target as HTMLSelectElement).value as Scope["kind"] } })}
        >
          <option value="all_hosts">all hosts</option>
          <option value="all_containers">all containers</option>
          <option value="machine">one machine</option>
          <option value="container_name">container name pattern</option>
        </select>
        {d.scope.kind === "machine" ? (
          <input name="scope_id" placeholder="machine id" value={d.scope.id ?? ""} onInput={(e) => set({ scope: { ...d.scope, id: (e.target as HTMLInputElement).value } })} />
        ) : null}
        {d.scope.kind === "container_name" ? (
          <input name="pattern" placeholder="web-*" value={d.scope.pattern ?? ""} onInput={(e) => set({ scope: { ...d.scope, pattern: (e.target as HTMLInputElement).value } })} />
        ) : null}
        {error("scope") ?? error("pattern")}
      </label>
      <label>
        <select name="direction" value={d.direction} onChange={(e) => set({ direction: (e.target as HTMLSelectElement).value as Draft["direction"] })}>
          <option value="above">above</option>
          <option value="below">below</option>
        </select>
      </label>
      {num("raise")}
      {num("clear")}
      {num("for_secs")}
      <label>
        <select name="severity" value={d.severity} onChange={(e) => set({ severity: (e.target as HTMLSelectElement).value })}>
          <option value="info">info</option>
          <option value="warning">warning</option>
          <option value="critical">critical</option>
        </select>
      </label>
      <label>
        <input type="checkbox" name="enabled" checked={d.enabled} onChange={(e) => set({ enabled: (e.target as HTMLInputElement).checked })} /> enabled
      </label>
      <button class="save" onClick={save}>
        {rule ? "Save" : "Add rule"}
      </button>
      {cancel ? <button onClick={cancel}>Cancel</button> : null}
      {error("form")}
      {needAdmin ? <AdminToken retry={save} /> : null}
    </div>
  );
}

function Silences() {
  const [list, setList] = useState<Silence[]>([]);
  const [machine, setMachine] = useState("");
  const [hours, setHours] = useState(1);
  const [comment, setComment] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [needAdmin, setNeedAdmin] = useState(false);
  const load = async () => setList((await getJson<{ silences: Silence[] }>("/api/v1/silences")).silences);
  useEffect(() => {
    load().catch((e) => setError((e as Error).message));
  }, []);
  const write = async (f: () => Promise<unknown>) => {
    try {
      await f();
      setError(null);
      setNeedAdmin(false);
      await load();
    } catch (e) {
      const err = e as HttpError;
      if (err.status === 401) setNeedAdmin(true);
      else setError(err.message);
    }
  };
  const create = () =>
    write(() =>
      send("POST", "/api/v1/silences", {
        machine_id: machine || undefined,
        ends_at: new Date(Date.now() + hours * 3600_000).toISOString(),
        comment,
      }),
    );
  const now = Date.now();
  return (
    <section>
      <h2>Silences</h2>
      <div class="toolbar">
        <label>
          machine id <input name="silence_machine" value={machine} onInput={(e) => setMachine((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          for (hours) <input type="number" min="0.1" step="any" value={hours} onInput={(e) => setHours(Number((e.target as HTMLInputElement).value))} />
        </label>
        <label>
          why <input name="silence_comment" value={comment} onInput={(e) => setComment((e.target as HTMLInputElement).value)} />
        </label>
        <button id="silence" onClick={create}>
          Silence
        </button>
      </div>
      {error ? <p class="error">{error}</p> : null}
      {needAdmin ? <AdminToken retry={create} /> : null}
      <table class="alerts" id="silences">
        <tbody>
          {list.map((s) => (
            <tr data-silence={s.id} data-machine={s.machine_id ?? ""}>
              <td>{s.machine_id ?? (s.rule_id !== undefined ? `rule ${s.rule_id}` : s.kind ?? "everything")}</td>
              <td>until {new Date(s.ends_at).toLocaleString()}</td>
              <td>{Date.parse(s.ends_at) > now ? "active" : "over"}</td>
              <td>{s.comment}</td>
              <td>
                <button class="expire" onClick={() => write(() => send("DELETE", `/api/v1/silences/${s.id}`))}>
                  Expire
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function RulesView() {
  const [rules, setRules] = useState<Rule[] | null>(null);
  const [editing, setEditing] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = async () => {
    try {
      setRules((await getJson<{ rules: Rule[] }>("/api/v1/thresholds")).rules);
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => {
    load();
  }, []);
  const remove = async (id: number) => {
    try {
      await send("DELETE", `/api/v1/thresholds/rules/${id}`);
      load();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <div class="rules-view">
      <section>
        <h2>Threshold rules</h2>
        {error ? <p class="error">{error}</p> : null}
        <table class="alerts" id="rules">
          <thead>
            <tr>
              <th>metric</th>
              <th>scope</th>
              <th>raise / clear</th>
              <th>for</th>
              <th>severity</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {(rules ?? []).map((r) =>
              editing === r.id ? (
                <tr>
                  <td colSpan={6}>
                    <Editor
                      rule={r}
                      saved={() => {
                        setEditing(null);
                        load();
                      }}
                      cancel={() => setEditing(null)}
                    />
                  </td>
                </tr>
              ) : (
                <tr class={r.enabled ? "" : "dim"} data-rule={r.id} data-metric={r.metric} data-scope={r.scope.kind}>
                  <td>{r.metric}</td>
                  <td>{scopeText(r.scope)}</td>
                  <td>
                    {r.direction} {r.raise} / {r.clear}
                  </td>
                  <td>{r.for_secs} s</td>
                  <td>{r.severity}</td>
                  <td>
                    <button class="edit" onClick={() => setEditing(r.id)}>
                      Edit
                    </button>
                    {r.compat_key ? null : <button onClick={() => remove(r.id)}>Delete</button>}
                  </td>
                </tr>
              ),
            )}
          </tbody>
        </table>
        <h2>New rule</h2>
        <Editor rule={null} saved={load} />
      </section>
      <Silences />
    </div>
  );
}
