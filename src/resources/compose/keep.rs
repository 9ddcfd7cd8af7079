//! `keep_releases`: the images of the last N releases a project ran stay
//! on the host (a rollback needs no registry), older ones are removed.
//!
//! A release of a project is the set of images its services run (labelled
//! with the stack's release when it has one). keel keeps their history in
//! `DIR/.keel-compose-PROJECT.releases`, one line per release, oldest
//! first: `ok|pending RELEASE IMAGE...`. Before an `up` the images about
//! to run are added as `pending` (unless they are a release that ran
//! already); once the `up` succeeded they become the newest `ok` release,
//! only the last N `ok` releases stay in the file, and the images of the
//! others (and of pending releases that never came up, such as a release
//! whose rollout was rolled back) are removed with `docker image rm`,
//! unless a kept release uses them too. Only images recorded there are
//! ever removed; one still used by a container stays (and is forgotten).

use super::*;
use crate::shell::Script;

/// The default of `keep_releases`.
pub(super) fn default_keep() -> u32 {
    3
}

/// A release of the history file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Kept {
    /// It came up (`ok`), or its `up` did not finish (`pending`).
    pub(super) ok: bool,
    /// The stack's release, `-` without one.
    pub(super) label: String,
    /// Its images, sorted.
    pub(super) images: Vec<String>,
}

/// What an `up` does to the history and the images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeepPlan {
    /// The history written before the `up` (`None`: unchanged).
    pub(super) start: Option<String>,
    /// The history written once the `up` succeeded.
    pub(super) finish: String,
    /// The images removed then, with the release they belonged to.
    pub(super) remove: Vec<(String, String)>,
}

/// The history file's lines (malformed lines are ignored).
pub(super) fn parse_history(text: &str) -> Vec<Kept> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let ok = match w.next()? {
                "ok" => true,
                "pending" => false,
                _ => return None,
            };
            let label = w.next()?.to_string();
            let mut images: Vec<String> = w.map(str::to_string).collect();
            images.sort();
            images.dedup();
            (!images.is_empty()).then_some(Kept { ok, label, images })
        })
        .collect()
}

pub(super) fn render_history(h: &[Kept]) -> String {
    h.iter()
        .map(|k| {
            format!(
                "{} {} {}\n",
                if k.ok { "ok" } else { "pending" },
                k.label,
                k.images.join(" ")
            )
        })
        .collect()
}

/// Before the `up`: `images` added as pending, unless they ran already.
pub(super) fn start(h: &[Kept], images: &[String], label: &str) -> Vec<Kept> {
    if h.iter().any(|k| k.ok && k.images == images) {
        return h.to_vec();
    }
    let mut out: Vec<Kept> = h.iter().filter(|k| k.images != images).cloned().collect();
    out.push(Kept {
        ok: false,
        label: label.to_string(),
        images: images.to_vec(),
    });
    out
}

/// After the `up`: `images` the newest ok release, the last `keep` ok
/// releases kept, and the images of the rest that no kept release uses.
pub(super) fn finish(
    h: &[Kept],
    images: &[String],
    label: &str,
    keep: u32,
) -> (Vec<Kept>, Vec<(String, String)>) {
    let mut all: Vec<Kept> = h.iter().filter(|k| k.images != images).cloned().collect();
    all.push(Kept {
        ok: true,
        label: label.to_string(),
        images: images.to_vec(),
    });
    let oks = all.iter().filter(|k| k.ok).count();
    let skip = oks.saturating_sub(keep.max(1) as usize);
    let mut seen = 0;
    let (mut kept, mut dropped) = (Vec::new(), Vec::new());
    for k in all {
        if k.ok {
            seen += 1;
            if seen > skip {
                kept.push(k);
                continue;
            }
        }
        dropped.push(k);
    }
    let in_use: BTreeSet<&String> = kept.iter().flat_map(|k| &k.images).collect();
    let mut remove: Vec<(String, String)> = Vec::new();
    for k in &dropped {
        for i in &k.images {
            if !in_use.contains(i) && !remove.iter().any(|(_, r)| r == i) {
                remove.push((k.label.clone(), i.clone()));
            }
        }
    }
    (kept, remove)
}

impl Compose {
    fn history_name(&self) -> String {
        format!(".keel-compose-{}.releases", self.project)
    }

    /// The history file's path (read by the probe).
    pub(super) fn history_path(&self) -> String {
        self.path(&self.history_name())
    }

