//! Snapshot comparison holds no process-wide state: two comparisons on different threads at once each get
//! their own verdict, and `Mode::Update` writes `.snap.new` files insta itself can read.

use authconform::report::{Outcome, RunReport, ScenarioResult};
use authconform::snapshot::{self, Mode};
use std::path::Path;
use std::sync::{Arc, Barrier};

fn scenario(id: &str, transcript: &str) -> ScenarioResult {
    ScenarioResult {
        id: id.into(),
        profile: id.split('/').next().unwrap_or_default().into(),
        title: format!("title of {id}"),
        outcome: Outcome::Pass,
        checks: vec![],
        setup_error: None,
        not_started: false,
        transcript: serde_json::Value::Null,
        transcript_text: transcript.into(),
        duration_ms: 0,
        launch_ms: None,
        phases: None,
    }
}

fn report(target: &str, scenarios: Vec<ScenarioResult>) -> RunReport {
    RunReport {
        schema_version: authconform::report::REPORT_SCHEMA_VERSION,
        authconform_version: "test".into(),
        target: target.into(),
        profiles: vec!["p".into()],
        scenarios,
        duration_ms: 0,
    }
}

fn write_snap(dir: &Path, target: &str, name: &str, body: &str) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join(format!("{name}.snap")),
        format!("---\nsource: harness/src/snapshot.rs\ndescription: \"x\"\n---\n{body}\n"),
    )
    .unwrap();
}

#[test]
fn two_comparisons_at_once_do_not_interfere() {
    let dir = tempfile::tempdir().unwrap();
    // Target "same": every transcript matches. Target "other": one of two differs, one has no snapshot.
    for i in 0..20 {
        write_snap(
            dir.path(),
            "same",
            &format!("p__s{i}"),
            &format!("## step {i}\nok\n"),
        );
    }
    write_snap(dir.path(), "other", "p__a", "## step a\nold\n");
    write_snap(dir.path(), "other", "p__b", "## step b\nsame\n");
    let same = report(
        "same",
        (0..20)
            .map(|i| scenario(&format!("p/s{i}"), &format!("## step {i}\nok\n")))
            .collect(),
    );
    let other = report(
        "other",
        vec![
            scenario("p/a", "## step a\nnew\n"),
            scenario("p/b", "## step b\nsame\n"),
            scenario("p/c", "## step c\n"),
        ],
    );
    let barrier = Arc::new(Barrier::new(2));
    let (same, other, root) = (&same, &other, dir.path());
    std::thread::scope(|s| {
        for _ in 0..10 {
            let (b1, b2) = (barrier.clone(), barrier.clone());
            let a = s.spawn(move || {
                b1.wait();
                snapshot::compare(same, root, Mode::Check)
            });
            let b = s.spawn(move || {
                b2.wait();
                snapshot::compare(other, root, Mode::Check)
            });
            let (a, b) = (a.join().expect("no panic"), b.join().expect("no panic"));
            assert_eq!(a.compared, 20);
            assert!(a.differing.is_empty(), "{:?}", a.differing);
            assert_eq!(b.compared, 3);
            assert_eq!(b.differing, vec!["p/a".to_string(), "p/c".to_string()]);
        }
    });
    // Check mode wrote nothing.
    let news: Vec<_> = walk(dir.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".snap.new"))
        .collect();
    assert!(news.is_empty(), "{news:?}");
}

#[test]
fn update_writes_snap_new_that_insta_reads() {
    if snapshot::is_ci() {
        // Under CI nothing is written, by design; the write path is covered outside CI.
        let dir = tempfile::tempdir().unwrap();
        let r = report("t", vec![scenario("p/x", "new body\n")]);
        let found = snapshot::compare(&r, dir.path(), Mode::Update);
        assert_eq!(found.differing, vec!["p/x".to_string()]);
        assert!(walk(dir.path()).is_empty());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_snap(dir.path(), "t", "p__x", "old body");
    let r = report("t", vec![scenario("p/x", "new \"quoted\" body\nline 2\n")]);
    let found = snapshot::compare(&r, dir.path(), Mode::Update);
    assert_eq!(found.differing, vec!["p/x".to_string()]);
    let new = dir.path().join("t/p__x.snap.new");
    let snap = insta::Snapshot::from_file(&new).expect("insta reads the .snap.new");
    assert_eq!(snap.metadata().description(), Some("p/x: title of p/x"));
    assert_eq!(
        snap.as_text().expect("text").to_string(),
        "new \"quoted\" body\nline 2"
    );
    // Accepted (renamed over the old one), it matches.
    std::fs::rename(&new, dir.path().join("t/p__x.snap")).unwrap();
    let found = snapshot::compare(&r, dir.path(), Mode::Check);
    assert!(found.differing.is_empty(), "{:?}", found.differing);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
