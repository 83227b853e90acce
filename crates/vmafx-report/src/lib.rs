//! libvmaf-compatible score files: XML, JSON, CSV and subtitle (`--sub`), byte for byte in the
//! layout and number formatting of libvmaf v3.2.0's `vmaf` tool, apart from the version and fps.

use std::fmt::Write as _;
use std::io::{self, Write};

use vmafx_engine::collector::FeatureCollector;
use vmafx_engine::feature::name::alias;
use vmafx_engine::pool::Pooled;

/// The version string written into XML and JSON output.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Which file format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// `<VMAF>` XML, libvmaf's default.
    Xml,
    /// JSON.
    Json,
    /// Comma-separated values, one row per frame.
    Csv,
    /// MicroDVD subtitles, one line per frame.
    Sub,
}

/// Everything a score file holds.
pub struct Report<'a> {
    /// Per-frame values, features and model scores, in column order.
    pub collector: &'a FeatureCollector,
    /// Whole-clip metrics with no per-frame values (libvmaf's aggregate_metrics).
    pub aggregate: &'a [(String, f64)],
    /// `--subsample`: only frames whose index is a multiple of this are written and pooled.
    pub subsample: usize,
    /// Luma width, for the XML params element.
    pub width: usize,
    /// Luma height.
    pub height: usize,
    /// Frames scored per second of scoring time.
    pub fps: f64,
    /// Whether `--fast-metrics` allowed inexact kernels: recorded as JSON `"fast_metrics":
    /// true` after `fps` and XML `fast_metrics="true"` in `<fyi>`, so that such a result is
    /// never taken for an exact one. Absent when off, which keeps libvmaf's layout.
    pub fast_metrics: bool,
    /// Number of frame pairs read; pooling covered frames `0..frame_count`.
    pub frame_count: usize,
    /// The pooled statistics of each collector vector, in the collector's order (from
    /// [`vmafx_engine::pool::pool_vectors`]; the report never pools again).
    pub pooled: &'a [Option<Pooled>],
}

const POOL_METHODS: [&str; 4] = ["min", "max", "mean", "harmonic_mean"];

/// Counts the zeros between the decimal point and the first significant fractional digit,
/// the way libvmaf decides between six and sixteen decimals.
fn fractional_leading_zeros(x: f64) -> u32 {
    let x = x.abs();
    // C truncates through `int`; saturating here leaves a fraction of at least 1 for huge
    // values either way, which counts as no leading zeros in both.
    let mut fractional = x - (x as i32) as f64;
    let mut count = 0;
    while fractional < 1.0 && fractional != 0.0 {
        fractional *= 10.0;
        count += 1;
    }
    count
}

/// Formats a value with libvmaf's `%.6f`, or `%.16f` when six decimals would hide it.
pub fn format_value(x: f64) -> String {
    let decimals = if fractional_leading_zeros(x) <= 6 {
        6
    } else {
        16
    };
    format_fixed(x, decimals)
}

/// C's `%.Nf`: Rust agrees with glibc on finite values (both round the exact binary value);
/// only the spelling of NaN differs.
fn format_fixed(x: f64, decimals: usize) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    format!("{x:.decimals$}")
}

