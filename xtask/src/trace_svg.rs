//! `cargo xtask trace-svg TRACE.json OUT.svg`: draws a `--trace` timeline as an SVG picture,
//! one row per slot, one bar per step, for the docs.

use std::fmt::Write;

use serde_json::Value as Json;

const ROW: f64 = 28.0;
const LEFT: f64 = 70.0;
const WIDTH: f64 = 900.0;

/// Reads a Chrome Trace Event file written by `--trace` and writes the SVG.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let [input, output] = args else {
        return Err("usage: cargo xtask trace-svg TRACE.json OUT.svg".into());
    };
    let text = std::fs::read_to_string(input).map_err(|e| format!("cannot read {input}: {e}"))?;
    let trace: Json =
        serde_json::from_str(&text).map_err(|e| format!("{input} is not JSON: {e}"))?;
    let svg = render(&trace)?;
    std::fs::write(output, svg).map_err(|e| format!("cannot write {output}: {e}"))
}

struct Span {
    name: String,
    lane: u64,
    start: f64,
    dur: f64,
    status: String,
}

fn render(trace: &Json) -> Result<String, String> {
    let events = trace["traceEvents"]
        .as_array()
        .ok_or("no `traceEvents` array")?;
    let spans: Vec<Span> = events
        .iter()
        .filter(|e| e["ph"] == "X")
        .map(|e| Span {
            name: e["name"].as_str().unwrap_or("?").to_owned(),
            lane: e["tid"].as_u64().unwrap_or(1),
            start: e["ts"].as_f64().unwrap_or(0.0),
            dur: e["dur"].as_f64().unwrap_or(0.0),
            status: e["args"]["status"].as_str().unwrap_or("done").to_owned(),
        })
        .collect();
    let end = spans.iter().map(|s| s.start + s.dur).fold(1.0, f64::max);
    let lanes = spans.iter().map(|s| s.lane).max().unwrap_or(1);
    let scale = WIDTH / end;
    let height = 40.0 + ROW * lanes as f64 + 30.0;
    let mut svg = String::new();
    let total_w = LEFT + WIDTH + 20.0;
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        svg,
        r#"<text x="10" y="20" font-weight="bold">tanto run timeline ({:.0} ms)</text>"#,
        end / 1000.0
    );
    for lane in 1..=lanes {
        let y = 30.0 + ROW * (lane - 1) as f64;
        let _ = writeln!(
            svg,
            r##"<text x="10" y="{}" fill="#555">slot {lane}</text>"##,
            y + 18.0
        );
    }
    for s in &spans {
        let x = LEFT + s.start * scale;
        let w = (s.dur * scale).max(2.0);
        let y = 30.0 + ROW * (s.lane - 1) as f64 + 4.0;
        let fill = match s.status.as_str() {
            "failed" => "#e06c75",
            "cancelled" => "#d19a66",
            _ => "#61afef",
        };
        let _ = writeln!(
            svg,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{}" rx="3" fill="{fill}"><title>{} {:.0} ms</title></rect>"##,
            ROW - 8.0,
            s.name,
            s.dur / 1000.0
        );
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" fill="#fff">{} {:.0} ms</text>"##,
            x + 4.0,
            y + 14.0,
            s.name,
            s.dur / 1000.0
        );
    }
    let axis_y = 30.0 + ROW * lanes as f64 + 14.0;
    for i in 0..=4 {
        let t = end * f64::from(i) / 4.0;
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{axis_y:.1}" fill="#555">{:.0} ms</text>"##,
            LEFT + t * scale - 10.0,
            t / 1000.0
        );
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}
