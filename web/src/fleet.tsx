// Fleet view: every host with its containers, live status, current CPU, memory, disk and
// network, a CPU sparkline of the last minutes and the open alerts; sort, filter by name,
// group by host. Rows are windowed (only the visible ones are in the DOM, and only they are
// formatted), so 2,000 hosts x 10 containers stay cheap. The fleet is loaded every 2 s, or
// less often when a load costs more (a large fleet); the alert marks come from the tab's live
// alert stream (within its 250 ms batching), without a load.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { AlertCount, Fleet, FleetContainer, FleetHost, getJson } from "./api";
import { bytes, percent, rate } from "./format";
import { useAlerts, useConnection } from "./live";
import { Rings } from "./rings";

const POLL_MS = 2000;
const MAX_POLL_MS = 15_000;
const COST_SHARE = 10; // a load may take at most a tenth of the time between loads
const HISTORY = 150; // points per sparkline
const ROW = 28; // px, fixed so rows can be windowed

interface Row {
  key: string;
  kind: "host" | "container";
  id: string;
  name: string;
  host: FleetHost;
  container?: FleetContainer;
  status: string;
  listed: AlertCount; // as the fleet answer said
  firing: number; // for sorting
  pending: number;
  cpu?: number;
  mem?: number;
}

type SortKey = "name" | "status" | "cpu" | "mem" | "alerts";
type Counts = Map<string, AlertCount>;
const NONE: AlertCount = { firing: 0, pending: 0 };

/// A machine's open alerts: from the live stream once it is live, else as the fleet answer said.
function alertsOf(id: string, listed: AlertCount, counts: Counts | null): AlertCount {
  return counts ? (counts.get(id) ?? NONE) : listed;
}

/// CPU points per machine (the sparklines).
const history = new Rings(HISTORY);

function hostRow(h: FleetHost, counts: Counts | null): Row {
  const listed = h.alerts ?? NONE;
  const open = alertsOf(h.id, listed, counts);
  return {
    key: `h:${h.id}`,
    kind: "host",
    id: h.id,
    name: h.name,
    host: h,
    status: h.status,
    listed,
    firing: open.firing,
    pending: open.pending,
    cpu: h.values?.cpu_percent,
    mem: h.values?.mem_percent,
  };
}

function containerRow(host: FleetHost, c: FleetContainer, counts: Counts | null): Row {
  const listed = c.alerts ?? NONE;
  const open = alertsOf(c.id, listed, counts);
  return {
    key: `c:${c.id}`,
    kind: "container",
    id: c.id,
    name: c.name,
    host,
    container: c,
    status: c.status,
    listed,
    firing: open.firing,
    pending: open.pending,
    cpu: c.values?.cpu_percent,
    mem: c.values?.mem_percent,
  };
}

/// A visible row's memory, disk and network columns.
function texts(r: Row): { mem: string; disk: string; net: string } {
  if (r.container) {
    const v = r.container.values;
    return {
      mem: v?.mem_used_bytes !== undefined ? `${bytes(v.mem_used_bytes)} (${percent(v.mem_percent)})` : "–",
      disk: v ? `${rate(v.blk_read_bytes_per_sec)} r · ${rate(v.blk_write_bytes_per_sec)} w` : "–",
      net: v ? `${rate(v.net_rx_bytes_per_sec)} in · ${rate(v.net_tx_bytes_per_sec)} out` : "–",
    };
  }
  const v = r.host.values;
  return {
    mem: v?.mem_used_bytes !== undefined ? `${bytes(v.mem_used_bytes)} (${percent(v.mem_percent)})` : percent(v?.mem_percent),
    disk: v ? `${rate(v.disk_read_bytes_per_sec)} r · ${rate(v.disk_write_bytes_per_sec)} w · ${percent(v.disk_used_percent)} used` : "–",
    net: v ? `${rate(v.net_rx_bytes_per_sec)} in · ${rate(v.net_tx_bytes_per_sec)} out` : "–",
  };
}

