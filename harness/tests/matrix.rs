//! Report files and the compatibility matrix, built from real runs of the suite against the reference: clean,
//! with the seeded fault `accept-expired`, and with `ignore-audience`. The matrix must mark exactly the
//! requirements each fault breaks; the HTML page is rendered by headless Chromium and looked at.

mod common;

use authconform::report::{Outcome, REPORT_SCHEMA_VERSION, RunReport};
use authconform::reports::{self, Matrix};
use authconform::requirements::Catalog;
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

/// A libtest-compatible harness (`harness = false`), so that the Chromium test shows as `ignored` when
/// Chromium is missing instead of passing.
fn main() {
    let args = Arguments::from_args();
    let plain: [(&str, fn()); 4] = [
        (
            "matrix_marks_exactly_the_faulted_requirements",
            matrix_marks_exactly_the_faulted_requirements,
        ),
        (
            "junit_markdown_and_report_files",
            junit_markdown_and_report_files,
        ),
        (
            "load_checks_the_schema_version_and_labels_name_columns",
            load_checks_the_schema_version_and_labels_name_columns,
        ),
        (
            "a_missing_chromium_is_a_visible_skip_and_a_failure_under_ci",
            a_missing_chromium_is_a_visible_skip_and_a_failure_under_ci,
        ),
    ];
    let mut trials: Vec<Trial> = plain
        .into_iter()
        .map(|(name, f)| {
            Trial::test(name, move || {
                f();
                Ok(())
            })
        })
        .collect();
    trials.push(Trial::ignorable_test(
        "html_matrix_renders_in_headless_chromium",
        html_matrix_renders_in_headless_chromium,
    ));
    libtest_mimic::run(&args, trials).exit();
}

const CLEAN: &str = "clean";
const EXPIRED: &str = "accept-expired";
const AUDIENCE: &str = "ignore-audience";

/// The `oauth-resource` profile against the reference with `fault` seeded (none when empty): the faults
/// below are in that profile, and these tests count its rows.
async fn run(fault: &str) -> RunReport {
    let faults: Vec<&str> = if fault.is_empty() {
        vec![]
    } else {
        vec![fault]
    };
    let mut target = common::reference_target();
    target.profiles = vec!["oauth-resource".into()];
    common::run_target(target, &faults, None).await
}

/// The three runs, labelled, shared by every test of this file (run once, on their own runtime).
fn runs() -> &'static [(String, RunReport)] {
    static RUNS: OnceLock<Vec<(String, RunReport)>> = OnceLock::new();
    RUNS.get_or_init(|| {
        std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let (clean, expired, audience) = tokio::join!(run(""), run(EXPIRED), run(AUDIENCE));
                vec![
                    (CLEAN.to_string(), clean),
                    (EXPIRED.to_string(), expired),
                    (AUDIENCE.to_string(), audience),
                ]
            })
        })
        .join()
        .expect("runs complete")
    })
}

fn report(label: &str) -> &'static RunReport {
    &runs().iter().find(|(l, _)| l == label).expect("run").1
}

fn matrix() -> Matrix {
    Matrix::build(runs(), &Catalog::builtin())
}

