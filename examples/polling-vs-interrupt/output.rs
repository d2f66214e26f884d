//! Output: the JSON rows scripts/pvi-readme.py reads, the table, the plot.

use super::*;

pub(crate) fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

pub(crate) fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "null".into()
    }
}

pub(crate) struct Report {
    pub(crate) cells: Vec<Cell>,
    pub(crate) idle: Vec<(String, f64)>,
    pub(crate) floors: Vec<(&'static str, f64)>,
    pub(crate) goals: Vec<Goal>,
    /// The public-key cells (`pkey.rs`): JSON rows of their own (key `pkey`), not in the matrix table or the plot.
    pub(crate) pkey: Vec<PkeyCell>,
}

pub(crate) struct Goal {
    pub(crate) name: &'static str,
    pub(crate) holds: Option<bool>,
    pub(crate) detail: String,
}

pub(crate) fn write_json(path: &str, r: &Report, meta: &str) -> std::io::Result<()> {
    let mut o = String::from("[\n");
    let _ = writeln!(o, "  {meta},");
    let mut rows = Vec::new();
    for c in &r.cells {
        rows.push(format!(
            "  {{\"mode\": {}, \"depth\": {}, \"job\": {}, \"service\": {}, \"jobs_per_s\": {}, \"mb_per_s\": {}, \
             \"p50_us\": {}, \"p99_us\": {}, \"app_cpu_us_per_job\": {}, \"dev_cpu_us_per_job\": {}}}",
            json_str(&c.runner),
            c.depth,
            json_str(c.job.name()),
            json_str(c.service.name()),
            json_num(c.jobs_per_s),
            json_num(c.mb_per_s),
            json_num(c.p50_us),
            json_num(c.p99_us),
            json_num(c.app_cpu_us_per_job),
            json_num(c.dev_cpu_us_per_job),
        ));
    }
    for (m, pct) in &r.idle {
        rows.push(format!(
            "  {{\"mode\": {}, \"idle_cpu_pct\": {}}}",
            json_str(m),
            json_num(*pct)
        ));
    }
    for (f, v) in &r.floors {
        rows.push(format!(
            "  {{\"floor\": {}, \"value_us\": {}}}",
            json_str(f),
            json_num(*v)
        ));
    }
    for c in &r.pkey {
        rows.push(format!(
            "  {{\"pkey\": {}, \"path\": {}, \"pkey_depth\": {}, \"ops_per_s\": {}, \"p50_us\": {}, \"p99_us\": {}, \
             \"app_cpu_us_per_op\": {}, \"net_app_cpu_us_per_op\": {}, \"dev_cpu_us_per_op\": {}, \
             \"other_cpu_us_per_op\": {}, \"on_device\": {}, \"app_switches_per_op\": {}, \
             \"wake_floor_us\": {}}}",
            json_str(c.op.name()),
            json_str(c.path()),
            c.depth,
            json_num(c.ops_per_s),
            json_num(c.p50_us),
            json_num(c.p99_us),
            json_num(c.app_cpu_us_per_op),
            json_num(c.net_app_cpu_us_per_op),
            json_num(c.dev_cpu_us_per_op),
            json_num(c.other_cpu_us_per_op),
            json_num(c.on_device),
            json_num(c.switches_per_op),
            json_num(c.wake_floor_us),
        ));
    }
    for g in &r.goals {
        rows.push(format!(
            "  {{\"goal\": {}, \"holds\": {}, \"detail\": {}}}",
            json_str(g.name),
            g.holds.map_or("null".to_string(), |b| b.to_string()),
            json_str(&g.detail)
        ));
    }
    o.push_str(&rows.join(",\n"));
    o.push_str("\n]\n");
    std::fs::write(path, o)
}

pub(crate) fn print_table(cells: &[Cell]) {
    println!(
        "{:<17} {:>5} {:<13} {:<10} {:>11} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "mode",
        "depth",
        "job",
        "service",
        "jobs/s",
        "MB/s",
        "p50 µs",
        "p99 µs",
        "app µs/job",
        "dev µs/job"
    );
    let mut last = None;
    for c in cells {
        let key = (c.job, c.service);
        if last.is_some() && last != Some(key) {
            println!();
        }
        last = Some(key);
        println!(
            "{:<17} {:>5} {:<13} {:<10} {:>11.0} {:>9.1} {:>9.1} {:>9.1} {:>10.2} {:>10.2}",
            c.runner,
            c.depth,
            c.job.name(),
            c.service.name(),
            c.jobs_per_s,
            c.mb_per_s,
            c.p50_us,
            c.p99_us,
            c.app_cpu_us_per_job,
            c.dev_cpu_us_per_job
        );
    }
}

pub(crate) fn plot(path: &str, cells: &[Cell], title: &str) -> Result<(), BoxError> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (1280, 900)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, body) = root.split_vertically(40);
    top.draw(&Text::new(
        title.to_string(),
        (20, 12),
        ("sans-serif", 20).into_font(),
    ))?;
    let panels = body.split_evenly((2, 2));
    let mut runners: Vec<String> = Vec::new();
    for c in cells {
        if !runners.contains(&c.runner) {
            runners.push(c.runner.clone());
        }
    }
    let specs = [
        (Job::Null, "null jobs: throughput (jobs/s, log)", true),
        (Job::Null, "null jobs: app CPU per job (µs, log)", false),
        (Job::Gzip4k, "gzip 4 KiB: throughput (jobs/s, log)", true),
        (Job::Gzip4k, "gzip 4 KiB: app CPU per job (µs, log)", false),
    ];
    for (panel, (job, caption, thr)) in panels.iter().zip(specs) {
        let series: Vec<(usize, Vec<(f64, f64)>)> = runners
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let pts = DEPTHS
                    .iter()
                    .enumerate()
                    .filter_map(|(x, d)| {
                        cells
                            .iter()
                            .find(|c| {
                                &c.runner == r
                                    // A null job inline does nothing at all: no line to compare.
                                    && !(job == Job::Null && r == "inline")
                                    && c.job == job
                                    && c.depth == *d
                                    && matches!(c.service, Service::None | Service::NotApplicable)
                            })
                            .map(|c| {
                                (
                                    x as f64,
                                    if thr {
                                        c.jobs_per_s
                                    } else {
                                        c.app_cpu_us_per_job
                                    },
                                )
                            })
                    })
                    .filter(|p| p.1 > 0.0)
                    .collect();
                (i, pts)
            })
            .filter(|(_, p): &(usize, Vec<(f64, f64)>)| !p.is_empty())
            .collect();
        // Log scale: the modes differ by orders of magnitude.
        let ys = || {
            series
                .iter()
                .flat_map(|(_, p)| p.iter().map(|q| q.1))
                .filter(|y| *y > 0.0)
        };
        let ymax = ys().fold(1e-3f64, f64::max) * 1.5;
        let ymin = ys().fold(f64::INFINITY, f64::min).min(ymax / 10.0) / 1.5;
        let mut chart = ChartBuilder::on(panel)
            .caption(caption, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.2f64..3.2f64, (ymin..ymax).log_scale())?;
        chart
            .configure_mesh()
            .x_labels(4)
            .x_label_formatter(&|x| {
                let i = x.round() as usize;
                if (x - x.round()).abs() < 0.01 && i < DEPTHS.len() {
                    DEPTHS[i].to_string()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| {
                if *y >= 100.0 {
                    format!("{y:.0}")
                } else if *y >= 1.0 {
                    format!("{y:.1}")
                } else {
                    format!("{y:.2}")
                }
            })
            .x_desc("queue depth (outstanding jobs)")
            .draw()?;
        for (i, pts) in series {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                .label(runners[i].clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart.draw_series(PointSeries::of_element(
                pts,
                3,
                color.filled(),
                &|c, s, st| Circle::new(c, s, st),
            ))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
