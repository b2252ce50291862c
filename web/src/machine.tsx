// Machine page: live charts at 1 s for the last 15 minutes (the stored ones, then each new
// sample from the tab's one live connection), longer ranges (1 h, 24 h, 7 d,
// 30 d, or a custom from–to) from stored history through `samples?step` (the answer names
// its tier); alert events
// and Docker events marked on the same time axis; for a host its filesystems, interfaces,
// temperatures and per-core CPU, and its containers.
import { useEffect, useState } from "preact/hooks";
import { Fleet, getJson } from "./api";
import { Chart, Mark } from "./chart";
import { watchSamples } from "./live";
import { bytes, percent, rate } from "./format";

const RANGES: { key: string; secs: number }[] = [
  { key: "15m", secs: 900 },
  { key: "1h", secs: 3600 },
  { key: "24h", secs: 86400 },
  { key: "7d", secs: 7 * 86400 },
  { key: "30d", secs: 30 * 86400 },
];
const POINTS = 600; // buckets asked for a stored range
const LIVE_SECS = 900;

type Kind = "host" | "container";
type Unit = (v: number) => string;
const CHARTS: Record<Kind, { title: string; fields: string[]; format: Unit }[]> = {
  host: [
    { title: "CPU", fields: ["cpu_percent"], format: (v) => percent(v) },
    { title: "Memory", fields: ["mem_used_bytes", "mem_available_bytes"], format: bytes },
    { title: "Load", fields: ["load1", "load5", "load15"], format: (v) => v.toFixed(2) },
    { title: "Disk", fields: ["disk_read_bytes_per_sec", "disk_write_bytes_per_sec"], format: rate },
    { title: "Network", fields: ["net_rx_bytes_per_sec", "net_tx_bytes_per_sec"], format: rate },
  ],
  container: [
    { title: "CPU", fields: ["cpu_percent"], format: (v) => percent(v) },
    { title: "Memory", fields: ["mem_used_bytes"], format: bytes },
    { title: "Network", fields: ["net_rx_bytes_per_sec", "net_tx_bytes_per_sec"], format: rate },
    { title: "Block I/O", fields: ["blk_read_bytes_per_sec", "blk_write_bytes_per_sec"], format: rate },
  ],
};
const COLORS = ["#58a6ff", "#3fb950", "#d29922", "#f778ba"];

type Sample = Record<string, unknown> & { sampled_at: string };

interface SamplesAnswer {
  id: string;
  kind: Kind;
  name: string;
  tier: string;
  samples: Sample[];
}

interface Series {
  times: number[];
  values: Record<string, (number | null)[]>;
}

function toSeries(samples: Sample[], fields: string[]): Series {
  const times = samples.map((s) => Date.parse(s.sampled_at) / 1000);
  const values: Record<string, (number | null)[]> = {};
  for (const f of fields) values[f] = samples.map((s) => (typeof s[f] === "number" ? (s[f] as number) : null));
  return { times, values };
}

const iso = (ms: number) => new Date(ms).toISOString();
/// The kind of each machine seen, so a range change asks for its charts at once.
const kinds = new Map<string, Kind>();
/// A time as a datetime-local input shows it (local time, minutes).
const local = (ms: number) => {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
};

/// The custom range's inputs: from and to in local time; the range once applied.
function CustomRange({ applied, apply }: { applied: boolean; apply: (from: number, to: number) => void }) {
  const [from, setFrom] = useState(local(Date.now() - 2 * 3600_000));
  const [to, setTo] = useState(local(Date.now()));
  const [wrong, setWrong] = useState<string | null>(null);
  const submit = (e: Event) => {
    e.preventDefault();
    const f = new Date(from).getTime();
    const t = new Date(to).getTime();
    if (!Number.isFinite(f) || !Number.isFinite(t)) return setWrong("both times are needed");
    if (f >= t) return setWrong("from must be before to");
    setWrong(null);
    apply(f, t);
  };
  return (
    <form class={applied ? "custom on" : "custom"} id="custom-range" onSubmit={submit}>
      <input type="datetime-local" name="from" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} />
      –
      <input type="datetime-local" name="to" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
      <button type="submit" class={applied ? "sort on" : "sort"} data-range="custom">
        custom
      </button>
      {wrong ? <span class="field-error">{wrong}</span> : null}
    </form>
  );
}

/// The range shown, in epoch milliseconds: the last `range`, or the custom one.
function span(range: string, custom: { from: number; to: number } | null): [number, number] {
  if (range === "custom" && custom) return [custom.from, custom.to];
  const now = Date.now();
  return [now - RANGES.find((r) => r.key === range)!.secs * 1000, now];
}

