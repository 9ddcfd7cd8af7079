//! How much text templates may make: a few nested loops or `replace`s of
//! a short stack would otherwise fill the memory until the process is
//! killed. One render, or one helper's result, stops at [`MAX_RENDERED`];
//! everything rendered while one host is resolved ([`per_host_budget`])
//! stops at [`MAX_RENDERED_PER_HOST`] (a loop over a list, each item
//! rendering just under the first limit); helpers' results count too.

use handlebars::Output;
use std::cell::Cell;

/// The most text one render, or one helper's result, may make: far more
/// than any real file (keel reads 4 MiB of YAML or template at most).
pub(crate) const MAX_RENDERED: usize = 16 << 20;

/// The most text rendered for one host, every template together.
pub(crate) const MAX_RENDERED_PER_HOST: usize = 128 << 20;

thread_local! {
    /// What this thread may still render for the host it resolves
    /// (`None`: no host's budget is running).
    static LEFT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Run `f` (one host's resolution, on this thread) with a budget of
/// [`MAX_RENDERED_PER_HOST`] for every render it makes.
pub(crate) fn per_host_budget<T>(f: impl FnOnce() -> T) -> T {
    /// Puts the outer budget back, also when `f` panics.
    struct Restore(Option<usize>);
    impl Drop for Restore {
        fn drop(&mut self) {
            LEFT.set(self.0);
        }
    }
    let _restore = Restore(LEFT.replace(Some(MAX_RENDERED_PER_HOST)));
    f()
}

/// Count `n` bytes rendered against the running budget.
pub(super) fn spend(n: usize) {
    if let Some(left) = LEFT.get() {
        LEFT.set(Some(left.saturating_sub(n)));
    }
}

/// Count a helper's result of `n` bytes against the running budget, or
/// refuse it when the budget has less left (helpers' work counts too:
/// `replace`s that print little still take time and memory).
pub(super) fn charge(n: usize) -> Result<(), String> {
    match LEFT.get() {
        Some(left) if n > left => Err(over_budget()),
        _ => {
            spend(n);
            Ok(())
        }
    }
}

fn over_budget() -> String {
    format!(
        "the text rendered for this host is over {} MiB in all: a loop over a list renders too much in each item",
        MAX_RENDERED_PER_HOST >> 20
    )
}

/// What a render past a limit fails with.
pub(super) fn too_large(what: &str) -> String {
    format!(
        "{what} is over {} MiB: a loop inside a loop, or a helper such as `replace` applied to its own result, multiplies the text",
        MAX_RENDERED >> 20
    )
}

/// A render's output, refused past [`MAX_RENDERED`] or what is left of the
/// host's budget (before it is allocated, so the render stops there).
#[derive(Default)]
pub(super) struct BoundedOutput(pub(super) String);

impl Output for BoundedOutput {
    fn write(&mut self, seg: &str) -> Result<(), std::io::Error> {
        let len = self.0.len() + seg.len();
        if len > MAX_RENDERED {
            return Err(std::io::Error::other(too_large("the rendered text")));
        }
        if LEFT.get().is_some_and(|left| len > left) {
            return Err(std::io::Error::other(over_budget()));
        }
        self.0.push_str(seg);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Templates;
    use serde_json::json;

    /// Within a host's budget, renders stop once 128 MiB were rendered in
    /// all; outside it, and in the next host's, they go on as before.
    #[test]
    fn a_hosts_renders_stop_at_its_budget() {
        let t = Templates::new();
        let ctx = json!({"vars": {"s": "x".repeat(1 << 20)}});
        let ten = "{{vars.s}}".repeat(10);
        per_host_budget(|| {
            for _ in 0..12 {
                t.render(&ten, &ctx).unwrap();
            }
            let e = t.render(&ten, &ctx).unwrap_err();
            assert!(e.message.contains("over 128 MiB in all"), "{e}");
            // A helper's result that is never printed counts as well.
            let quiet = "{{#if (replace vars.s 'x' 'y')}}ok{{/if}}";
            let e = (0..9)
                .find_map(|_| t.render(quiet, &ctx).err())
                .expect("the 8 MiB left run out");
            assert!(
                e.message
                    .starts_with("`replace`: the text rendered for this host"),
                "{e}"
            );
        });
        let quiet = "{{#if (replace vars.s 'x' 'y')}}ok{{/if}}";
        assert_eq!(t.render(quiet, &ctx).unwrap(), "ok");
        assert_eq!(LEFT.get(), None);
        t.render(&ten, &ctx).unwrap();
        per_host_budget(|| t.render(&ten, &ctx).unwrap());
    }
}