impl Report<'_> {
    /// Number of frame slots any feature reaches.
    fn frame_slots(&self) -> usize {
        self.collector
            .vectors()
            .iter()
            .map(|v| v.values.len())
            .max()
            .unwrap_or(0)
    }

    /// Indices of the frames written: subsampled, and with at least one value.
    fn written_frames(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.frame_slots()).filter(move |&i| {
            !(self.subsample > 1 && i % self.subsample != 0)
                && self
                    .collector
                    .vectors()
                    .iter()
                    .any(|v| v.values.get(i).copied().flatten().is_some())
        })
    }

    /// The values written for frame `i`: (display name, value) in column order.
    fn frame_values(&self, i: usize) -> impl Iterator<Item = (&str, f64)> + '_ {
        self.collector
            .vectors()
            .iter()
            .filter_map(move |v| Some((alias(&v.name), v.values.get(i).copied().flatten()?)))
    }

    /// Pooled statistics of the `k`th vector, in libvmaf's method order; `None` where pooling
    /// failed.
    fn pooled(&self, k: usize) -> [Option<f64>; 4] {
        match self.pooled.get(k).copied().flatten() {
            Some(p) => [
                Some(p.min),
                Some(p.max),
                Some(p.mean),
                Some(p.harmonic_mean),
            ],
            None => [None; 4],
        }
    }

    /// Writes the report in `format`.
    pub fn write(&self, format: OutputFormat, out: &mut impl Write) -> io::Result<()> {
        let text = match format {
            OutputFormat::Xml => self.xml(),
            OutputFormat::Json => self.json(),
            OutputFormat::Csv => self.csv(),
            OutputFormat::Sub => self.sub(),
        };
        out.write_all(text.as_bytes())
    }

    /// The XML document.
    pub fn xml(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "<VMAF version=\"{VERSION}\">");
        let _ = writeln!(
            s,
            "  <params qualityWidth=\"{}\" qualityHeight=\"{}\" />",
            self.width, self.height
        );
        let fast = if self.fast_metrics {
            " fast_metrics=\"true\""
        } else {
            ""
        };
        let _ = writeln!(s, "  <fyi fps=\"{}\"{fast} />", format_fixed(self.fps, 2));
        s.push_str("  <frames>\n");
        for i in self.written_frames() {
            let _ = write!(s, "    <frame frameNum=\"{i}\" ");
            for (name, value) in self.frame_values(i) {
                let _ = write!(s, "{name}=\"{}\" ", format_value(value));
            }
            s.push_str("/>\n");
        }
        s.push_str("  </frames>\n");
        s.push_str("  <pooled_metrics>\n");
        for (k, vector) in self.collector.vectors().iter().enumerate() {
            let _ = write!(s, "    <metric name=\"{}\" ", alias(&vector.name));
            for (method, value) in POOL_METHODS.iter().zip(self.pooled(k)) {
                if let Some(value) = value {
                    let _ = write!(s, "{method}=\"{}\" ", format_value(value));
                }
            }
            s.push_str("/>\n");
        }
        s.push_str("  </pooled_metrics>\n");
        s.push_str("  <aggregate_metrics ");
        for (name, value) in self.aggregate {
            let _ = write!(s, "{name}=\"{}\" ", format_value(*value));
        }
        s.push_str("/>\n");
        s.push_str("</VMAF>\n");
        s
    }

    /// The JSON document, with libvmaf's exact whitespace and `null` for non-finite values.
    pub fn json(&self) -> String {
        let mut s = String::new();
        s.push_str("{\n");
        let _ = writeln!(s, "  \"version\": \"{VERSION}\",");
        if self.fps.is_finite() {
            let _ = writeln!(s, "  \"fps\": {},", format_fixed(self.fps, 2));
        } else {
            s.push_str("  \"fps\": null,\n");
        }
        if self.fast_metrics {
            s.push_str("  \"fast_metrics\": true,\n");
        }
        s.push_str("  \"frames\": [");
        for i in self.written_frames() {
            // libvmaf keys the separator on the frame index, not on frames already written.
            s.push_str(if i > 0 { ",\n" } else { "\n" });
            s.push_str("    {\n");
            let _ = writeln!(s, "      \"frameNum\": {i},");
            s.push_str("      \"metrics\": {\n");
            let values: Vec<_> = self.frame_values(i).collect();
            for (k, (name, value)) in values.iter().enumerate() {
                let comma = if k + 1 < values.len() { "," } else { "" };
                if value.is_finite() {
                    let _ = writeln!(s, "        \"{name}\": {}{comma}", format_value(*value));
                } else {
                    // libvmaf writes no newline after a null metric.
                    let _ = write!(s, "        \"{name}\": null{comma}");
                }
            }
            s.push_str("      }\n");
            s.push_str("    }");
        }
        s.push_str("\n  ],\n");
        s.push_str("  \"pooled_metrics\": {");
        for (k, vector) in self.collector.vectors().iter().enumerate() {
            s.push_str(if k > 0 { ",\n" } else { "\n" });
            let _ = write!(s, "    \"{}\": {{", alias(&vector.name));
            for (j, (method, value)) in POOL_METHODS.iter().zip(self.pooled(k)).enumerate() {
                let Some(value) = value else { continue };
                s.push_str(if j > 0 { ",\n" } else { "\n" });
                if value.is_finite() {
                    let _ = write!(s, "      \"{method}\": {}", format_value(value));
                } else {
                    let _ = write!(s, "      \"{method}\": null");
                }
            }
            s.push('\n');
            s.push_str("    }");
        }
        s.push_str("\n  },\n");
        s.push_str("  \"aggregate_metrics\": {");
        for (k, (name, value)) in self.aggregate.iter().enumerate() {
            if value.is_finite() {
                let _ = write!(s, "\n    \"{name}\": {}", format_value(*value));
            } else {
                let _ = write!(s, "\n    \"{name}\": null");
            }
            if k + 1 < self.aggregate.len() {
                s.push(',');
            }
        }
        s.push_str("\n  }\n");
        s.push_str("}\n");
        s
    }

    /// The CSV table.
    pub fn csv(&self) -> String {
        let mut s = String::from("Frame,");
        for vector in self.collector.vectors() {
            let _ = write!(s, "{},", alias(&vector.name));
        }
        s.push('\n');
        for i in self.written_frames() {
            let _ = write!(s, "{i},");
            for (_, value) in self.frame_values(i) {
                let _ = write!(s, "{},", format_value(value));
            }
            s.push('\n');
        }
        s
    }

    /// The MicroDVD subtitle track.
    pub fn sub(&self) -> String {
        let mut s = String::new();
        for i in self.written_frames() {
            let _ = write!(s, "{{{i}}}{{{}}}frame: {i}|", i + 1);
            for (name, value) in self.frame_values(i) {
                let _ = write!(s, "{name}: {}|", format_value(value));
            }
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmafx_engine::pool::pool_vectors;

    fn sample() -> FeatureCollector {
        let mut c = FeatureCollector::new();
        c.append("VMAF_integer_feature_adm2_score", 0, 0.912026)
            .unwrap();
        c.append("VMAF_integer_feature_adm2_score", 1, 0.5).unwrap();
        c.append("psnr_y", 0, f64::INFINITY).unwrap();
        c.append("psnr_y", 1, 30.0).unwrap();
        c.append("vmaf", 0, 0.00000012345).unwrap();
        c.append("vmaf", 1, 100.0).unwrap();
        c
    }

    fn report<'a>(c: &'a FeatureCollector, pooled: &'a [Option<Pooled>]) -> Report<'a> {
        Report {
            collector: c,
            aggregate: &[],
            subsample: 1,
            width: 8,
            height: 4,
            fps: 12.345,
            fast_metrics: false,
            frame_count: 2,
            pooled,
        }
    }

    #[test]
    fn tiny_values_get_sixteen_decimals() {
        assert_eq!(format_value(0.5), "0.500000");
        assert_eq!(format_value(0.00000012345), "0.0000001234500000");
        assert_eq!(format_value(1e-6), "0.000001");
        assert_eq!(format_value(100.0), "100.000000");
        assert_eq!(format_value(f64::INFINITY), "inf");
        assert_eq!(format_value(f64::NAN), "nan");
    }

    #[test]
    fn json_has_libvmaf_layout_and_parses() {
        let c = sample();
        let pooled = pool_vectors(&c, 2, 1);
        let json = report(&c, &pooled).json();
        assert!(json.contains(
            "      \"frameNum\": 1,\n      \"metrics\": {\n        \"integer_adm2\": 0.500000,\n"
        ));
        assert!(json.contains("\"psnr_y\": null,        \"vmaf\""), "{json}");
        assert!(json.contains("  \"fps\": 12.35,\n") || json.contains("  \"fps\": 12.34,\n"));
        let finite_only: String = json.replace("null,        ", "null,\n        ");
        let parsed: serde_json::Value = serde_json::from_str(&finite_only).unwrap();
        assert_eq!(parsed["pooled_metrics"]["integer_adm2"]["min"], 0.5);
        assert_eq!(parsed["frames"][1]["metrics"]["vmaf"], 100.0);
    }

    #[test]
    fn fast_metrics_is_recorded_only_when_on() {
        let c = sample();
        let pooled = pool_vectors(&c, 2, 1);
        let mut r = report(&c, &pooled);
        assert!(!r.json().contains("fast_metrics"));
        assert!(!r.xml().contains("fast_metrics"));
        r.fast_metrics = true;
        let json = r.json().replace("null,        ", "null,\n        ");
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["fast_metrics"], true);
        assert!(r.xml().contains(" fast_metrics=\"true\" />"), "{}", r.xml());
    }

    #[test]
    fn csv_and_sub_rows() {
        let c = sample();
        let pooled = pool_vectors(&c, 2, 1);
        let r = report(&c, &pooled);
        assert_eq!(
            r.csv(),
            "Frame,integer_adm2,psnr_y,vmaf,\n0,0.912026,inf,0.0000001234500000,\n1,0.500000,30.000000,100.000000,\n"
        );
        assert!(r
            .sub()
            .starts_with("{0}{1}frame: 0|integer_adm2: 0.912026|psnr_y: inf|"));
    }

    #[test]
    fn subsample_skips_frames_in_rows_and_pools() {
        let c = sample();
        let pooled = pool_vectors(&c, 2, 2);
        let mut r = report(&c, &pooled);
        r.subsample = 2;
        assert_eq!(r.csv().lines().count(), 2);
        let xml = r.xml();
        assert!(xml.contains("<metric name=\"integer_adm2\" min=\"0.912026\" max=\"0.912026\""));
    }
}
