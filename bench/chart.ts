/**
 * The chart of docs/benchmarks.png, drawn as SVG by hand (no charting dependency) and rendered
 * to PNG with @resvg/resvg-js: throughput of every peer as a multiple of the workload's baseline
 * (log scale), and idle-connection memory (M1).
 */
import type { Results, WorkloadResult } from './results'

const COLORS: Record<string, string> = {
  riptide: '#0b7285',
  'riptide-context': '#1098ad',
  'riptide-rust': '#3bc9db',
  'node:net': '#868e96',
  'node:net-context': '#a5abb0',
  'node:http': '#ced4da',
  'node:https': '#adb5bd',
  uws: '#f08c00',
  gnet: '#5c7cfa',
  'kcp-go': '#9775fa',
  'c-floor': '#343a40',
}

/** Axis labels of the workloads. */
const SHORT: Record<string, string> = {
  E1: 'echo 64 B ping-pong',
  E2: 'echo 64 B, 16 in flight',
  E3: 'echo 4 KiB ping-pong',
  H1: 'HTTP keep-alive',
  H2: 'HTTP pipelined ×16',
  T1: 'HTTPS keep-alive',
  T2: 'TLS new connections',
  R1: 'Rust echo 64 B ping-pong',
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

const W = 1000
const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif'

/** Grouped bars of `xBaseline` per workload, log2 axis. Returns SVG elements and their height. */
function ratioPanel(workloads: WorkloadResult[], peers: string[], labels: Map<string, string>, top: number): { svg: string; height: number } {
  const left = 60
  const right = W - 20
  const plotTop = top + 50
  const plotH = 260
  const bottom = plotTop + plotH
  const all = workloads.flatMap((w) => w.summary.map((s) => s.xBaseline ?? NaN)).filter((x) => x > 0)
  const lo = Math.min(0.25, ...all.map((x) => 2 ** Math.floor(Math.log2(x))))
  const hi = Math.max(4, ...all.map((x) => 2 ** Math.ceil(Math.log2(x))))
  const y = (v: number): number => bottom - ((Math.log2(v) - Math.log2(lo)) / (Math.log2(hi) - Math.log2(lo))) * plotH
  const out: string[] = []
  out.push(`<text x="${left}" y="${top + 18}" font-size="17" font-weight="bold">Throughput as a multiple of the baseline (same run, medians; log scale)</text>`)
  out.push(`<text x="${left}" y="${top + 36}" font-size="12" fill="#495057">baseline = node:net for echo, node:http for HTTP, node:https for HTTPS/TLS, gnet for R1; higher is better</text>`)
  for (let v = lo; v <= hi; v *= 2) {
    out.push(`<line x1="${left}" x2="${right}" y1="${y(v)}" y2="${y(v)}" stroke="${v === 1 ? '#495057' : '#e9ecef'}" stroke-width="${v === 1 ? 1.5 : 1}"/>`)
    out.push(`<text x="${left - 6}" y="${y(v) + 4}" font-size="11" text-anchor="end" fill="#495057">${v >= 1 ? v : `1/${1 / v}`}×</text>`)
  }
  const groupW = (right - left) / Math.max(1, workloads.length)
  workloads.forEach((w, i) => {
    const bars = peers.filter((p) => w.summary.some((s) => s.peer === p))
    const barW = Math.min(26, (groupW - 20) / Math.max(1, bars.length))
    const x0 = left + i * groupW + (groupW - barW * bars.length) / 2
    bars.forEach((p, j) => {
      const s = w.summary.find((x) => x.peer === p)!
      const v = s.xBaseline
      if (!v || !(v > 0)) return
      const x = x0 + j * barW
      const y1 = Math.min(y(v), y(1))
      const h = Math.max(1, Math.abs(y(v) - y(1)))
      out.push(`<rect x="${x.toFixed(1)}" y="${y1.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[p] ?? '#adb5bd'}"><title>${esc(labels.get(p) ?? p)}: ${v.toFixed(2)}×</title></rect>`)
      const ty = v >= 1 ? y(v) - 3 : y(v) + 11
      out.push(`<text x="${(x + barW / 2 - 1).toFixed(1)}" y="${ty.toFixed(1)}" font-size="9" text-anchor="middle" fill="#212529">${v >= 10 ? v.toFixed(0) : v.toFixed(1)}</text>`)
    })
    out.push(`<text x="${(left + i * groupW + groupW / 2).toFixed(1)}" y="${bottom + 18}" font-size="13" font-weight="bold" text-anchor="middle">${esc(w.id)}</text>`)
    const short = SHORT[w.id] ?? w.title
    out.push(`<text x="${(left + i * groupW + groupW / 2).toFixed(1)}" y="${bottom + 33}" font-size="10" text-anchor="middle" fill="#495057">${esc(short.slice(0, 28))}</text>`)
  })
  return { svg: out.join('\n'), height: bottom + 45 - top }
}

/** Horizontal bars of bytes per idle connection (M1), log scale. */
function memoryPanel(m1: WorkloadResult, labels: Map<string, string>, top: number): { svg: string; height: number } {
  const rows = [...m1.summary].filter((s) => !Number.isNaN(s.rate)).sort((a, b) => a.rate - b.rate)
  const left = 170
  const right = W - 90
  const rowH = 22
  const plotTop = top + 40
  const max = Math.max(1000, ...rows.map((r) => r.rate))
  const hi = 10 ** Math.ceil(Math.log10(max))
  const lo = 10
  const x = (v: number): number => left + ((Math.log10(Math.max(lo, v)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (right - left)
  const out: string[] = []
  out.push(`<text x="60" y="${top + 18}" font-size="17" font-weight="bold">M1: server memory per idle connection (bytes of RSS; log scale; lower is better)</text>`)
  for (let v = lo; v <= hi; v *= 10) {
    out.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${plotTop - 4}" y2="${plotTop + rows.length * rowH}" stroke="#e9ecef"/>`)
    out.push(`<text x="${x(v)}" y="${plotTop + rows.length * rowH + 14}" font-size="11" text-anchor="middle" fill="#495057">${v >= 1000 ? `${v / 1000}k` : v}</text>`)
  }
  if (400 <= hi) {
    out.push(`<line x1="${x(400)}" x2="${x(400)}" y1="${plotTop - 8}" y2="${plotTop + rows.length * rowH}" stroke="#e03131" stroke-dasharray="4 3"/>`)
    out.push(`<text x="${x(400) + 4}" y="${plotTop - 10}" font-size="10" fill="#e03131">target 400 B</text>`)
  }
  rows.forEach((r, i) => {
    const yy = plotTop + i * rowH
    out.push(`<text x="${left - 8}" y="${yy + 14}" font-size="12" text-anchor="end">${esc(labels.get(r.peer) ?? r.peer)}</text>`)
    out.push(`<rect x="${left}" y="${yy + 3}" width="${Math.max(1, x(r.rate) - left).toFixed(1)}" height="${rowH - 6}" fill="${COLORS[r.peer] ?? '#adb5bd'}"/>`)
    out.push(`<text x="${(Math.max(left, x(r.rate)) + 5).toFixed(1)}" y="${yy + 15}" font-size="11">${Math.round(r.rate).toLocaleString('en-US')} B</text>`)
  })
  return { svg: out.join('\n'), height: rows.length * rowH + 70 }
}

/** The whole chart as an SVG document. */
export function chartSvg(results: Results): string {
  const labels = new Map(results.peers.map((p) => [p.id, p.label]))
  const order = ['riptide', 'riptide-context', 'riptide-thread', 'riptide-rust', 'node:net', 'node:net-context', 'node:http', 'node:https', 'uws', 'gnet', 'c-floor']
  const ratioWorkloads = results.workloads.filter((w) => ['E1', 'E2', 'E3', 'H1', 'H2', 'T1', 'T2', 'R1'].includes(w.id) && w.summary.length > 0)
  const m1 = results.workloads.find((w) => w.id === 'M1' && w.summary.length > 0)
  const parts: string[] = []
  let y = 20
  const title = `riptide benchmarks ${results.date}${results.quick ? ' (QUICK RUN: smoke test, not for comparison)' : ''}`
  parts.push(`<text x="60" y="${y + 6}" font-size="13" fill="#495057">${esc(title)} · ${esc(String(results.machine.cpu))} ×${results.machine.cores} · server and load generator on separate cores</text>`)
  y += 14
  const used = order.filter((p) => ratioWorkloads.some((w) => w.summary.some((s) => s.peer === p)) || m1?.summary.some((s) => s.peer === p))
  if (ratioWorkloads.length > 0) {
    const panel = ratioPanel(ratioWorkloads, used, labels, y)
    parts.push(panel.svg)
    y += panel.height
  }
  // legend
  let lx = 60
  for (const p of used) {
    const name = labels.get(p) ?? p
    parts.push(`<rect x="${lx}" y="${y}" width="12" height="12" fill="${COLORS[p] ?? '#adb5bd'}"/><text x="${lx + 16}" y="${y + 10}" font-size="12">${esc(name)}</text>`)
    lx += 26 + name.length * 7.2
  }
  y += 30
  if (m1) {
    const panel = memoryPanel(m1, labels, y)
    parts.push(panel.svg)
    y += panel.height
  }
  const height = Math.ceil(y + 10)
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="${FONT}">
<rect width="${W}" height="${height}" fill="#ffffff"/>
${parts.join('\n')}
</svg>
`
}
