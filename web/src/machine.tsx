// Machine page: live charts at 1 s for the last 15 minutes, longer ranges (1 h, 24 h, 7 d,
// 30 d) from stored history through `samples?step` (the answer names its tier); alert events
// and Docker events marked on the same time axis; for a host its filesystems, interfaces,
// temperatures and per-core CPU, and its containers.
import { useEffect, useState } from "preact/hooks";
import { Fleet, getJson } from "./api";
import { Chart, Mark } from "./chart";
import { bytes, percent, rate } from "./format";

const RANGES: { key: string; secs: number }[] = [
  { key: "15m", secs: 900 },
  { key: "1h", secs: 3600 },
  { key: "24h", secs: 86400 },
  { key: "7d", secs: 7 * 86400 },
  { key: "30d", secs: 30 * 86400 },
];
const POINTS = 600; // buckets asked for a stored range
const LIVE_MS = 1000;

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

export function MachineView({ id }: { id: string }) {
  const [range, setRange] = useState("15m");
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
    let timer: number | undefined;
    const secs = RANGES.find((r) => r.key === range)!.secs;
    const started = performance.now();
    const to = Date.now();
    const from = to - secs * 1000;
    let shown: Sample[] = []; // what the charts hold, for the live updates
    const load = async () => {
      try {
        // the kind first (it decides the fields): one raw sample, the newest, in full
        const head = await getJson<SamplesAnswer>(`${path}/samples?from=${iso(to - 10_000)}&limit=100`);
        if (stop) return;
        setLatest(head.samples[head.samples.length - 1] ?? null);
        const fields = CHARTS[head.kind].flatMap((c) => c.fields).join(",");
        const q =
          range === "15m"
            ? `from=${iso(from)}&metric=${fields}&limit=2000`
            : `from=${iso(from)}&step=${Math.max(1, Math.round(secs / POINTS))}&metric=${fields}`;
        const a = await getJson<SamplesAnswer>(`${path}/samples?${q}`);
        if (stop) return;
        setAnswer(a);
        shown = a.samples;
        setSamples(shown);
        setError(null);
        requestAnimationFrame(() => setDrawnMs(Math.round(performance.now() - started)));
        if (range === "15m") timer = window.setTimeout(() => live(fields), LIVE_MS);
      } catch (e) {
        if (!stop) setError((e as Error).message);
      }
    };
    // 15 minutes stay live: the samples newer than the last one, once a second
    const live = async (fields: string) => {
      try {
        const newest = shown.length ? Date.parse(shown[shown.length - 1].sampled_at) : Date.now() - 900_000;
        const after = iso(newest + 1);
        const a = await getJson<SamplesAnswer>(`${path}/samples?from=${after}&metric=${fields}&limit=500`);
        if (stop) return;
        if (a.samples.length) {
          const cut = Date.now() - 900_000;
          shown = [...shown, ...a.samples].filter((x) => Date.parse(x.sampled_at) >= cut);
          setSamples(shown);
        }
      } catch {
        // a missed second is drawn by the next one
      }
      if (!stop) timer = window.setTimeout(() => live(fields), LIVE_MS);
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
    getJson<Fleet>("/api/v1/fleet").then(setFleet).catch(() => undefined);
    return () => {
      stop = true;
      window.clearTimeout(timer);
    };
  }, [id, range]);

  const kind = answer?.kind;
  const secs = RANGES.find((r) => r.key === range)!.secs;
  const now = Date.now() / 1000;
  const shownRange: [number, number] = [now - secs, now];
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
              key={`${c.title}-${range}`}
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
