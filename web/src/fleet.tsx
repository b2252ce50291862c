// Fleet view: every host with its containers, live status, current CPU, memory, disk and
// network, a CPU sparkline of the last minutes and the open alerts; sort, filter by name,
// group by host. Rows are windowed (only the visible ones are in the DOM), so 2,000 hosts x
// 10 containers stay cheap.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { Fleet, FleetContainer, FleetHost, getJson } from "./api";
import { bytes, percent, rate } from "./format";
import { onAlert } from "./live";

const POLL_MS = 2000;
const ALERT_MS = 200; // how soon after an alert event the fleet is loaded again
const HISTORY = 150; // points per sparkline (5 minutes at the poll interval)
const ROW = 28; // px, fixed so rows can be windowed

interface Row {
  key: string;
  kind: "host" | "container";
  id: string;
  name: string;
  host: string;
  status: string;
  firing: number;
  pending: number;
  cpu?: number;
  mem?: number;
  memText: string;
  disk: string;
  net: string;
}

type SortKey = "name" | "status" | "cpu" | "mem" | "alerts";

const history = new Map<string, number[]>();

function remember(id: string, cpu?: number) {
  if (cpu === undefined) return;
  const h = history.get(id) ?? [];
  h.push(cpu);
  if (h.length > HISTORY) h.shift();
  history.set(id, h);
}

function hostRow(h: FleetHost): Row {
  const v = h.values;
  return {
    key: `h:${h.id}`,
    kind: "host",
    id: h.id,
    name: h.name,
    host: h.name,
    status: h.status,
    firing: h.alerts.firing,
    pending: h.alerts.pending,
    cpu: v?.cpu_percent,
    mem: v?.mem_percent,
    memText: v?.mem_used_bytes !== undefined ? `${bytes(v.mem_used_bytes)} (${percent(v.mem_percent)})` : percent(v?.mem_percent),
    disk: v ? `${rate(v.disk_read_bytes_per_sec)} r · ${rate(v.disk_write_bytes_per_sec)} w · ${percent(v.disk_used_percent)} used` : "–",
    net: v ? `${rate(v.net_rx_bytes_per_sec)} in · ${rate(v.net_tx_bytes_per_sec)} out` : "–",
  };
}

function containerRow(host: FleetHost, c: FleetContainer): Row {
  const v = c.values;
  return {
    key: `c:${c.id}`,
    kind: "container",
    id: c.id,
    name: c.name,
    host: host.name,
    status: c.status,
    firing: c.alerts.firing,
    pending: c.alerts.pending,
    cpu: v?.cpu_percent,
    mem: v?.mem_percent,
    memText: v?.mem_used_bytes !== undefined ? `${bytes(v.mem_used_bytes)} (${percent(v.mem_percent)})` : "–",
    disk: v ? `${rate(v.blk_read_bytes_per_sec)} r · ${rate(v.blk_write_bytes_per_sec)} w` : "–",
    net: v ? `${rate(v.net_rx_bytes_per_sec)} in · ${rate(v.net_tx_bytes_per_sec)} out` : "–",
  };
}

function Sparkline({ id }: { id: string }) {
  const points = history.get(id) ?? [];
  if (points.length < 2) return <svg class="spark" />;
  const max = Math.max(100, ...points);
  const step = 100 / (HISTORY - 1);
  const start = HISTORY - points.length;
  const d = points.map((p, i) => `${((start + i) * step).toFixed(1)},${(20 - (p / max) * 20).toFixed(1)}`).join(" ");
  return (
    <svg class="spark" viewBox="0 0 100 20" preserveAspectRatio="none">
      <polyline points={d} />
    </svg>
  );
}

