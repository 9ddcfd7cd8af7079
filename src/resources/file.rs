//! placeholder: replaced by the real `file` kind.
use super::*;
#[derive(Debug, serde::Deserialize)]
pub struct File { pub path: String }
impl Kind for File {
    const KIND: &'static str = "file";
    type Fact = ();
    fn name(&self) -> String { self.path.clone() }
    fn probe(&self) -> String { String::new() }
    fn parse(&self, _: &ProbeOutput) -> Result<(), String> { Ok(()) }
    fn diff(&self, _: &()) -> Diff { Diff::noop() }
    fn commands(&self, _: &(), _: &Diff) -> Vec<Cmd> { vec![] }
}