/// Requirements whose cell in `column` is neither pass nor skip.
fn not_passing(m: &Matrix, column: &str) -> BTreeSet<String> {
    m.requirements()
        .filter(|r| !matches!(m.cell(r, column), Some(Outcome::Pass | Outcome::Skip)))
        .map(String::from)
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// A compact view of a run for assertion messages.
fn explain(r: &RunReport) -> String {
    authconform::report::render(
        r,
        authconform::report::Style {
            color: false,
            verbose: false,
        },
    )
}

/// A minted token is a JWT, and every JWT starts with `eyJ` (`{"` in base64url): none may appear.
fn assert_no_token(what: &str, text: &str) {
    assert!(!text.contains("eyJ"), "{what} contains a raw token");
}

fn matrix_marks_exactly_the_faulted_requirements() {
    let m = matrix();
    let catalog = Catalog::builtin();
    assert_eq!(m.columns().collect::<Vec<_>>(), [CLEAN, EXPIRED, AUDIENCE]);

    // Rows: every requirement a run checked, each once, grouped by profile in catalog order.
    let rows: Vec<&str> = m.requirements().collect();
    let in_catalog_order: Vec<&str> = catalog
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| rows.contains(id))
        .collect();
    assert_eq!(rows, in_catalog_order);
    let checked: BTreeSet<String> = runs()
        .iter()
        .flat_map(|(_, r)| r.scenarios.iter().flat_map(|s| &s.checks))
        .map(|c| c.requirement.clone())
        .collect();
    assert_eq!(
        rows.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>(),
        checked
    );
    assert!(rows.contains(&"OAUTH-401-005") && rows.contains(&"OAUTH-AUD-002"));

    // The clean reference passes everything it checks.
    for r in &rows {
        assert!(
            matches!(m.cell(r, CLEAN), Some(Outcome::Pass | Outcome::Skip)),
            "clean: {r} is {:?}\n{}",
            m.cell(r, CLEAN),
            explain(report(CLEAN))
        );
    }
    assert!(not_passing(&m, CLEAN).is_empty());

    // Each fault breaks exactly its requirements; every other cell is what the clean run had.
    for (column, broken) in [
        (EXPIRED, set(&["OAUTH-401-005"])),
        (AUDIENCE, set(&["OAUTH-AUD-001", "OAUTH-AUD-002"])),
    ] {
        assert_eq!(
            not_passing(&m, column),
            broken,
            "{column}\n{}",
            explain(report(column))
        );
        for r in &rows {
            let want = if broken.contains(*r) {
                Some(Outcome::Fail)
            } else {
                m.cell(r, CLEAN)
            };
            assert_eq!(m.cell(r, column), want, "{column}: {r}");
        }
    }
    assert_eq!(m.cell("OAUTH-401-005", "no-such-column"), None);
    assert_eq!(m.cell("NO-SUCH-REQ", CLEAN), None);

    // The Markdown table says the same, cell for cell.
    let md = m.to_markdown();
    let mut seen = 0;
    for line in md
        .lines()
        .filter(|l| l.starts_with("| OAUTH-") || l.starts_with("| HYG-"))
    {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (id, marks) = (cells[1], &cells[4..7]);
        for (col, mark) in [CLEAN, EXPIRED, AUDIENCE].iter().zip(marks) {
            let want = match m.cell(id, col) {
                Some(Outcome::Fail) => "❌ **FAIL**",
                Some(Outcome::Warn) => "⚠️ warn",
                Some(Outcome::Pass | Outcome::Info) => "✅ pass",
                Some(Outcome::Skip) => "➖ skip",
                None => "·",
            };
            assert_eq!(*mark, want, "markdown row {id}, column {col}:\n{line}");
        }
        seen += 1;
    }
    assert_eq!(seen, rows.len(), "{md}");
    assert_eq!(
        md.matches("❌ **FAIL**").count(),
        3 + 3,
        "three cells, three notes:\n{md}"
    );
    assert!(md.contains("| **oauth-resource** |"), "{md}");
    assert!(md.contains("expected status 401; got status 200"), "{md}");
    assert_no_token("markdown matrix", &md);

    // The HTML page: three linked fail cells, each with its details section and transcript.
    let html = m.to_html();
    assert_eq!(html.matches("<td class=\"o fail\">").count(), 3, "{html}");
    assert_eq!(html.matches("<td class=\"o warn\">").count(), 0);
    assert_eq!(
        html.matches("<td class=\"o pass\">").count()
            + html.matches("<td class=\"o skip\">").count(),
        3 * rows.len() - 3
    );
    for (col, req) in [
        (2, "OAUTH-401-005"),
        (3, "OAUTH-AUD-001"),
        (3, "OAUTH-AUD-002"),
    ] {
        let anchor = format!("c{col}-{req}");
        assert!(html.contains(&format!("<a href=\"#{anchor}\"")), "{anchor}");
        let start = html
            .find(&format!("id=\"{anchor}\""))
            .unwrap_or_else(|| panic!("no details for {anchor}"));
        let section = &html[start..start + html[start..].find("</article>").expect("closed")];
        assert!(
            section.contains("<dt>expected</dt><dd>status 401</dd>"),
            "{section}"
        );
        assert!(
            section.contains("<dt>got</dt><dd>status 200</dd>"),
            "{section}"
        );
        assert!(section.contains("Transcript of"), "{section}");
        assert!(section.contains("&quot;status&quot;: 200"), "{section}");
    }
    assert!(html.contains("Bearer [TOKEN:expired]"));
    assert!(html.contains("<th scope=\"colgroup\" colspan=\"5\">oauth-resource"));
    for external in ["<script", "<link", " src=", "@import", "url("] {
        assert!(
            !html.contains(external),
            "the page must be self-contained: {external}"
        );
    }
    assert_no_token("html matrix", &html);
}