function compare(a: Row, b: Row, key: SortKey): number {
  switch (key) {
    case "name":
      return a.name.localeCompare(b.name);
    case "status":
      return a.status.localeCompare(b.status);
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

  useEffect(() => {
    let stop = false;
    let timer: number | undefined;
    let loading = false;
    let soon = false; // an alert came while a load was running
    let due = 0; // when the next load runs (ms since the epoch)
    // one chain of loads: each schedules the next; an alert only brings it closer
    const schedule = (ms: number) => {
      if (timer !== undefined && due <= Date.now() + ms) return;
      window.clearTimeout(timer);
      due = Date.now() + ms;
      timer = window.setTimeout(() => {
        timer = undefined;
        load();
      }, ms);
    };
    const load = async () => {
      loading = true;
      try {
        const f = await getJson<Fleet>("/api/v1/fleet");
        if (stop) return;
        for (const h of f.hosts) {
          remember(h.id, h.values?.cpu_percent);
          for (const c of h.containers) remember(c.id, c.values?.cpu_percent);
        }
        setFleet(f);
        setError(null);
      } catch (e) {
        if (!stop) setError(String((e as Error).message ?? e));
      } finally {
        loading = false;
      }
      if (!stop) schedule(soon ? ALERT_MS : POLL_MS);
      soon = false;
    };
    load();
    // an alert changes a row's marks soon (a burst of alerts makes one load)
    const off = onAlert(() => {
      if (loading) soon = true;
      else schedule(ALERT_MS);
    });
    return () => {
      stop = true;
      window.clearTimeout(timer);
      off();
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

  const rows = useMemo(() => {
    if (!fleet) return [];
    const needle = filter.trim().toLowerCase();
    const match = (name: string) => needle === "" || name.toLowerCase().includes(needle);
    if (grouped) {
      const out: Row[] = [];
      const hosts = [...fleet.hosts].map((h) => ({ h, row: hostRow(h) }));
      hosts.sort((a, b) => compare(a.row, b.row, sort));
      for (const { h, row } of hosts) {
        const containers = h.containers.map((c) => containerRow(h, c)).filter((c) => match(c.name) || match(h.name));
        if (!match(h.name) && containers.length === 0) continue;
        out.push(row);
        containers.sort((a, b) => compare(a, b, sort));
        out.push(...containers);
      }
      return out;
    }
    const all: Row[] = [];
    for (const h of fleet.hosts) {
      all.push(hostRow(h));
      for (const c of h.containers) all.push(containerRow(h, c));
    }
    return all.filter((r) => match(r.name)).sort((a, b) => compare(a, b, sort));
  }, [fleet, filter, sort, grouped]);

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
        <span class="c-spark">last 5 min</span>
        <span class="c-mem">{header("mem", "Memory")}</span>
        <span class="c-disk">Disk</span>
        <span class="c-net">Network</span>
      </div>
      <div class="rows" ref={box} onScroll={(e) => setScroll((e.target as HTMLDivElement).scrollTop)}>
        <div style={{ height: `${rows.length * ROW}px`, position: "relative" }}>
          {rows.slice(first, last).map((r, i) => (
            <div
              key={r.key}
              class={`row ${r.kind} ${r.firing ? "firing" : ""}`}
              data-machine={r.id}
              style={{ top: `${(first + i) * ROW}px` }}
            >
              <span class="c-name" title={r.kind === "container" ? `${r.name} on ${r.host}` : r.name}>
                <a href={`#/machine/${encodeURIComponent(r.id)}`}>{r.name}</a>
              </span>
              <span class={`c-status status-${r.status}`}>{r.status}</span>
              <span class="c-alerts">
                {r.firing ? <b class="alert-mark">{r.firing} firing</b> : null}
                {r.pending ? <i>{r.pending} pending</i> : null}
              </span>
              <span class="c-cpu">{percent(r.cpu)}</span>
              <span class="c-spark">
                <Sparkline id={r.id} />
              </span>
              <span class="c-mem">{r.memText}</span>
              <span class="c-disk">{r.disk}</span>
              <span class="c-net">{r.net}</span>
            </div>
          ))}
        </div>
      </div>
    </section>
  );
}