    /// What an `up` with these images does to the history (`None`: keel
    /// cannot tell the images, so it records nothing).
    pub(super) fn keep_plan(
        &self,
        fact: &ComposeFact,
        images: &BTreeMap<String, String>,
    ) -> Option<KeepPlan> {
        let set: BTreeSet<&String> = images
            .values()
            .filter(|i| model::check_image(i).is_ok())
            .collect();
        if set.is_empty() {
            return None;
        }
        let set: Vec<String> = set.into_iter().cloned().collect();
        let label = self.release.as_deref().unwrap_or("-");
        let h = parse_history(&fact.releases);
        let started = start(&h, &set, label);
        let (kept, remove) = finish(&started, &set, label, self.keep_releases);
        Some(KeepPlan {
            start: (started != h).then(|| render_history(&started)),
            finish: render_history(&kept),
            remove,
        })
    }

    /// Write the history (atomically, mode 0644).
    pub(super) fn history_write(&self, text: &str) -> String {
        shell::write_file_atomic(
            &self.history_path(),
            text.as_bytes(),
            &Perms {
                mode: Some("0644".into()),
                ..Perms::default()
            },
        )
    }

    /// Remove the images of the releases no longer kept.
    pub(super) fn prune_script(&self, remove: &[(String, String)]) -> String {
        if remove.is_empty() {
            return String::new();
        }
        let list: Vec<&str> = remove.iter().map(|(_, i)| i.as_str()).collect();
        Script::new(include_str!("prune.sh"))
            .set("keel_images", list.join("\n"))
            .set("keel_name", format!("keel: compose[{}]", self.project))
            .render()
    }