fn junit_markdown_and_report_files() {
    let r = report(EXPIRED);
    let xml = reports::junit(r).expect("junit");
    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("JUnit XML parses");
    let [pass, fail, warn, skip, info] = r.check_counts();
    assert_eq!(fail, 1);
    assert_eq!(warn, 1);
    assert_eq!(parsed.tests, pass + fail + warn + skip + info);
    assert_eq!(parsed.failures, fail);
    assert_eq!(parsed.skipped, skip);
    assert_eq!(parsed.errors, 0);
    assert_eq!(xml.matches("<testcase").count(), parsed.tests);
    assert_eq!(xml.matches("<failure").count(), fail);
    let profiles: BTreeSet<&str> = r.scenarios.iter().map(|s| s.profile.as_str()).collect();
    assert_eq!(parsed.test_suites.len(), profiles.len());
    assert_eq!(parsed.test_suites[0].name.as_str(), "oauth-resource");

    let case = |name: &str| {
        parsed
            .test_suites
            .iter()
            .flat_map(|s| &s.test_cases)
            .find(|c| c.name.as_str() == name)
            .unwrap_or_else(|| panic!("no testcase {name}:\n{xml}"))
    };
    let failed = case("expired-token :: OAUTH-401-005 :: an expired token is refused with 401");
    assert_eq!(
        failed.classname.as_ref().map(|c| c.as_str()),
        Some("oauth-resource/expired-token")
    );
    match &failed.status {
        quick_junit::TestCaseStatus::NonSuccess {
            kind: quick_junit::NonSuccessKind::Failure,
            message,
            description,
            ..
        } => {
            let message = message.as_ref().expect("message").as_str();
            assert!(
                message.contains("expected status 401, got status 200"),
                "{message}"
            );
            let text = description.as_ref().expect("text").as_str();
            for line in [
                "step:     expired-initialize",
                "expected: status 401",
                "got:      status 200",
            ] {
                assert!(text.contains(line), "{line}\n{text}");
            }
            assert!(text.contains("request:  POST https://127.0.0.1:"), "{text}");
            assert!(
                text.contains("Authorization: Bearer [TOKEN:expired]"),
                "{text}"
            );
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    let warned =
        case("expired-token :: OAUTH-401-005 :: the challenge says error=\"invalid_token\"");
    assert!(matches!(
        warned.status,
        quick_junit::TestCaseStatus::Success { .. }
    ));
    let out = warned.system_out.as_ref().expect("system-out").as_str();
    assert!(out.starts_with("WARN OAUTH-401-005 SHOULD"), "{out}");
    let skipped = parsed
        .test_suites
        .iter()
        .flat_map(|s| &s.test_cases)
        .filter(|c| matches!(c.status, quick_junit::TestCaseStatus::Skipped { .. }))
        .count();
    assert_eq!(skipped, skip);
    assert_no_token("junit", &xml);

    // The Markdown summary.
    let md = reports::markdown(r, &Catalog::builtin());
    assert!(md.contains("**FAIL**"), "{md}");
    assert!(md.contains("Failed requirements: OAUTH-401-005"), "{md}");
    assert!(md.contains("| OAUTH-401-005 | MUST |"), "{md}");
    assert!(
        md.contains("### FAIL OAUTH-401-005 MUST: an expired token is refused with 401"),
        "{md}"
    );
    assert!(
        md.contains("expected: status 401\ngot:      status 200\nrequest:  POST"),
        "{md}"
    );
    assert!(md.contains("## Profile oauth-resource"), "{md}");
    assert_no_token("markdown", &md);
    let clean = reports::markdown(report(CLEAN), &Catalog::builtin());
    assert!(
        clean.contains("**PASS**") && !clean.contains("## Failures"),
        "{clean}"
    );

    // write_all writes the three files; the JSON loads back as the same report.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("reports");
    reports::write_all(r, &Catalog::builtin(), &out).expect("write_all");
    for f in ["report.json", "junit.xml", "report.md"] {
        let len = std::fs::metadata(out.join(f)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 100, "{f} written");
    }
    assert_eq!(std::fs::read_to_string(out.join("junit.xml")).unwrap(), xml);
    assert_eq!(std::fs::read_to_string(out.join("report.md")).unwrap(), md);
    let back = reports::load(&out.join("report.json")).expect("loads");
    assert_eq!(
        serde_json::to_value(&back).unwrap(),
        serde_json::to_value(r).unwrap()
    );
}

fn load_checks_the_schema_version_and_labels_name_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut value = serde_json::to_value(report(CLEAN)).unwrap();
    value["schema_version"] = 999.into();
    let future = dir.path().join("future.json");
    std::fs::write(&future, value.to_string()).unwrap();
    let e = format!("{:#}", reports::load(&future).unwrap_err());
    assert!(e.contains(&future.display().to_string()), "{e}");
    assert!(e.contains("schema_version 999"), "{e}");
    assert!(
        e.contains(&format!("version {REPORT_SCHEMA_VERSION}")),
        "{e}"
    );

    let other = dir.path().join("other.json");
    std::fs::write(&other, r#"{"hello": "world"}"#).unwrap();
    let e = format!("{:#}", reports::load(&other).unwrap_err());
    assert!(
        e.contains("other.json") && e.contains("schema_version"),
        "{e}"
    );
    let e = format!(
        "{:#}",
        reports::load(&dir.path().join("missing.json")).unwrap_err()
    );
    assert!(e.contains("missing.json"), "{e}");

    // Three reports of the target `reference`: their file stems; a distinct target keeps its name.
    let mut loaded = Vec::new();
    for (label, r) in runs() {
        let path = dir.path().join(format!("reference-{label}.json"));
        std::fs::write(&path, serde_json::to_string(r).unwrap()).unwrap();
        loaded.push((path.clone(), reports::load(&path).expect("loads")));
    }
    assert_eq!(
        reports::labels(&loaded),
        [
            "reference-clean",
            "reference-accept-expired",
            "reference-ignore-audience"
        ]
    );
    loaded[2].1.target = "acme-mcp".into();
    assert_eq!(
        reports::labels(&loaded),
        ["reference-clean", "reference-accept-expired", "acme-mcp"]
    );
    // `--report-dir` folders all hold a `report.json`: the folder names tell them apart, else the path.
    let in_folders = |dirs: &[&str]| -> Vec<String> {
        let reports: Vec<(PathBuf, RunReport)> = dirs
            .iter()
            .zip(runs())
            .map(|(d, (_, r))| (Path::new(d).join("report.json"), r.clone()))
            .collect();
        reports::labels(&reports)
    };
    assert_eq!(
        in_folders(&["reports/acme", "reports/beta"]),
        ["acme", "beta"]
    );
    assert_eq!(
        in_folders(&["reports/acme", "a/reports", "b/reports"]),
        ["acme", "a/reports/report.json", "b/reports/report.json"]
    );
    loaded.truncate(1);
    assert_eq!(reports::labels(&loaded), ["reference"]);
    // The same file twice still gives two columns.
    loaded.push(loaded[0].clone());
    let labels = reports::labels(&loaded);
    assert_eq!(labels.len(), 2);
    assert_ne!(labels[0], labels[1]);
}

/// Runs Chromium headless on `page` with `extra` flags and a fresh profile; returns stdout.
async fn chromium_run(exe: &Path, page: &Path, extra: &[String]) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut cmd = tokio::process::Command::new(exe);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=1280,1600",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(extra)
    .arg(format!("file://{}", page.display()))
    .stdin(Stdio::null())
    .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(90), cmd.output())
        .await
        .expect("chromium finishes within 90 s")
        .expect("chromium starts");
    assert!(
        out.status.success(),
        "chromium failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Chromium, or the test reported `ignored` (after a visible SKIP banner; under CI a failure).
fn html_matrix_renders_in_headless_chromium() -> Result<Completion, Failed> {
    let name = "html_matrix_renders_in_headless_chromium";
    let Some(exe) = common::chromium_or_skip(name, "render and check the HTML matrix") else {
        return Ok(Completion::ignored_with("chromium not found"));
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(html_matrix_renders(exe));
    Ok(Completion::Completed)
}

async fn html_matrix_renders(exe: PathBuf) {
    let html = tokio::task::spawn_blocking(|| matrix().to_html())
        .await
        .expect("matrix");
    // Kept under the target folder so a person can look at the page and the screenshot afterwards.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("matrix");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("matrix.html");
    let png_path = dir.join("matrix.png");
    std::fs::write(&page, &html).unwrap();
    let _ = std::fs::remove_file(&png_path);

    let dom = chromium_run(&exe, &page, &["--dump-dom".to_string()]).await;
    assert!(dom.contains("<table class=\"matrix\">"), "{dom}");
    assert!(
        dom.contains("<td class=\"o fail\"><a href=\"#c2-OAUTH-401-005\""),
        "{dom}"
    );
    assert!(dom.contains("id=\"c3-OAUTH-AUD-002\""), "{dom}");

    chromium_run(
        &exe,
        &page,
        &[format!("--screenshot={}", png_path.display())],
    )
    .await;
    let file = std::fs::File::open(&png_path).expect("screenshot written");
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut buf).expect("PNG decodes");
    assert_eq!((info.width, info.height), (1280, 1600));
    let channels = info.color_type.samples();
    assert!(
        channels >= 3,
        "colour screenshot, got {:?}",
        info.color_type
    );
    let pixels: Vec<[u8; 3]> = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    let distinct: BTreeSet<[u8; 3]> = pixels.iter().copied().collect();
    assert!(
        distinct.len() > 50,
        "the screenshot looks blank: {} colours",
        distinct.len()
    );
    // The FAIL cells' red (#b42318) and the PASS cells' green (#dcf3e2) are on screen.
    let near = |p: &[u8; 3], c: [u8; 3]| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) <= 6);
    let red = pixels
        .iter()
        .filter(|p| near(p, [0xb4, 0x23, 0x18]))
        .count();
    let green = pixels
        .iter()
        .filter(|p| near(p, [0xdc, 0xf3, 0xe2]))
        .count();
    assert!(red > 1000, "fail cells visible: {red} red pixels");
    assert!(green > 20_000, "pass cells visible: {green} green pixels");
    println!("screenshot: {}", png_path.display());
}

