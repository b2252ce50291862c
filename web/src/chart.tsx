// One time-series chart (uPlot): series of one unit over time, with vertical marks for alert
// and Docker events on the same time axis.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Mark {
  at: number; // Unix seconds
  color: string;
  label: string;
}

export interface ChartProps {
  title: string;
  times: number[]; // Unix seconds
  series: { label: string; values: (number | null)[]; color: string }[];
  format: (v: number) => string;
  marks: Mark[];
  /// The time range shown (Unix seconds), whatever the data covers.
  range: [number, number];
}

export function Chart({ title, times, series, format, marks, range }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const marksRef = useRef<Mark[]>(marks);
  marksRef.current = marks;
  const rangeRef = useRef(range);
  rangeRef.current = range;
  const data = [times, ...series.map((s) => s.values)] as uPlot.AlignedData;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      title,
      width: el.clientWidth || 600,
      height: 180,
      scales: { x: { time: true, range: () => rangeRef.current } },
      series: [
        {},
        ...series.map((s) => ({ label: s.label, stroke: s.color, width: 1, value: (_u: uPlot, v: number | null) => (v === null ? "–" : format(v)) })),
      ],
      axes: [
        { stroke: "#8393a3", grid: { stroke: "#26303b" } },
        { stroke: "#8393a3", grid: { stroke: "#26303b" }, size: 70, values: (_u, vals) => vals.map((v) => format(v)) },
      ],
      hooks: {
        draw: [
          (u) => {
            const ctx = u.ctx;
            ctx.save();
            for (const m of marksRef.current) {
              const x = u.valToPos(m.at, "x", true);
              if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
              ctx.strokeStyle = m.color;
              ctx.lineWidth = 1;
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
            }
            ctx.restore();
            // when and what it last drew (web/tests/bench.mjs times a range change by it)
            el.dataset.drawnAt = String(performance.now());
            el.dataset.drawnPoints = String(u.data[0].length);
          },
        ],
      },
    };
    plot.current = new uPlot(opts, data, el);
    const resize = () => plot.current?.setSize({ width: el.clientWidth, height: 180 });
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      plot.current?.destroy();
      plot.current = null;
    };
    // a new chart when its series change; new data goes through setData below
  }, [title, series.map((s) => s.label).join()]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return <div class="chart" ref={box} data-title={title} data-points={times.length} />;
}
