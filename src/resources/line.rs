//! placeholder: replaced by the real `line` kind.
use super::*;
#[derive(Debug, serde::Deserialize)]
pub struct Line { pub name: String }
impl Kind for Line {
    const KIND: &'static str = "line";
    type Fact = ();
    fn name(&self) -> String { self.name.clone() }
    fn probe(&self) -> String { String::new() }
    fn parse(&self, _: &ProbeOutput) -> Result<(), String> { Ok(()) }
    fn diff(&self, _: &()) -> Diff { Diff::noop() }
    fn commands(&self, _: &(), _: &Diff) -> Vec<Cmd> { vec![] }
}