/// Without Chromium the screenshot test cannot pass silently: outside CI it prints a SKIP banner that
/// libtest's output capture does not swallow; under `CI=true` it fails. (This test runs that one test of this
/// binary again, told that Chromium is missing.)
fn a_missing_chromium_is_a_visible_skip_and_a_failure_under_ci() {
    let exe = std::env::current_exe().expect("this test binary");
    let run = |ci: Option<&str>| {
        let mut c = std::process::Command::new(&exe);
        c.args(["--exact", "html_matrix_renders_in_headless_chromium"])
            .env("AUTHCONFORM_CHROMIUM", "/nonexistent/chromium")
            .env_remove("TF_BUILD");
        match ci {
            Some(v) => c.env("CI", v),
            None => c.env_remove("CI"),
        };
        let out = c.output().expect("test binary runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    for ci in [None, Some("false")] {
        let (ok, text) = run(ci);
        assert!(ok, "CI={ci:?}\n{text}");
        assert!(
            text.contains(
                "SKIP: chromium not found: html_matrix_renders_in_headless_chromium did not run"
            ),
            "CI={ci:?}: the skip is not visible\n{text}"
        );
        assert!(
            text.contains("ignored (chromium not found)")
                && text.contains("0 passed; 0 failed; 1 ignored"),
            "CI={ci:?}: not reported as ignored\n{text}"
        );
    }
    let (ok, text) = run(Some("true"));
    assert!(!ok, "{text}");
    assert!(text.contains("chromium is required in CI"), "{text}");
}
