//! One test per validation rule of target files, in process.

use super::*;

fn load(text: &str) -> Result<Target, FileError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.toml");
    std::fs::write(&path, text).expect("write");
    Target::load(&path)
}

fn err(text: &str) -> FileError {
    load(text).expect_err("should be refused")
}

const HTTP: &str =
    "name = \"t\"\nprofiles = [\"oauth-resource\"]\n[surfaces.mcp-http]\nurl = \"https://x/mcp\"\n";

#[test]
fn version_1_surface_is_read_as_mcp_http() {
    let t = load("name = \"t\"\nprofiles = []\n[surface]\nmcp_url = \"https://x/mcp\"\n").unwrap();
    assert_eq!(t.surfaces.mcp_http.unwrap().url, "https://x/mcp");
}

#[test]
fn both_spellings_say_how_to_convert() {
    let e = err(&format!("{HTTP}[surface]\nmcp_url = \"https://y/mcp\"\n"));
    assert_eq!((e.line, e.field.as_str()), (5, "surface"), "{e}");
    assert!(e.message.contains("[surfaces.mcp-http]"), "{e}");
}

#[test]
fn no_surface_is_refused() {
    let e = err("name = \"t\"\nprofiles = []\n");
    assert_eq!(e.field, "surfaces", "{e}");
}

#[test]
fn unknown_profile_names_its_element() {
    let e = err(&HTTP.replace("\"oauth-resource\"", "\"oauth-resource\", \"nope\""));
    assert_eq!((e.line, e.field.as_str()), (2, "profiles[1]"), "{e}");
}

#[test]
fn launch_needs_a_readiness_signal_and_a_valid_regex() {
    let e = err(&format!(
        "{HTTP}[launch]\ncommand = \"x\"\nready = {{ timeout_ms = 5 }}\n"
    ));
    assert_eq!(e.field, "launch.ready", "{e}");
    let e = err(&format!(
        "{HTTP}[launch]\ncommand = \"x\"\nready = {{ stdout = \"(\" }}\n"
    ));
    assert_eq!(
        (e.line, e.field.as_str()),
        (7, "launch.ready.stdout"),
        "{e}"
    );
}

#[test]
fn call_args_must_be_an_object() {
    let e = err(&format!("{HTTP}[oauth]\ncall_args = \"[1]\"\n"));
    assert_eq!((e.line, e.field.as_str()), (6, "oauth.call_args"), "{e}");
}

#[test]
fn credentials_need_exactly_one_source() {
    let e = err(&format!(
        "{HTTP}[credentials.up]\nvalue = \"a\"\nenv = \"B\"\n"
    ));
    assert_eq!(e.field, "credentials.up", "{e}");
    assert_eq!(e.line, 5, "{e}");
}

#[test]
fn principals_are_validated_against_units() {
    let text = format!(
        "{HTTP}[[units]]\nid = \"P1\"\ntenant = \"a\"\n[principals.p]\nkind = \"project-key\"\nkey = {{ value = \"k-123456\" }}\nsees = [\"P2\"]\n"
    );
    let e = err(&text);
    assert_eq!(
        (e.line, e.field.as_str()),
        (11, "principals.p.sees[0]"),
        "{e}"
    );
    let e = err(&format!("{HTTP}[principals.p]\nkind = \"wizard\"\n"));
    assert!(e.message.contains("wizard"), "{e}");
}

#[test]
fn stdio_surface_rules_are_located() {
    let e = err(
        "name = \"t\"\nprofiles = []\n[surfaces.mcp-stdio]\ncommand = \"x\"\nkey_env = \"BAD NAME\"\n",
    );
    assert_eq!(
        (e.line, e.field.as_str()),
        (5, "surfaces.mcp-stdio.key_env"),
        "{e}"
    );
}

#[test]
fn rest_operations_are_parsed() {
    let e = err(
        "name = \"t\"\nprofiles = []\n[surfaces.rest]\nbase_url = \"u\"\noperations = { list = \"list /x\" }\n",
    );
    assert_eq!(e.field, "surfaces.rest.operations.list", "{e}");
    assert_eq!(e.line, 5, "{e}");
}

#[test]
fn unknown_keys_point_at_the_key() {
    let e = err(&format!("{HTTP}colour = \"red\"\n"));
    assert_eq!(e.line, 5, "{e}");
    assert!(e.message.contains("colour"), "{e}");
}

#[test]
fn secrets_and_vars_cover_credentials_and_keys() {
    let t = load(&format!(
        "{HTTP}[credentials.up]\nvalue = \"cred-123456\"\n[principals.p]\nkind = \"partner-key\"\nkey = {{ value = \"key-123456\" }}\n"
    ))
    .unwrap();
    let s = t.secrets();
    assert!(s.contains(&("cred-123456".into(), "[KEY:up]".into())));
    assert!(s.contains(&("key-123456".into(), "[KEY:p]".into())));
    let v = t.vars();
    assert_eq!(v.get("key.p"), Some("key-123456"));
    assert_eq!(v.get("cred.up"), Some("cred-123456"));
}

