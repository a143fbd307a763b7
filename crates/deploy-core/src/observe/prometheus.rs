//! The one Prometheus writer: text exposition format 0.0.4, gauges only, label values escaped
//! in one place. The monitor's figures and the reconcile service's both go through it.

use std::fmt::Write as _;

/// A document being written: gauges, each with its help line and samples.
#[derive(Debug, Default, Clone)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// An empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts gauge `name` with its help text; the samples that follow belong to it.
    pub fn gauge(&mut self, name: &str, help: &str) -> &mut Self {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} gauge");
        self
    }

    /// One sample of `name` with `labels` (values escaped).
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        let labels: Vec<String> =
            labels.iter().map(|(key, value)| format!("{key}=\"{}\"", escape(value))).collect();
        let _ = writeln!(self.text, "{name}{{{}}} {value}", labels.join(","));
        self
    }

    /// The document.
    pub fn finish(self) -> String {
        self.text
    }
}

/// A label value as the format wants it: `\`, `"` and new lines escaped.
fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn labels_are_escaped_and_gauges_typed() {
        let mut exposition = super::Exposition::new();
        exposition.gauge("x_total", "Some help").sample("x_total", &[("env", "a\"b\\c\nd")], 1.5);
        assert_eq!(
            exposition.finish(),
            "# HELP x_total Some help\n# TYPE x_total gauge\nx_total{env=\"a\\\"b\\\\c\\nd\"} 1.5\n"
        );
    }
}
