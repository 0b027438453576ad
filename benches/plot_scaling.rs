//! Turns `benches/scaling.sh`'s CSV into JSON and an SVG chart of throughput against the
//! number of disks, with the ideal (N × per-disk limit) line.
//!
//!   cargo run --release --example plot_scaling -- scaling.csv scaling.json scaling.svg "machine"

use std::collections::BTreeMap;
use std::error::Error;

use plotters::prelude::*;

type Row = BTreeMap<String, String>;

fn read_csv(path: &str) -> Result<Vec<Row>, Box<dyn Error>> {
    let text = std::fs::read_to_string(path)?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .ok_or("empty CSV")?
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            if cells.len() != header.len() {
                return Err(format!("{path}: {line:?} has {} cells", cells.len()).into());
            }
            Ok(header
                .iter()
                .cloned()
                .zip(cells.iter().map(|c| c.to_string()))
                .collect())
        })
        .collect()
}

/// Targets the disks were split over (CSVs from before the column: one).
fn targets(r: &Row) -> u32 {
    r.get("targets").and_then(|t| t.parse().ok()).unwrap_or(1)
}

/// `(disks, value)` of the throttled rows with `t` targets for column `col`.
fn series(rows: &[Row], t: u32, col: &str) -> Vec<(f64, f64)> {
    rows.iter()
        .filter(|r| r.get("mode").map(String::as_str) == Some("throttled") && targets(r) == t)
        .filter_map(|r| Some((r.get("disks")?.parse().ok()?, r.get(col)?.parse().ok()?)))
        .collect()
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [csv, json, svg, title] = args.as_slice() else {
        return Err("usage: plot_scaling CSV JSON SVG TITLE".into());
    };
    let rows = read_csv(csv)?;
    std::fs::write(json, serde_json::to_string_pretty(&rows)? + "\n")?;

    let mut counts: Vec<u32> = rows.iter().map(targets).collect();
    counts.sort_unstable();
    counts.dedup();
    let first = counts.first().copied().unwrap_or(1);
    let mut data = vec![
        (
            "ideal (N x limit)".to_string(),
            series(&rows, first, "ideal_mib_s"),
            RGBColor(120, 120, 120),
        ),
        (
            "fio write, same disks".to_string(),
            series(&rows, first, "fio_write_mib_s"),
            RGBColor(255, 152, 150),
        ),
    ];
    // Each further target count a lighter shade of the same two colours.
    for (k, &t) in counts.iter().enumerate() {
        let fade = |c: u8| c.saturating_add((k as u8).saturating_mul(45));
        let label = |op: &str| match counts.len() {
            1 => format!("{op}, disks"),
            _ => format!("{op}, {t} target(s)"),
        };
        data.push((
            label("PUT"),
            series(&rows, t, "disk_put_mib_s"),
            RGBColor(214, fade(39), fade(40)),
        ));
        data.push((
            label("GET"),
            series(&rows, t, "disk_get_mib_s"),
            RGBColor(fade(31), fade(119), 180),
        ));
    }
    let xmax = data
        .iter()
        .flat_map(|(_, s, _)| s.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let ymax = data
        .iter()
        .flat_map(|(_, s, _)| s.iter().map(|p| p.1))
        .fold(1.0, f64::max)
        * 1.1;

    let root = SVGBackend::new(svg, (720, 460)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("aisnode throughput vs disks ({title})"),
            ("sans-serif", 15),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..xmax + 0.5, 0.0..ymax)?;
    chart
        .configure_mesh()
        .x_desc("disks")
        .y_desc("MiB/s")
        .x_labels(xmax as usize + 1)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    for (name, points, color) in data {
        let name = name.as_str();
        if points.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 3, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
