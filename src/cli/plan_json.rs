//! `keel plan --json` written host by host: the same text as
//! `serde_json::to_string_pretty` of the whole plan document, but each
//! host's plan is printed as soon as it (and those before it) is planned
//! and then let go, so memory holds the hosts being planned, not every
//! host's plan (1,000 hosts × 2,000 resources held them all).

use crate::plan::{HostPlan, Plan};

/// The document's text around its `hosts` list, written piece by piece.
pub struct JsonStream {
    /// Hosts written so far.
    written: usize,
}

/// The line of an empty `hosts` list in the pretty document.
const EMPTY_HOSTS: &str = "\n  \"hosts\": [],\n";

/// `doc` (with no hosts) pretty-printed, cut around its `hosts` line.
fn halves(doc: &Plan) -> Result<(String, String), String> {
    let text = serde_json::to_string_pretty(doc).map_err(|e| e.to_string())?;
    let (head, tail) = text
        .split_once(EMPTY_HOSTS)
        .ok_or("internal: the plan document has no empty hosts list")?;
    Ok((head.to_string(), tail.to_string()))
}

impl JsonStream {
    /// Start the document: what precedes the hosts, from `totals` (the
    /// document without hosts; its summary is filled in by [`finish`]).
    ///
    /// [`finish`]: JsonStream::finish
    pub fn start(totals: &Plan, out: &mut impl FnMut(&str)) -> Result<Self, String> {
        out(&halves(totals)?.0);
        Ok(JsonStream { written: 0 })
    }

    /// One host's plan, indented as it is inside the whole document.
    pub fn host(&mut self, h: &HostPlan, out: &mut impl FnMut(&str)) -> Result<(), String> {
        let text = serde_json::to_string_pretty(h).map_err(|e| e.to_string())?;
        let mut s = String::with_capacity(text.len() + text.len() / 8 + 32);
        s.push_str(if self.written == 0 {
            "\n  \"hosts\": [\n"
        } else {
            ",\n"
        });
        for (i, line) in text.lines().enumerate() {
            if i > 0 {
                s.push('\n');
            }
            s.push_str("    ");
            s.push_str(line);
        }
        self.written += 1;
        out(&s);
        Ok(())
    }

    /// End the document: what follows the hosts, from `totals` (the
    /// document without hosts, with every host's summary added).
    pub fn finish(self, totals: &Plan, out: &mut impl FnMut(&str)) -> Result<(), String> {
        let tail = halves(totals)?.1;
        let close = if self.written == 0 {
            EMPTY_HOSTS.to_string()
        } else {
            "\n  ],\n".to_string()
        };
        out(&format!("{close}{tail}\n"));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(hosts: Vec<HostPlan>) -> Plan {
        Plan::new(
            "web".into(),
            "/p/stacks/web.yaml".into(),
            "/p/inventory".into(),
            None,
            hosts,
        )
    }

    fn host(name: &str, error: Option<&str>) -> HostPlan {
        HostPlan {
            host: name.into(),
            error: error.map(str::to_string),
            ..HostPlan::default()
        }
    }

    /// What the stream writes for `hosts`, the totals summed as the CLI does.
    fn streamed(hosts: &[HostPlan]) -> String {
        let mut text = String::new();
        let mut out = |s: &str| text.push_str(s);
        let mut totals = doc(Vec::new());
        let mut js = JsonStream::start(&totals, &mut out).unwrap();
        for h in hosts {
            js.host(h, &mut out).unwrap();
            h.add_to(&mut totals.summary, &mut totals.changes);
        }
        js.finish(&totals, &mut out).unwrap();
        text
    }

    #[test]
    fn the_stream_is_the_whole_document_pretty_printed() {
        for hosts in [
            vec![],
            vec![host("web1", None)],
            vec![
                host("web1", None),
                host("web2", Some("cannot connect:\n\"refused\"")),
                host("db1", None),
            ],
        ] {
            let whole = serde_json::to_string_pretty(&doc(hosts.clone())).unwrap() + "\n";
            assert_eq!(streamed(&hosts), whole);
            let back: Plan = serde_json::from_str(&streamed(&hosts)).unwrap();
            assert_eq!(back.hosts.len(), hosts.len());
        }
    }
}
