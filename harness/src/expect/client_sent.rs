//! `client_sent`: what an MCP client under test put in its OAuth and MCP requests during a step — PKCE,
//! `resource`, `state`, `scope`, its client identity and authentication, redirect URIs, and how it presented
//! its access token (RFC 7636, RFC 8707, RFC 6749, RFC 6750, MCP authorization).

use super::world::{endpoint, seen};
use super::{Expectation, Fail, expand};
use crate::error::Invalid;
use crate::step::{ValidateCx, View};
use crate::template::Vars;
use crate::world::WorldSeen;
use authconform_mocks::{ClientAuth, Pkce, WorldRequest};
use serde::Deserialize;

/// `client_sent = { pkce = true, resource = "{world.url}", … }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSent {
    /// Every authorization request has an S256 challenge, and every code exchange a verifier that matches it
    /// (43–128 unreserved characters).
    #[serde(default)]
    pub pkce: bool,
    /// The authorization requests use different challenges (fresh verifiers); needs two of them.
    #[serde(default)]
    pub fresh_pkce: bool,
    /// Every authorization and token request has `resource` equal to this (a template).
    pub resource: Option<String>,
    /// Every authorization request has a `state`.
    #[serde(default)]
    pub state: bool,
    /// The first authorization request's `scope`, as a set (`""`: no scope, or an empty one).
    pub scope: Option<String>,
    /// The last authorization request's `scope` includes each of these.
    #[serde(default)]
    pub last_scope_includes: Vec<String>,
    /// No authorization or token request's `scope` includes this.
    pub scope_excludes: Option<String>,
    /// Every authorization request's `client_id` (a template; `registered`: the one dynamic registration
    /// returned).
    pub client_id: Option<String>,
    /// Every token request authenticates the client this way only.
    pub token_auth: Option<String>,
    /// No token request authenticates the client in more than one way (RFC 6749 §2.3).
    #[serde(default)]
    pub one_auth_method: bool,
    /// Some token request uses this grant type.
    pub grant: Option<String>,
    /// A registration request lists this in `grant_types`.
    pub registers_grant: Option<String>,
    /// Every redirect URI (authorization and registration requests) is http on loopback, or https.
    #[serde(default)]
    pub redirect_uris_safe: bool,
    /// Every MCP request once a token was issued carries it as a Bearer header, and no URL has a token.
    #[serde(default)]
    pub bearer_only: bool,
    /// No MCP server received a token issued by another server's authorization server.
    #[serde(default)]
    pub own_tokens_only: bool,
    /// A refresh (with `resource`, when `resource` is also expected) and a retried MCP request with the new
    /// token.
    #[serde(default)]
    pub refreshed: bool,
}

impl Expectation for ClientSent {
    fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid> {
        let flags = [
            self.pkce,
            self.fresh_pkce,
            self.state,
            self.one_auth_method,
            self.redirect_uris_safe,
            self.bearer_only,
            self.own_tokens_only,
            self.refreshed,
        ];
        let values = [
            &self.resource,
            &self.scope,
            &self.scope_excludes,
            &self.client_id,
            &self.token_auth,
            &self.grant,
            &self.registers_grant,
        ];
        if !flags.contains(&true)
            && values.iter().all(|v| v.is_none())
            && self.last_scope_includes.is_empty()
        {
            return Err(Invalid::new("", "expects nothing"));
        }
        for (field, t) in [("resource", &self.resource), ("client_id", &self.client_id)] {
            if let Some(t) = t {
                cx.template(field, t)?;
            }
        }
        Ok(())
    }

    fn judge_step(&self, view: &View<'_>, vars: &Vars) -> Result<(), Fail> {
        let seen = seen(view)?;
        self.authorization(seen, vars)?;
        self.token(seen)?;
        self.bearer(seen)?;
        Ok(())
    }
}

fn auths(seen: &WorldSeen) -> Vec<&WorldRequest> {
    endpoint(seen, "/authorize").collect()
}

fn tokens(seen: &WorldSeen) -> Vec<&WorldRequest> {
    endpoint(seen, "/token")
        .filter(|r| r.method == "POST")
        .collect()
}