    /// The plan's lines for the images removed: `images of release A:
    /// a:A b:A → (removed: keep_releases 2)`.
    pub(super) fn keep_attrs(&self, plan: &KeepPlan) -> Vec<AttrChange> {
        let mut by_label: Vec<(&str, Vec<&str>)> = Vec::new();
        for (label, image) in &plan.remove {
            match by_label.iter_mut().find(|(l, _)| l == label) {
                Some((_, v)) => v.push(image),
                None => by_label.push((label, vec![image])),
            }
        }
        by_label
            .into_iter()
            .map(|(label, images)| {
                let name = if label == "-" {
                    "images of an older release".to_string()
                } else {
                    format!("images of release {label}")
                };
                AttrChange::new(
                    &name,
                    Some(images.join(" ")),
                    Some(format!("(removed: keep_releases {})", self.keep_releases)),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    fn ok(label: &str, images: &[&str]) -> Kept {
        Kept {
            ok: true,
            label: label.into(),
            images: v(images),
        }
    }

    #[test]
    fn the_history_file_round_trips_and_ignores_bad_lines() {
        let text = "ok A a:A b:A\npending B a:B b:B\nnonsense\nok C\n\n";
        let h = parse_history(text);
        assert_eq!(h.len(), 2);
        assert_eq!(h[0], ok("A", &["a:A", "b:A"]));
        assert!(!h[1].ok);
        assert_eq!(
            render_history(&h),
            "ok A a:A b:A\npending B a:B b:B\n",
            "unparsable lines dropped"
        );
    }

    #[test]
    fn the_last_n_releases_stay_older_images_go() {
        let h = vec![ok("A", &["a:A", "db:15"]), ok("B", &["a:B", "db:15"])];
        let imgs = v(&["a:C", "db:15"]);
        let (kept, remove) = finish(&start(&h, &imgs, "C"), &imgs, "C", 2);
        assert_eq!(kept, vec![h[1].clone(), ok("C", &["a:C", "db:15"])]);
        // db:15 is still used by a kept release.
        assert_eq!(remove, vec![("A".to_string(), "a:A".to_string())]);
        // keep 3: nothing goes.
        let (kept, remove) = finish(&h, &imgs, "C", 3);
        assert_eq!(kept.len(), 3);
        assert!(remove.is_empty());
    }

    #[test]
    fn a_rollback_makes_the_old_release_the_newest() {
        let h = vec![ok("A", &["a:A"]), ok("B", &["a:B"])];
        let a = v(&["a:A"]);
        assert_eq!(start(&h, &a, "A"), h, "A ran already: not pending");
        let (kept, remove) = finish(&h, &a, "A", 2);
        assert_eq!(kept, vec![ok("B", &["a:B"]), ok("A", &["a:A"])]);
        assert!(remove.is_empty());
        // The next release pushes out B, not A.
        let c = v(&["a:C"]);
        let (_, remove) = finish(&kept, &c, "C", 2);
        assert_eq!(remove, vec![("B".to_string(), "a:B".to_string())]);
    }

    #[test]
    fn a_release_that_never_came_up_is_removed_by_the_next_success() {
        let h = vec![ok("A", &["a:A"]), ok("B", &["a:B"])];
        let bad = v(&["a:X"]);
        let started = start(&h, &bad, "X");
        assert_eq!(
            render_history(&started),
            "ok A a:A\nok B a:B\npending X a:X\n"
        );
        // The rollout failed; the next run (back at B) ends it.
        let b = v(&["a:B"]);
        let (kept, remove) = finish(&start(&started, &b, "B"), &b, "B", 2);
        assert_eq!(kept, h);
        assert_eq!(remove, vec![("X".to_string(), "a:X".to_string())]);
        // Trying X again and succeeding makes it ok.
        let (kept, _) = finish(&start(&started, &bad, "X"), &bad, "X", 5);
        assert_eq!(kept.last().unwrap(), &ok("X", &["a:X"]));
        assert_eq!(kept.len(), 3);
    }

    const PROJECT: &str = "project: app\ndir: /srv/app\nfile:\n  content: \"services:\\n  api:\\n    image: a:${R}\\n  db:\\n    image: db:15\\n\"\nenv: { content: \"R=C\\n\" }\nkeep_releases: 2\n";

    fn compose() -> Compose {
        crate::node::Node::parse(PROJECT)
            .unwrap()
            .deserialize()
            .unwrap()
    }

    fn running(history: &str) -> ProbeOutput {
        ProbeOutput::ok(format!(
            "dir=yes\ndocker=yes\ndaemon=up\ncompose=v2 2.20\nreleases={}\nctr=api|1|False|running||0|a:B|sha256:b|/app-api-1\nctr=db|1|False|running||0|db:15|sha256:d|/app-db-1\n",
            crate::shell::base64(history.as_bytes())
        ))
    }

    #[test]
    fn the_plan_names_the_images_removed_and_the_up_removes_them() {
        let r = crate::resources::testing::load("compose", PROJECT);
        let e = r
            .evaluate(&running("ok A a:A db:15\nok B a:B db:15\n"))
            .unwrap();
        assert!(
            e.diff.attrs.contains(&AttrChange::new(
                "images of release A",
                Some("a:A"),
                Some("(removed: keep_releases 2)")
            )),
            "{:?}",
            e.diff.attrs
        );
        let up = e.commands.last().unwrap();
        assert!(
            up.summary
                .ends_with(", then remove 1 image of older releases"),
            "{}",
            up.summary
        );
        let s = &up.script;
        // Pending before the up, the new history after it, then the removal.
        let c = compose();
        let fact = ComposeFact {
            releases: "ok A a:A db:15\nok B a:B db:15\n".into(),
            ..ComposeFact::default()
        };
        let k = c.keep_plan(&fact, &c.desired_images(&c.model())).unwrap();
        assert_eq!(
            k,
            KeepPlan {
                start: Some("ok A a:A db:15\nok B a:B db:15\npending - a:C db:15\n".into()),
                finish: "ok B a:B db:15\nok - a:C db:15\n".into(),
                remove: vec![("A".into(), "a:A".into())],
            }
        );
        let pending = s.find(&c.history_write(k.start.as_deref().unwrap()));
        let pending = pending.expect("pending written");
        let up_at = s.find("keel_compose up -d").unwrap();
        let done = s.find(&c.history_write(&k.finish)).expect("history");
        let rm = s.find(&format!("keel_images={}\n", q("a:A")));
        let rm = rm.expect("removal");
        assert!(pending < up_at && up_at < done && done < rm, "{s}");
        // Nothing to remove with room for three.
        let r = crate::resources::testing::load(
            "compose",
            &PROJECT.replace("keep_releases: 2", "keep_releases: 3"),
        );
        let e = r
            .evaluate(&running("ok A a:A db:15\nok B a:B db:15\n"))
            .unwrap();
        assert!(!e.commands.last().unwrap().script.contains("keel_images="));
    }

    #[test]
    fn the_removal_skips_absent_images_and_reports_those_in_use() {
        let c = compose();
        let remove = vec![
            ("A".to_string(), "a:A".to_string()),
            ("A".to_string(), "gone:'$(id)".to_string()),
            ("A".to_string(), "used:A".to_string()),
        ];
        let script = format!(
            "keel_log=$(mktemp)\ndocker() {{\n  case \"$1 $2 $3\" in\n    'image inspect gone'*) return 1 ;;\n    'image rm used:A') return 1 ;;\n  esac\n  echo \"docker $*\" >> \"$keel_log\"\n}}\n{}cat \"$keel_log\"\nrm -f \"$keel_log\"\n",
            c.prune_script(&remove)
        );
        let out = crate::resources::testing::run_local(&script);
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert_eq!(
            out.stdout,
            "docker image inspect a:A\ndocker image rm a:A\ndocker image inspect used:A\n"
        );
        assert_eq!(
            out.stderr,
            "keel: compose[app]: removed image a:A (an older release)\nkeel: compose[app]: image used:A of an older release is still in use; left on the host\n"
        );
    }

    #[test]
    fn keep_releases_is_bounded() {
        for bad in ["0", "101"] {
            let y = PROJECT.replace("keep_releases: 2", &format!("keep_releases: {bad}"));
            let err = crate::resources::testing::try_load("compose", &y).unwrap_err();
            assert!(err.contains("`keep_releases` is from 1 to 100"), "{err}");
        }
    }
}
