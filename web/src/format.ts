// Numbers as an operator reads them.

export function percent(v?: number): string {
  return v === undefined || v === null ? "–" : `${v.toFixed(1)} %`;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export function bytes(v?: number): string {
  if (v === undefined || v === null) return "–";
  let i = 0;
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${UNITS[i]}`;
}

export function rate(v?: number): string {
  return v === undefined || v === null ? "–" : `${bytes(v)}/s`;
}
