#!/usr/bin/env python3
"""Turns benches/scaling.sh's CSV into JSON and an SVG chart of throughput against disks,
with the ideal (N x per-disk limit) line. Standard library only.

  plot_scaling.py scaling.csv scaling.json scaling.svg "machine description"
"""

import csv
import json
import sys


def main(csv_path, json_path, svg_path, title):
    rows = list(csv.DictReader(open(csv_path)))
    json.dump(rows, open(json_path, "w"), indent=2)
    thr = [r for r in rows if r["mode"] == "throttled"]
    series = {
        "ideal": [(int(r["disks"]), float(r["ideal_mib_s"])) for r in thr],
        "PUT (throttled)": [(int(r["disks"]), float(r["put_mib_s"])) for r in thr],
        "GET (throttled)": [(int(r["disks"]), float(r["get_mib_s"])) for r in thr],
    }
    colors = {"ideal": "#888", "PUT (throttled)": "#d62728", "GET (throttled)": "#1f77b4"}
    w, h, m = 640, 420, 60
    xs = [x for s in series.values() for x, _ in s] or [1]
    ys = [y for s in series.values() for _, y in s] or [1]
    xmax, ymax = max(xs), max(ys) * 1.1 or 1

    def px(x):
        return m + (x / xmax) * (w - 2 * m)

    def py(y):
        return h - m - (y / ymax) * (h - 2 * m)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">']
    out.append(f'<rect width="{w}" height="{h}" fill="white"/>')
    out.append(f'<text x="{w/2}" y="20" text-anchor="middle" font-size="14">aisnode throughput vs disks ({title})</text>')
    out.append(f'<line x1="{m}" y1="{h-m}" x2="{w-m}" y2="{h-m}" stroke="black"/><line x1="{m}" y1="{m}" x2="{m}" y2="{h-m}" stroke="black"/>')
    for x in sorted(set(xs)):
        out.append(f'<text x="{px(x)}" y="{h-m+18}" text-anchor="middle">{x}</text>')
    for i in range(6):
        y = ymax * i / 5
        out.append(f'<text x="{m-6}" y="{py(y)+4}" text-anchor="end">{y:.0f}</text>')
        out.append(f'<line x1="{m}" y1="{py(y)}" x2="{w-m}" y2="{py(y)}" stroke="#eee"/>')
    out.append(f'<text x="{w/2}" y="{h-15}" text-anchor="middle">disks</text>')
    out.append(f'<text x="15" y="{h/2}" transform="rotate(-90 15 {h/2})" text-anchor="middle">MiB/s</text>')
    for k, (name, pts) in enumerate(series.items()):
        if not pts:
            continue
        dash = ' stroke-dasharray="6 4"' if name == "ideal" else ""
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colors[name]}" stroke-width="2"{dash}/>')
        for x, y in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colors[name]}"/>')
        out.append(f'<text x="{m+10}" y="{m+16*k}" fill="{colors[name]}">{name}</text>')
    out.append("</svg>")
    open(svg_path, "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:5])