export function MachineView({ id }: { id: string }) {
  const [range, setRange] = useState("15m");
  const [custom, setCustom] = useState<{ from: number; to: number } | null>(null);
  const [answer, setAnswer] = useState<SamplesAnswer | null>(null);
  const [samples, setSamples] = useState<Sample[]>([]);
  const [latest, setLatest] = useState<Sample | null>(null);
  const [marks, setMarks] = useState<Mark[]>([]);
  const [events, setEvents] = useState<{ at: string; label: string }[]>([]);
  const [fleet, setFleet] = useState<Fleet | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [drawnMs, setDrawnMs] = useState<number | null>(null);
  const path = `/api/v1/machines/${encodeURIComponent(id)}`;

  useEffect(() => {
    let stop = false;
    const started = performance.now();
    const [from, to] = span(range, custom);
    const secs = (to - from) / 1000;
    let shown: Sample[] = []; // what the charts hold, for the live updates
    let loaded = false;
    let early: Sample[] = []; // live samples that came before the stored ones
    // 15 minutes stay live: each new sample from the stream, once the stored ones are shown
    const append = (fresh: Sample[]) => {
      const newest = shown.length ? Date.parse(shown[shown.length - 1].sampled_at) : 0;
      const after = fresh.filter((s) => Date.parse(s.sampled_at) > newest);
      if (!after.length) return;
      const cut = Date.now() - LIVE_SECS * 1000;
      shown = [...shown, ...after].filter((x) => Date.parse(x.sampled_at) >= cut);
      setSamples(shown);
      setLatest(after[after.length - 1]);
    };
    const listener = (s: Sample) => {
      if (loaded) append([s]);
      else if (early.length < 2000) early.push(s);
    };
    // the stream names machines by id; a page opened by a container's name watches again by
    // the id its first answer gives
    // after a reconnect: the samples stored while the stream was away
    let fields = "";
    let opens = 0;
    const catchUp = async () => {
      if (opens++ === 0 || !loaded || !shown.length) return; // the first open: nothing missed
      const after = iso(Date.parse(shown[shown.length - 1].sampled_at) + 1);
      const a = await getJson<SamplesAnswer>(`${path}/samples?from=${after}&metric=${fields}&limit=2000`).catch(() => null);
      if (a && !stop) append(a.samples);
    };
    let unwatch = range === "15m" ? watchSamples(id, listener, catchUp) : null;
    const load = async () => {
      try {
        // the newest raw sample, in full (the details; and the kind, which decides the fields)
        const end = Math.min(to, Date.now()); // a custom range may end ahead
        const head = getJson<SamplesAnswer>(`${path}/samples?from=${iso(end - 10_000)}&to=${iso(end)}&limit=100`);
        const charted = (kind: Kind) => {
          fields = CHARTS[kind].flatMap((c) => c.fields).join(",");
          const q =
            range === "15m"
              ? `from=${iso(from)}&metric=${fields}&limit=2000`
              : `from=${iso(from)}&to=${iso(to)}&step=${Math.max(1, Math.round(secs / POINTS))}&metric=${fields}&stats=none`;
          return getJson<SamplesAnswer>(`${path}/samples?${q}`);
        };
        // a kind seen before: both requests at once
        const known = kinds.get(id);
        const ahead = known ? charted(known) : null;
        ahead?.catch(() => undefined); // awaited below, unless the kind changed
        const h = await head;
        if (stop) return;
        kinds.set(id, h.kind);
        if (unwatch && h.id && h.id !== id) {
          unwatch();
          unwatch = watchSamples(h.id, listener, catchUp);
        }
        setLatest(h.samples[h.samples.length - 1] ?? null);
        const a = await (known === h.kind && ahead ? ahead : charted(h.kind));
        if (stop) return;
        setAnswer(a);
        shown = a.samples;
        setSamples(shown);
        setError(null);
        requestAnimationFrame(() => setDrawnMs(Math.round(performance.now() - started)));
        loaded = true;
        append(early);
        early = [];
      } catch (e) {
        if (!stop) setError((e as Error).message);
      }
    };
    // alert events and Docker events of the range, marked on the charts
    const context = async () => {
      try {
        const alerts = await getJson<{ alerts: { at: string; state: string; kind: string; metric?: string }[] }>(
          `/api/v1/alerts?from=${iso(from)}&to=${iso(to + 3600_000)}&machine=${encodeURIComponent(id)}&limit=500`,
        );
        const docker = await getJson<{ events: { at: string; kind: string; name: string; exit_code?: number }[] }>(
          `${path}/events?from=${iso(from)}&to=${iso(to + 3600_000)}`,
        ).catch(() => ({ events: [] }));
        if (stop) return;
        const m: Mark[] = [
          ...alerts.alerts.map((a) => ({
            at: Date.parse(a.at) / 1000,
            color: a.state === "firing" ? "#f85149" : "#3fb950",
            label: `alert ${a.state}: ${a.metric ?? a.kind}`,
          })),
          ...docker.events.map((e) => ({ at: Date.parse(e.at) / 1000, color: "#d29922", label: `${e.kind} ${e.name}` })),
        ];
        setMarks(m);
        setEvents(
          [...m].sort((a, b) => b.at - a.at).map((x) => ({ at: new Date(x.at * 1000).toLocaleString(), label: x.label })),
        );
      } catch {
        setMarks([]);
      }
    };
    setDrawnMs(null);
    load();
    context();
    return () => {
      stop = true;
      unwatch?.();
    };
  }, [id, range, custom]);

  // the host's containers (from the fleet), once per machine, not on every range change
  useEffect(() => {
    getJson<Fleet>("/api/v1/fleet").then(setFleet).catch(() => undefined);
  }, [id]);

  const kind = answer?.kind;
  const [shownFrom, shownTo] = span(range, custom);
  const shownRange: [number, number] = [shownFrom / 1000, shownTo / 1000];
  const host = fleet?.hosts.find((h) => h.id === id);
  const series = kind ? CHARTS[kind] : [];
  return (
    <section class="machine" data-machine={id}>
      <div class="toolbar">
        <h2>
          {answer?.name ?? id} <span class="dim">{kind}</span>
        </h2>
        {RANGES.map((r) => (
          <button class={r.key === range ? "sort on" : "sort"} data-range={r.key} onClick={() => setRange(r.key)}>
            {r.key}
          </button>
        ))}
        <CustomRange
          applied={range === "custom"}
          apply={(from, to) => {
            setCustom({ from, to });
            setRange("custom");
          }}
        />
        <span class="dim" id="tier">
          {answer ? `${answer.tier} tier, ${samples.length} points${range === "15m" ? ", live" : ""}` : "loading…"}
        </span>
        {drawnMs !== null ? (
          <span class="dim" id="drawn" data-ms={drawnMs}>
            drawn in {drawnMs} ms
          </span>
        ) : null}
      </div>
      {error ? <p class="error">{error}</p> : null}
      <div class="charts">
        {series.map((c) => {
          const s = toSeries(samples, c.fields);
          return (
            <Chart
              key={`${c.title}-${range}-${custom?.from ?? ""}-${custom?.to ?? ""}`}
              title={c.title}
              times={s.times}
              series={c.fields.map((f, i) => ({ label: f, values: s.values[f], color: COLORS[i % COLORS.length] }))}
              format={c.format}
              marks={marks}
              range={shownRange}
            />
          );
        })}
      </div>
      {kind === "host" && latest ? <HostDetails s={latest} /> : null}
      {host && host.containers.length ? (
        <section>
          <h3>Containers</h3>
          <ul class="plain">
            {host.containers.map((c) => (
              <li>
                <a href={`#/machine/${encodeURIComponent(c.id)}`}>{c.name}</a> <span class={`status-${c.status}`}>{c.status}</span>{" "}
                {percent(c.values?.cpu_percent)}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      <section>
        <h3>Alerts and Docker events in this range</h3>
        {events.length === 0 ? (
          <p class="note">None.</p>
        ) : (
          <ul class="plain" id="machine-events">
            {events.map((e) => (
              <li>
                {e.at} — {e.label}
              </li>
            ))}
          </ul>
        )}
      </section>
    </section>
  );
}

function HostDetails({ s }: { s: Sample }) {
  const fss = (s.filesystems as { mount: string; used_percent?: number; used_bytes?: number; total_bytes?: number }[]) ?? [];
  const nics = (s.interfaces as { name: string; rx_bytes_per_sec?: number; tx_bytes_per_sec?: number; rx_errors?: number; tx_errors?: number }[]) ?? [];
  const temps = (s.temperatures_c as Record<string, number>) ?? {};
  const cores = (s.per_core_percent as number[]) ?? [];
  return (
    <div class="details">
      <section>
        <h3>Filesystems</h3>
        <table class="alerts">
          <tbody>
            {fss.map((f) => (
              <tr>
                <td>{f.mount}</td>
                <td>{percent(f.used_percent)}</td>
                <td>
                  {bytes(f.used_bytes)} of {bytes(f.total_bytes)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section>
        <h3>Interfaces</h3>
        <table class="alerts">
          <tbody>
            {nics.map((n) => (
              <tr>
                <td>{n.name}</td>
                <td>{rate(n.rx_bytes_per_sec)} in</td>
                <td>{rate(n.tx_bytes_per_sec)} out</td>
                <td>
                  errors {n.rx_errors ?? "–"} / {n.tx_errors ?? "–"}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section>
        <h3>Temperatures</h3>
        {Object.keys(temps).length === 0 ? <p class="note">No sensors.</p> : null}
        <ul class="plain">
          {Object.entries(temps).map(([k, v]) => (
            <li>
              {k}: {v.toFixed(1)} °C
            </li>
          ))}
        </ul>
      </section>
      <section>
        <h3>CPU per core</h3>
        <ul class="plain cores">
          {cores.map((c, i) => (
            <li>
              cpu {i}: {percent(c)}
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}