fn need<'a>(v: &'a [&'a WorldRequest], what: &str) -> Result<&'a [&'a WorldRequest], Fail> {
    if v.is_empty() {
        return Err((format!("{what} to judge"), "none was made".into()));
    }
    Ok(v)
}

fn set(s: Option<&str>) -> std::collections::BTreeSet<String> {
    s.unwrap_or("")
        .split(' ')
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

impl ClientSent {
    fn authorization(&self, seen: &WorldSeen, vars: &Vars) -> Result<(), Fail> {
        let all = auths(seen);
        let needs_auth = self.pkce
            || self.fresh_pkce
            || self.state
            || self.scope.is_some()
            || !self.last_scope_includes.is_empty()
            || self.client_id.is_some();
        if needs_auth {
            need(&all, "an authorization request")?;
        }
        self.each_authorization(&all)?;
        if self.fresh_pkce {
            fresh(&all)?;
        }
        self.scopes(seen, &all)?;
        if let Some(id) = &self.client_id {
            client_id(seen, &all, &expand(vars, id)?)?;
        }
        if let Some(want) = &self.resource {
            let want = expand(vars, want)?;
            let mut reqs = all.clone();
            reqs.extend(tokens(seen));
            if let Some(r) = reqs
                .iter()
                .find(|r| r.param("resource") != Some(want.as_str()))
            {
                return Err((
                    format!("resource={want} on every authorization and token request"),
                    r.line(),
                ));
            }
        }
        if self.redirect_uris_safe {
            redirect_uris(seen)?;
        }
        Ok(())
    }

    /// PKCE and `state` on each authorization request.
    fn each_authorization(&self, all: &[&WorldRequest]) -> Result<(), Fail> {
        for r in all {
            if self.pkce
                && (r.param("code_challenge_method") != Some("S256")
                    || r.param("code_challenge").is_none())
            {
                return Err((
                    "code_challenge with code_challenge_method=S256".into(),
                    r.line(),
                ));
            }
            if self.state && r.param("state").is_none_or(str::is_empty) {
                return Err(("a state parameter".into(), r.line()));
            }
        }
        Ok(())
    }

    /// The scopes asked for: the first authorization's, the last one's, and one never asked for.
    fn scopes(&self, seen: &WorldSeen, all: &[&WorldRequest]) -> Result<(), Fail> {
        if let (Some(want), Some(first)) = (&self.scope, all.first())
            && set(Some(want)) != set(first.param("scope"))
        {
            let want = if want.is_empty() {
                "no scope".to_owned()
            } else {
                format!("scope={want}")
            };
            return Err((
                format!("the first authorization request with {want}"),
                first.line(),
            ));
        }
        if let Some(last) = all.last()
            && let Some(miss) = self
                .last_scope_includes
                .iter()
                .find(|s| !set(last.param("scope")).contains(*s))
        {
            return Err((
                format!("the last authorization request's scope to include {miss}"),
                last.line(),
            ));
        }
        if let Some(x) = &self.scope_excludes {
            let mut reqs = all.to_vec();
            reqs.extend(tokens(seen));
            if let Some(r) = reqs.iter().find(|r| set(r.param("scope")).contains(x)) {
                return Err((format!("no request for the scope {x}"), r.line()));
            }
        }
        Ok(())
    }

    fn token(&self, seen: &WorldSeen) -> Result<(), Fail> {
        let all = tokens(seen);
        if self.pkce {
            let codes: Vec<&&WorldRequest> = all
                .iter()
                .filter(|r| r.param("grant_type") == Some("authorization_code"))
                .collect();
            if codes.is_empty() {
                return Err(("a code exchange".into(), "none was made".into()));
            }
            if let Some(r) = codes.iter().find(|r| r.pkce != Some(Pkce::S256Verified)) {
                return Err((
                    "a code_verifier matching the S256 challenge".into(),
                    format!("{:?}: {}", r.pkce, r.line()),
                ));
            }
        }
        if self.one_auth_method {
            need(&all, "a token request")?;
            if let Some(r) = all
                .iter()
                .find(|r| r.client_auth == Some(ClientAuth::Several))
            {
                return Err((
                    "one client authentication method per request".into(),
                    r.line(),
                ));
            }
        }
        if let Some(want) = &self.token_auth {
            need(&all, "a token request")?;
            if let Some(r) = all
                .iter()
                .find(|r| r.client_auth.map(|a| a.as_str()) != Some(want.as_str()))
            {
                return Err((format!("client authentication {want} only"), r.line()));
            }
        }
        if let Some(g) = &self.grant
            && !all
                .iter()
                .any(|r| r.param("grant_type") == Some(g.as_str()) && r.status == 200)
        {
            return Err((format!("a successful {g} token request"), lines(&all)));
        }
        if let Some(g) = &self.registers_grant {
            let regs: Vec<&WorldRequest> = endpoint(seen, "/register").collect();
            need(&regs, "a registration request")?;
            if let Some(r) = regs
                .iter()
                .find(|r| !set(r.param("grant_types")).contains(g))
            {
                return Err((format!("grant_types including {g}"), r.line()));
            }
        }
        if self.refreshed {
            refreshed(seen, &all, self.resource.is_some())?;
        }
        Ok(())
    }

    fn bearer(&self, seen: &WorldSeen) -> Result<(), Fail> {
        let mcp: Vec<&WorldRequest> = seen
            .requests
            .iter()
            .filter(|r| r.path == "/mcp" && r.server.starts_with("rs"))
            .collect();
        if self.bearer_only {
            if let Some(r) = mcp.iter().find(|r| r.token_in_url) {
                return Err(("no token in a URL".into(), r.line()));
            }
            let first = mcp.iter().position(|r| r.token.is_some());
            let Some(first) = first else {
                return Err((
                    "MCP requests with a Bearer token".into(),
                    "none carried an issued token".into(),
                ));
            };
            if let Some(r) = mcp[first..].iter().find(|r| r.token.is_none()) {
                return Err((
                    "every later MCP request with the Bearer token".into(),
                    r.line(),
                ));
            }
        }
        if self.own_tokens_only {
            let foreign = mcp.iter().find(|r| {
                let own = if r.server == "rs" { "as" } else { "as2" };
                r.token_from.as_deref().is_some_and(|f| f != own)
            });
            if let Some(r) = foreign {
                return Err((
                    "tokens only at the server their AS issued them for".into(),
                    format!(
                        "{} (issued by {})",
                        r.line(),
                        r.token_from.as_deref().unwrap_or("?")
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn fresh(all: &[&WorldRequest]) -> Result<(), Fail> {
    if all.len() < 2 {
        return Err(("two authorization requests".into(), all.len().to_string()));
    }
    let mut seen = std::collections::BTreeSet::new();
    for r in all {
        let c = r.param("code_challenge").unwrap_or("");
        if !seen.insert(c) {
            return Err((
                "a fresh code_challenge for each authorization request".into(),
                r.line(),
            ));
        }
    }
    Ok(())
}

fn client_id(seen: &WorldSeen, all: &[&WorldRequest], want: &str) -> Result<(), Fail> {
    let want = if want == "registered" {
        let reg = endpoint(seen, "/register").find(|r| r.status == 201);
        let Some(label) = reg
            .and_then(|r| r.note.as_deref())
            .and_then(|n| n.strip_prefix("registered "))
        else {
            return Err(("a successful dynamic registration".into(), "none".into()));
        };
        label.to_owned()
    } else {
        want.to_owned()
    };
    match all
        .iter()
        .find(|r| r.param("client_id") != Some(want.as_str()))
    {
        Some(r) => Err((format!("client_id={want}"), r.line())),
        None => Ok(()),
    }
}

fn safe_redirect(u: &str) -> bool {
    let Ok(url) = url::Url::parse(u) else {
        return false;
    };
    match url.scheme() {
        "https" => true,
        "http" => matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")),
        _ => false,
    }
}

fn redirect_uris(seen: &WorldSeen) -> Result<(), Fail> {
    for r in endpoint(seen, "/authorize").chain(endpoint(seen, "/register")) {
        let uris = r
            .param("redirect_uri")
            .or(r.param("redirect_uris"))
            .unwrap_or("");
        if let Some(bad) = uris.split(' ').find(|u| !safe_redirect(u)) {
            return Err((
                "redirect URIs on loopback or https".into(),
                format!("{bad}: {}", r.line()),
            ));
        }
    }
    Ok(())
}

fn refreshed(seen: &WorldSeen, all: &[&WorldRequest], with_resource: bool) -> Result<(), Fail> {
    let refreshes: Vec<&&WorldRequest> = all
        .iter()
        .filter(|r| r.param("grant_type") == Some("refresh_token") && r.status == 200)
        .collect();
    if refreshes.is_empty() {
        return Err(("a refresh_token grant".into(), lines(all)));
    }
    if let Some(r) = refreshes
        .iter()
        .find(|r| with_resource && r.param("resource").is_none())
    {
        return Err(("resource on the refresh request".into(), r.line()));
    }
    let new: Vec<&str> = refreshes
        .iter()
        .filter_map(|r| r.note.as_deref().and_then(|n| n.strip_prefix("issued ")))
        .collect();
    let retried = seen.requests.iter().any(|r| {
        r.path == "/mcp" && r.status < 400 && r.token.as_deref().is_some_and(|t| new.contains(&t))
    });
    if !retried {
        return Err((
            format!(
                "an MCP request answered with a refreshed token ({})",
                new.join(", ")
            ),
            "none".into(),
        ));
    }
    Ok(())
}

fn lines(v: &[&WorldRequest]) -> String {
    if v.is_empty() {
        return "none".into();
    }
    v.iter().map(|r| r.line()).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_expectation_is_refused() {
        let cx = ValidateCx::default();
        assert!(ClientSent::default().validate(&cx).is_err());
        let pkce = ClientSent {
            pkce: true,
            ..ClientSent::default()
        };
        assert!(pkce.validate(&cx).is_ok());
    }
}
