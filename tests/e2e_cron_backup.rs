//! End to end, over real SSH against a fresh Debian host: the `cron` and
//! `backup` kinds.
//!
//! - A first apply installs cron, rsync and postgresql with `package`
//!   resources and adds one owned crontab entry (the plan says "known after
//!   apply" while cron is not installed).
//! - An entry is then added to root's crontab by hand; the full stack (a
//!   second entry, an entry in the crontab of a user created in the same
//!   run, and four backups) converges in one apply, next to it, without
//!   touching it; plan again → exit 0.
//! - Drift by hand (an entry's schedule, a script's content, the mode of a
//!   destination) → plan exit 2 with readable diffs; apply fixes it.
//! - A schedule changed in the stack updates the entry in place, with no
//!   duplicate; `state: absent` removes an entry and leaves the rest.
//! - A malformed schedule is a `keel validate` diagnostic naming the hour
//!   field at its line, and `keel apply` of it changes nothing.
//! - The installed backup scripts are run on the host: a real pg_dump of a
//!   real database (gzip-valid, with the data), a hard-link snapshot whose
//!   unchanged files share their inode with `current`, a tar of the config
//!   paths; retention deletes an artifact made 10 days old and keeps the
//!   fresh ones; a failing pg_dump leaves no artifact and exits non-zero;
//!   a held lock stops a second run.

mod support;

use support::{Host, expect};

const PACKAGES: &str = "name: cron-backup
targets: [web]
resources:
  - package: { name: cron }
  - package: { name: rsync }
  - package: { name: postgresql }
";

const ROTATE: &str = "  - cron:
      name: rotate-tmp
      schedule: \"*/10 * * * *\"
      command: /usr/bin/find /var/tmp -name '*.tmp' -mmin +60 -delete
";