#[test]
fn rest_sets_probe_roles_and_fields_are_checked() {
    let rest = "name = \"t\"\nprofiles = []\n[surfaces.rest]\nbase_url = \"u\"\noperations = { list = \"GET /x\" }\n";
    let e = err(&format!("{rest}probe = \"nope\"\n"));
    assert_eq!(e.field, "surfaces.rest.probe", "{e}");
    let e = err(&format!(
        "{rest}sets = {{ admin_only = [\"list\", \"gone\"] }}\n"
    ));
    assert_eq!(e.field, "surfaces.rest.sets.admin_only[1]", "{e}");
    let e = err(&format!("{rest}roles = {{ owner = \"o\" }}\n"));
    assert_eq!(e.field, "surfaces.rest.roles.owner", "{e}");
    let e = err(&format!("{rest}fields = {{ colour = \"c\" }}\n"));
    assert_eq!(e.field, "surfaces.rest.fields.colour", "{e}");
    let t = load(&format!(
        "{rest}probe = \"list\"\nsets = {{ all = [\"list\"] }}\nroles = {{ limited = \"dev\" }}\nrevocation_bound_ms = 5\n[tenants.b]\nserver = \"s1\"\n"
    ))
    .unwrap();
    let v = t.vars();
    assert_eq!(v.get("rest.probe"), Some("list"));
    assert_eq!(v.get("rest.sets.all"), Some("list"));
    assert_eq!(v.get("rest.roles.limited"), Some("dev"));
    assert_eq!(v.get("rest.revocation_bound_ms"), Some("5"));
    assert_eq!(v.get("rest.fields.secret"), Some("key"), "defaults are set");
    assert_eq!(v.get("tenant.b.server"), Some("s1"));
}

const AS_ONLY: &str = "name = \"t\"\nprofiles = [\"oauth-resource\"]\n[surfaces.oauth-as]\nissuer = \"{ready.url}\"\n";

#[test]
fn an_authorization_server_alone_is_a_surface_with_its_resource() {
    let t = load(&format!(
        "{AS_ONLY}client_id = \"c\"\nredirect_uri = \"http://127.0.0.1:33418/cb\"\nresource = \"{{ready.url}}/mcp\"\n"
    ))
    .unwrap();
    assert_eq!(t.surfaces.names(), vec!["oauth-as"]);
    let v = t.vars();
    assert_eq!(v.get("oauth.as_issuer"), Some("{ready.url}"));
    assert_eq!(v.get("oauth.as_client_id"), Some("c"));
    assert_eq!(
        v.get("oauth.as_redirect_uri"),
        Some("http://127.0.0.1:33418/cb")
    );
    assert_eq!(v.get("oauth.as_resource"), Some("{ready.url}/mcp"));
    assert_eq!(v.get("mcp_url"), None);
    // Without an MCP endpoint there is nothing the resource could default to.
    let e = err(AS_ONLY);
    assert_eq!(e.field, "surfaces.oauth-as.resource", "{e}");
    assert!(e.message.contains("mcp-http"), "{e}");
    let e = err(&format!("{AS_ONLY}resource = \"\"\n"));
    assert_eq!(e.field, "surfaces.oauth-as.resource", "{e}");
    let e = err(&format!("{AS_ONLY}resource = \"r\"\nscope = \"x\"\n"));
    assert!(e.message.contains("scope"), "unknown keys: {e}");
}

#[test]
fn the_resource_defaults_to_the_mcp_url() {
    let t = load(&format!(
        "{HTTP}[surfaces.oauth-as]\nissuer = \"{{ready.as}}\"\n"
    ))
    .unwrap();
    let v = t.vars();
    assert_eq!(v.get("oauth.as_resource"), Some("https://x/mcp"));
    assert_eq!(v.get("oauth.as_client_id"), None);
    let mut names = t.surfaces.names();
    names.sort();
    assert_eq!(names, vec!["mcp-http", "oauth-as"]);
}

/// The spelling before the surface (`[oauth] as_issuer`, …) loads as `[surfaces.oauth-as]`.
#[test]
fn oauth_as_fields_are_read_as_the_surface() {
    let old = format!(
        "{HTTP}[oauth]\nscope = \"s\"\nas_issuer = \"{{ready.as}}\"\nas_client_id = \"c\"\nas_redirect_uri = \"http://127.0.0.1:33418/cb\"\n"
    );
    let t = load(&old).unwrap();
    let a = t.surfaces.oauth_as.as_ref().expect("the surface");
    assert_eq!(
        (
            a.issuer.as_str(),
            a.client_id.as_deref(),
            a.resource.as_deref()
        ),
        ("{ready.as}", Some("c"), None)
    );
    let v = t.vars();
    assert_eq!(v.get("oauth.as_issuer"), Some("{ready.as}"));
    assert_eq!(
        v.get("oauth.as_redirect_uri"),
        Some("http://127.0.0.1:33418/cb")
    );
    assert_eq!(v.get("oauth.as_resource"), Some("https://x/mcp"));
    assert_eq!(v.get("oauth.scope"), Some("s"));
    let e = err(&format!("{old}[surfaces.oauth-as]\nissuer = \"i\"\n"));
    assert_eq!(e.field, "oauth.as_issuer", "{e}");
    assert!(e.message.contains("[surfaces.oauth-as]"), "{e}");
    let e = err(&format!("{HTTP}[oauth]\nas_client_id = \"c\"\n"));
    assert_eq!(e.field, "oauth.as_client_id", "{e}");
}

/// Every target file the repository ships loads, the examples for users included.
#[test]
fn shipped_target_files_load() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../targets");
    let mut n = 0;
    for dir in [root.clone(), root.join("examples")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if p.extension().is_some_and(|x| x == "toml") && !name.ends_with(".baseline.toml") {
                Target::load(&p).unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
    }
    assert!(n >= 6, "{n} target files");
}

#[test]
fn a_bare_file_name_lives_in_the_current_folder() {
    let mut t = load("name = \"x\"\nprofiles = [\"oauth-resource\"]\n[surfaces.mcp-http]\nurl = \"http://127.0.0.1:1/mcp\"\n").unwrap();
    t.path = PathBuf::from("t.toml");
    assert_eq!(t.dir(), PathBuf::from("."));
    t.path = PathBuf::from("targets/t.toml");
    assert_eq!(t.dir(), PathBuf::from("targets"));
}
