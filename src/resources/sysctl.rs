//! placeholder: the `sysctl` kind is being written.
use super::*;
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sysctl {
    pub name: String,
}
impl Kind for Sysctl {
    const KIND: &'static str = "sysctl";
    type Fact = ();
    fn name(&self) -> String {
        self.name.clone()
    }
    fn check(&self) -> Vec<Invalid> {
        vec![Invalid::field("name", "the `sysctl` kind is not implemented yet")]
    }
    fn probe(&self) -> String {
        String::new()
    }
    fn parse(&self, _: &ProbeOutput) -> Result<(), String> {
        Ok(())
    }
    fn diff(&self, _: &()) -> Diff {
        Diff::noop()
    }
    fn commands(&self, _: &(), _: &Diff) -> Vec<Cmd> {
        vec![]
    }
}