fn report(schedule: &str) -> String {
    format!(
        "  - cron:
      name: report
      schedule: \"{schedule}\"
      command: /usr/local/bin/report --daily >/dev/null 2>&1
      env: {{ MAILTO: \"\" }}
  - cron: {{ name: app-job, user: app, schedule: \"@hourly\", command: date +\\%F }}
  - user: {{ name: app }}
"
    )
}

const BACKUPS: &str = "  - backup:
      name: shop
      schedule: \"0 2 * * *\"
      type: postgres
      database: shop
      db_user: postgres
      destination: /backup/shop
      retention_days: 7
  - backup:
      name: uploads
      schedule: \"30 2 * * *\"
      type: files
      source: /srv/app/uploads
      destination: /backup/uploads
      retention_days: 7
  - backup:
      name: config
      schedule: \"@daily\"
      type: config
      paths: [/srv/app/.env.production, /srv/app/nginx, /srv/app/not-there]
      destination: /backup/config
      retention_days: 7
  - backup:
      name: nodb
      schedule: \"@weekly\"
      type: postgres
      database: no_such_db
      destination: /backup/nodb
";

#[test]
fn cron_entries_and_backups_on_a_fresh_host() {
    let h = Host::start("cronbk");
    let inv = h.inventory("root", &[], "");
    let inv = inv.to_str().unwrap();
    let plan = |stack: &str| h.keel(&["plan", "--detailed-exitcode", "-i", inv, stack], &[]);
    let apply = |stack: &str| h.keel(&["apply", "--yes", "-i", inv, stack], &[]);

    // 1. Packages and a first entry: cron is not there yet.
    let first = h.write("first.yaml", &format!("{PACKAGES}{ROTATE}"));
    let p = plan(&first);
    expect(&p, 2, "first plan");
    assert!(p.stdout.contains("+ cron[root/rotate-tmp]"), "{}", p.stdout);
    assert!(
        p.stdout.contains("cron is not installed yet"),
        "known after apply: {}",
        p.stdout
    );
    expect(&apply(&first), 0, "first apply");
    assert_eq!(h.sh("systemctl is-active cron"), "active");
    assert_eq!(
        h.sh("crontab -l"),
        "# keel: rotate-tmp\n*/10 * * * * /usr/bin/find /var/tmp -name '*.tmp' -mmin +60 -delete"
    );

    // 2. An entry written by hand, then the whole stack in one apply.
    h.sh("(crontab -l; printf '# my own job\\nSHELL=/bin/sh\\n15 * * * * /usr/bin/true hand-made\\n') | crontab -");
    let hand = "# my own job\nSHELL=/bin/sh\n15 * * * * /usr/bin/true hand-made";
    h.sh("mkdir -p /srv/app/uploads/img /srv/app/nginx \
          && echo one > /srv/app/uploads/a.txt && echo two > /srv/app/uploads/img/b.png \
          && echo 'A=1' > /srv/app/.env.production && echo 'server {}' > /srv/app/nginx/site.conf");
    h.sh("runuser -u postgres -- psql -q -c 'CREATE DATABASE shop' \
          && runuser -u postgres -- psql -q -d shop -c \"CREATE TABLE items (name text); INSERT INTO items VALUES ('keel-canary-row')\"");
    let full =
        |report_schedule: &str| format!("{PACKAGES}{ROTATE}{}{BACKUPS}", report(report_schedule));
    let stack = h.write("stack.yaml", &full("0 3 * * *"));
    let p = plan(&stack);
    expect(&p, 2, "plan of the full stack");
    assert!(p.stdout.contains("+ backup[shop]"), "{}", p.stdout);
    assert!(
        p.stdout.contains("retention_days: (none) → 7"),
        "{}",
        p.stdout
    );
    assert!(p.stdout.contains("+ cron[root/report]"), "{}", p.stdout);
    assert!(
        p.stdout.contains("user `app` does not exist yet"),
        "known after apply: {}",
        p.stdout
    );
    expect(&apply(&stack), 0, "apply of the full stack");
    let crontab = h.sh("crontab -l");
    assert!(
        crontab.starts_with(&format!(
            "# keel: rotate-tmp\n*/10 * * * * /usr/bin/find /var/tmp -name '*.tmp' -mmin +60 -delete\n{hand}\n# keel: report\nMAILTO=\"\"\n0 3 * * * /usr/local/bin/report --daily >/dev/null 2>&1\n"
        )),
        "owned entries with markers, the hand entry untouched:\n{crontab}"
    );
    for b in ["shop", "uploads", "config", "nodb"] {
        assert!(
            crontab.contains(&format!("# keel: backup/{b}\n")),
            "{crontab}"
        );
        assert_eq!(
            h.sh(&format!("stat -c '%a %U' /usr/local/lib/keel/backup-{b}")),
            "700 root"
        );
        assert_eq!(h.sh(&format!("stat -c '%a %U' /backup/{b}")), "700 root");
    }
    assert!(crontab.contains("\n30 2 * * * /usr/local/lib/keel/backup-uploads\n"));
    assert!(!crontab.contains("app-job"), "{crontab}");
    assert_eq!(
        h.sh("crontab -l -u app"),
        "# keel: app-job\n@hourly date +\\%F",
        "another user's crontab, after the user was created"
    );
    let p = plan(&stack);
    expect(&p, 0, "plan after apply");
    assert!(p.stdout.contains("No changes."), "{}", p.stdout);

    // 3. Drift by hand: a schedule, a script, a directory's mode.
    h.sh("crontab -l | sed 's|^\\*/10 \\* \\* \\* \\* /usr/bin/find|*/20 * * * * /usr/bin/find|' | crontab -");
    h.sh("echo '# tinkered' >> /usr/local/lib/keel/backup-uploads && chmod 755 /backup/config");
    let p = plan(&stack);
    expect(&p, 2, "plan after drift");
    assert!(p.stdout.contains("~ cron[root/rotate-tmp]"), "{}", p.stdout);
    assert!(
        p.stdout
            .contains("schedule: \"*/20 * * * *\" → \"*/10 * * * *\""),
        "{}",
        p.stdout
    );
    assert!(
        p.stdout
            .contains("-*/20 * * * * /usr/bin/find /var/tmp -name '*.tmp' -mmin +60 -delete"),
        "crontab diff: {}",
        p.stdout
    );
    assert!(p.stdout.contains("~ backup[uploads]"), "{}", p.stdout);
    assert!(
        p.stdout.contains("-# tinkered"),
        "script diff: {}",
        p.stdout
    );
    assert!(
        p.stdout.contains("directory mode: 0755 → 0700"),
        "{}",
        p.stdout
    );
    expect(&apply(&stack), 0, "apply after drift");
    expect(&plan(&stack), 0, "plan after fixing drift");
    assert!(
        !h.sh("cat /usr/local/lib/keel/backup-uploads")
            .contains("tinkered")
    );
    assert_eq!(h.sh("stat -c %a /backup/config"), "700");

    // 4. A schedule changed in the stack: updated in place, no duplicate.
    let stack = h.write("stack.yaml", &full("0 4 * * 1-5"));
    let p = plan(&stack);
    expect(&p, 2, "plan of a changed schedule");
    assert!(p.stdout.contains("~ cron[root/report]"), "{}", p.stdout);
    assert!(
        p.stdout
            .contains("schedule: \"0 3 * * *\" → \"0 4 * * 1-5\""),
        "{}",
        p.stdout
    );
    expect(&apply(&stack), 0, "apply of a changed schedule");
    let after = h.sh("crontab -l");
    assert_eq!(after.matches("# keel: report\n").count(), 1, "{after}");
    assert_eq!(
        after,
        crontab.replace(
            "0 3 * * * /usr/local/bin/report",
            "0 4 * * 1-5 /usr/local/bin/report"
        ),
        "only that line changed"
    );
    expect(&plan(&stack), 0, "plan after the schedule change");

    // 5. A malformed schedule: a diagnostic at its line; apply changes nothing.
    let bad_text = full("0 25 * * *");
    let line = bad_text
        .lines()
        .position(|l| l.contains("0 25 * * *"))
        .unwrap()
        + 1;
    let bad = h.write("bad.yaml", &bad_text);
    let v = h.keel(&["validate", "-i", inv, &bad], &[]);
    expect(&v, 1, "validate of a malformed schedule");
    assert!(
        v.stderr.contains("hour 25 is out of range 0–23"),
        "{}",
        v.stderr
    );
    assert!(
        v.stderr.contains(&format!("bad.yaml:{line}:")),
        "points at line {line}: {}",
        v.stderr
    );
    let a = apply(&bad);
    expect(&a, 1, "apply of a malformed schedule");
    assert_eq!(h.sh("crontab -l"), after, "the crontab is untouched");

    // 6. `state: absent` removes one entry, nothing else.
    let gone = h.write(
        "gone.yaml",
        &full("0 4 * * 1-5").replace(ROTATE, "  - cron: { name: rotate-tmp, state: absent }\n"),
    );
    let p = plan(&gone);
    expect(&p, 2, "plan of a removal");
    assert!(p.stdout.contains("- cron[root/rotate-tmp]"), "{}", p.stdout);
    expect(&apply(&gone), 0, "apply of a removal");
    let removed = h.sh("crontab -l");
    assert!(!removed.contains("rotate-tmp"), "{removed}");
    assert!(
        removed.starts_with(&format!("{hand}\n# keel: report\n")),
        "{removed}"
    );
    expect(&plan(&gone), 0, "plan after the removal");

    // 7. Run the installed backups.
    // postgres: a real dump, gzip-valid, with the row.
    h.sh("/usr/local/lib/keel/backup-shop");
    let dumps = h.sh("ls /backup/shop");
    assert!(
        dumps.starts_with("shop_backup_") && dumps.ends_with(".sql.gz") && !dumps.contains('\n'),
        "{dumps}"
    );
    assert!(h.sh_ok("gzip -t /backup/shop/shop_backup_*.sql.gz"));
    assert!(
        h.sh("zcat /backup/shop/shop_backup_*.sql.gz")
            .contains("keel-canary-row")
    );
    assert!(
        h.sh("journalctl -t keel-backup-shop --no-pager -o cat")
            .contains("wrote /backup/shop/shop_backup_"),
        "logged to syslog"
    );
    // Retention: an artifact 10 days old goes, the fresh ones stay.
    h.sh(
        "echo old | gzip > /backup/shop/shop_backup_20000101_000000.sql.gz \
          && touch -d '10 days ago' /backup/shop/shop_backup_20000101_000000.sql.gz \
          && echo other > /backup/shop/notes.txt && touch -d '10 days ago' /backup/shop/notes.txt",
    );
    h.sh("sleep 1; /usr/local/lib/keel/backup-shop");
    let dumps = h.sh("ls /backup/shop");
    assert!(!dumps.contains("20000101"), "expired: {dumps}");
    assert!(
        dumps.contains("notes.txt"),
        "only its own artifacts: {dumps}"
    );
    assert_eq!(
        h.sh("ls /backup/shop/shop_backup_*.sql.gz | wc -l"),
        "2",
        "{dumps}"
    );

    // A failing pg_dump: non-zero, no artifact, no partial file.
    let out = h.sh("/usr/local/lib/keel/backup-nodb 2>&1; echo \"rc=$?\"");
    assert!(out.ends_with("rc=1"), "{out}");
    assert!(out.contains("pg_dump exited with status 1"), "{out}");
    assert!(out.contains("no_such_db"), "pg_dump's message: {out}");
    assert_eq!(h.sh("ls -A /backup/nodb"), "");

    // files: rsync into current, a hard-link snapshot per day.
    h.sh("/usr/local/lib/keel/backup-uploads");
    let day = h.sh("date +%Y%m%d");
    let snap = format!("/backup/uploads/snapshot-{day}");
    assert_eq!(h.sh("cat /backup/uploads/current/img/b.png"), "two");
    assert_eq!(
        h.sh(&format!("stat -c %i {snap}/a.txt")),
        h.sh("stat -c %i /backup/uploads/current/a.txt"),
        "an unchanged file shares its inode"
    );
    // A changed file gets a new inode in current; the snapshot keeps the old text.
    h.sh("echo changed > /srv/app/uploads/a.txt && rm /srv/app/uploads/img/b.png");
    h.sh("mkdir /backup/uploads/snapshot-20000101 && touch -d '10 days ago' /backup/uploads/snapshot-20000101");
    let snap_inode_b = h.sh(&format!("stat -c %i {snap}/img/b.png"));
    h.sh(&format!(
        "mv {snap} /backup/uploads/snapshot-20000102 && touch /backup/uploads/snapshot-20000102"
    ));
    h.sh("/usr/local/lib/keel/backup-uploads");
    assert_eq!(h.sh("cat /backup/uploads/current/a.txt"), "changed");
    assert!(
        !h.sh_ok("test -e /backup/uploads/current/img/b.png"),
        "--delete"
    );
    assert_eq!(
        h.sh("cat /backup/uploads/snapshot-20000102/a.txt"),
        "one",
        "an older snapshot keeps the old content"
    );
    assert_eq!(
        h.sh("stat -c %i /backup/uploads/snapshot-20000102/img/b.png"),
        snap_inode_b
    );
    assert!(
        !h.sh_ok("test -e /backup/uploads/snapshot-20000101"),
        "a snapshot 10 days old is expired"
    );
    assert!(h.sh_ok(&format!("test -d {snap}")), "today's snapshot");

    // config: a tar of the paths that exist.
    let out = h.sh("/usr/local/lib/keel/backup-config 2>&1");
    assert!(out.contains("skipping /srv/app/not-there"), "{out}");
    assert!(h.sh_ok("gzip -t /backup/config/config_*.tar.gz"));
    let list = h.sh("tar -tzf /backup/config/config_*.tar.gz");
    assert!(list.contains("srv/app/.env.production"), "{list}");
    assert!(list.contains("srv/app/nginx/site.conf"), "{list}");

    // The lock: a run while another holds it refuses.
    let out = h.sh(
        "flock /run/lock/keel-backup-config.lock /usr/local/lib/keel/backup-config 2>&1; echo \"rc=$?\"",
    );
    assert!(out.ends_with("rc=1"), "{out}");
    assert!(out.contains("still holds"), "{out}");

    // Nothing the scripts did is drift.
    expect(&plan(&gone), 0, "plan after the backups ran");
}