function Sparkline({ id }: { id: string }) {
  const pts = history.values(id);
  if (pts.length < 2) return <svg class="spark" />;
  const max = Math.max(100, ...pts);
  const step = 100 / (HISTORY - 1);
  const start = HISTORY - pts.length;
  const d = pts.map((p, i) => `${((start + i) * step).toFixed(1)},${(20 - (p / max) * 20).toFixed(1)}`).join(" ");
  return (
    <svg class="spark" viewBox="0 0 100 20" preserveAspectRatio="none">
      <polyline points={d} />
    </svg>
  );
}

// one collator for every comparison (String.localeCompare is many times slower per call)
const collator = new Intl.Collator(undefined, { numeric: true });

/// Sorts `xs` in place unless it is in order already (the fleet answer lists by name, so the
/// default order costs one pass instead of a sort).
function ordered<T>(xs: T[], cmp: (a: T, b: T) => number): T[] {
  for (let i = 1; i < xs.length; i++) if (cmp(xs[i - 1], xs[i]) > 0) return xs.sort(cmp);
  return xs;
}

function compare(a: Row, b: Row, key: SortKey): number {
  switch (key) {
    case "name":
      return collator.compare(a.name, b.name);
    case "status":
      return collator.compare(a.status, b.status);
    case "cpu":
      return (b.cpu ?? -1) - (a.cpu ?? -1);
    case "mem":
      return (b.mem ?? -1) - (a.mem ?? -1);
    case "alerts":
      return b.firing * 1000 + b.pending - (a.firing * 1000 + a.pending);
  }
}

export function FleetView() {
  const [fleet, setFleet] = useState<Fleet | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState("");
  const [sort, setSort] = useState<SortKey>("name");
  const [grouped, setGrouped] = useState(true);
  const [scroll, setScroll] = useState(0);
  const [height, setHeight] = useState(600);
  const box = useRef<HTMLDivElement>(null);

  // open alerts per machine from the live stream, once it is live (before: the fleet's counts)
  const connection = useConnection();
  const { active, version } = useAlerts();
  const counts = useMemo(() => {
    if (connection !== "live") return null;
    const m: Counts = new Map();
    for (const a of active) {
      const c = m.get(a.machine_id) ?? { firing: 0, pending: 0 };
      if (a.state === "firing") c.firing++;
      else if (a.state === "pending") c.pending++;
      m.set(a.machine_id, c);
    }
    return m;
  }, [version, connection]);

  useEffect(() => {
    let stop = false;
    let timer: number | undefined;
    // one chain of loads, each scheduling the next
    const load = async () => {
      const started = performance.now();
      try {
        const f = await getJson<Fleet>("/api/v1/fleet");
        if (stop) return;
        history.begin(f.hosts.reduce((n, h) => n + 1 + h.containers.length, 0));
        for (const h of f.hosts) {
          history.push(h.id, h.values?.cpu_percent);
          for (const c of h.containers) history.push(c.id, c.values?.cpu_percent);
        }
        history.sweep();
        setFleet(f);
        setError(null);
      } catch (e) {
        if (!stop) setError(String((e as Error).message ?? e));
      }
      // a failed load paces the next one like a slow one
      const spent = performance.now() - started;
      if (!stop) timer = window.setTimeout(load, Math.min(MAX_POLL_MS, Math.max(POLL_MS, spent * COST_SHARE)));
    };
    load();
    return () => {
      stop = true;
      window.clearTimeout(timer);
    };
  }, []);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const resize = () => setHeight(el.clientHeight);
    resize();
    window.addEventListener("resize", resize);
    return () => window.removeEventListener("resize", resize);
  }, [fleet === null]);

  // the live counts order the rows only when sorting by alerts (else a new alert re-sorts nothing)
  const sortCounts = sort === "alerts" ? counts : null;
  const rows = useMemo(() => {
    if (!fleet) return [];
    const needle = filter.trim().toLowerCase();
    const match = (name: string) => needle === "" || name.toLowerCase().includes(needle);
    if (grouped) {
      const out: Row[] = [];
      const hosts = [...fleet.hosts].map((h) => ({ h, row: hostRow(h, sortCounts) }));
      ordered(hosts, (a, b) => compare(a.row, b.row, sort));
      for (const { h, row } of hosts) {
        const containers = h.containers.map((c) => containerRow(h, c, sortCounts)).filter((c) => match(c.name) || match(h.name));
        if (!match(h.name) && containers.length === 0) continue;
        out.push(row);
        ordered(containers, (a, b) => compare(a, b, sort));
        out.push(...containers);
      }
      return out;
    }
    const all: Row[] = [];
    for (const h of fleet.hosts) {
      all.push(hostRow(h, sortCounts));
      for (const c of h.containers) all.push(containerRow(h, c, sortCounts));
    }
    return ordered(all.filter((r) => match(r.name)), (a, b) => compare(a, b, sort));
  }, [fleet, filter, sort, grouped, sortCounts]);

  if (!fleet) return <p class="note">{error ? `Cannot load the fleet: ${error}` : "Loading the fleet…"}</p>;
  const first = Math.max(0, Math.floor(scroll / ROW) - 10);
  const last = Math.min(rows.length, first + Math.ceil(height / ROW) + 20);
  const header = (key: SortKey, label: string) => (
    <button class={sort === key ? "sort on" : "sort"} onClick={() => setSort(key)}>
      {label}
    </button>
  );
  const hostCount = fleet.hosts.length;
  const containerCount = fleet.hosts.reduce((n, h) => n + h.containers.length, 0);
  return (
    <section class="fleet">
      <div class="toolbar">
        <input type="search" placeholder="Filter by name" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
        <label>
          <input type="checkbox" checked={grouped} onChange={(e) => setGrouped((e.target as HTMLInputElement).checked)} /> group by host
        </label>
        <span class="count">
          {hostCount} hosts, {containerCount} containers{error ? ` · last update failed: ${error}` : ""}
        </span>
      </div>
      <div class="row head">
        <span class="c-name">{header("name", "Name")}</span>
        <span class="c-status">{header("status", "Status")}</span>
        <span class="c-alerts">{header("alerts", "Alerts")}</span>
        <span class="c-cpu">{header("cpu", "CPU")}</span>
        <span class="c-spark">CPU, recent loads</span>
        <span class="c-mem">{header("mem", "Memory")}</span>
        <span class="c-disk">Disk</span>
        <span class="c-net">Network</span>
      </div>
      <div class="rows" ref={box} onScroll={(e) => setScroll((e.target as HTMLDivElement).scrollTop)}>
        <div style={{ height: `${rows.length * ROW}px`, position: "relative" }}>
          {rows.slice(first, last).map((r, i) => {
            const t = texts(r);
            const { firing, pending } = alertsOf(r.id, r.listed, counts);
            return (
            <div
              key={r.key}
              class={`row ${r.kind} ${firing ? "firing" : ""}`}
              data-machine={r.id}
              style={{ top: `${(first + i) * ROW}px` }}
            >
              <span class="c-name" title={r.kind === "container" ? `${r.name} on ${r.host.name}` : r.name}>
                <a href={`#/machine/${encodeURIComponent(r.id)}`}>{r.name}</a>
              </span>
              <span class={`c-status status-${r.status}`}>{r.status}</span>
              <span class="c-alerts">
                {firing ? <b class="alert-mark">{firing} firing</b> : null}
                {pending ? <i>{pending} pending</i> : null}
              </span>
              <span class="c-cpu">{percent(r.cpu)}</span>
              <span class="c-spark">
                <Sparkline id={r.id} />
              </span>
              <span class="c-mem">{t.mem}</span>
              <span class="c-disk">{t.disk}</span>
              <span class="c-net">{t.net}</span>
            </div>
            );
          })}
        </div>
      </div>
    </section>
  );
}
