//! Judging a REST request: authenticating its credential against the store
//! (before anything else), then what the principal may do in an organisation.

use axum::extract::FromRequestParts;
use http::HeaderMap;
use http::request::Parts;
use std::sync::Arc;

use super::Rest;
use super::credential::{Extracted, extract, from_query, has_full_width};
use super::keyring::{KeyKind, Principal};
use super::reply::Refusal;
use crate::faults::Fault;

/// The role that may read and write.
pub(crate) const DEVELOPER: &str = "developer";
/// The role that may also manage keys.
pub(crate) const ADMIN: &str = "admin";

/// An authenticated caller: its principal, and the value it presented (only
/// echoed under the `echo-key-in-error` fault).
pub(crate) struct Caller {
    pub principal: Principal,
    presented: String,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

/// What a management request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Reading (developer, admin).
    Read,
    /// Writing objects (developer, admin).
    Write,
    /// Managing keys (admin).
    Admin,
}

impl FromRequestParts<Arc<Rest>> for Caller {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, rest: &Arc<Rest>) -> Result<Self, Refusal> {
        rest.authenticate(&parts.headers, parts.uri.query())
    }
}

impl Rest {
    /// The caller of a request, or the 400/401 (403 under `invalid-as-403`) refusing it.
    pub(crate) fn authenticate(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
    ) -> Result<Caller, Refusal> {
        let fold = has_full_width(headers) && self.faults.has(Fault::FoldFullWidthKey);
        let presented = match extract(headers, fold) {
            Extracted::Found(presented) => presented,
            Extracted::Conflict => return Err(Refusal::InvalidRequest),
            Extracted::Malformed(raw) => return Err(self.rejected(&raw)),
            Extracted::Missing => {
                let in_query = query.filter(|_| self.faults.has(Fault::AcceptKeyInQuery));
                in_query
                    .and_then(from_query)
                    .ok_or_else(|| self.missing())?
            }
        };
        match self
            .store
            .lock()
            .keys
            .authenticate(&presented, &self.faults)
        {
            Some(principal) => Ok(Caller {
                principal,
                presented: presented.value,
            }),
            None => Err(self.rejected(&presented.value)),
        }
    }

    fn echo(&self, presented: &str) -> Option<String> {
        self.faults
            .has(Fault::EchoKeyInError)
            .then(|| presented.to_owned())
    }

    /// The refusal of a request without a credential.
    fn missing(&self) -> Refusal {
        if self.faults.has(Fault::InvalidAs403) {
            Refusal::Forbidden(None)
        } else {
            Refusal::Unauthorized(None)
        }
    }

    /// The refusal of an unknown, revoked or malformed credential.
    fn rejected(&self, presented: &str) -> Refusal {
        if self.faults.has(Fault::InvalidAs403) {
            Refusal::Forbidden(self.echo(presented))
        } else {
            Refusal::Unauthorized(self.echo(presented))
        }
    }

    /// 403 for a valid credential that is not for this route.
    pub(crate) fn forbidden(&self, caller: &Caller) -> Refusal {
        Refusal::Forbidden(self.echo(&caller.presented))
    }

    fn role_denied(&self, caller: &Caller) -> Refusal {
        if self.faults.has(Fault::ForbiddenAs401) {
            Refusal::Unauthorized(self.echo(&caller.presented))
        } else {
            self.forbidden(caller)
        }
    }

    /// The organisation and role the caller acts with on management and host
    /// routes; publishable keys are refused (403).
    fn member<'c>(&self, caller: &'c Caller) -> Result<(&'c str, &'c str), Refusal> {
        let p = &caller.principal;
        match p.kind {
            KeyKind::Publishable if self.faults.has(Fault::PublishableOnManagement) => {
                Ok((&p.org, DEVELOPER))
            }
            KeyKind::Publishable => Err(self.forbidden(caller)),
            KeyKind::Secret | KeyKind::User => Ok((&p.org, &p.role)),
        }
    }

    /// Whether the caller may do `need` in `org`: 403 for publishable keys,
    /// 404 for another organisation, then 403 for a role without the right.
    pub(crate) fn authorize(&self, caller: &Caller, org: &str, need: Need) -> Result<(), Refusal> {
        let (own, role) = self.member(caller)?;
        let reads_other = || {
            need == Need::Read
                && self.store.lock().orgs.contains(org)
                && self.faults.has(Fault::CrossOrgRead)
        };
        if own != org && !reads_other() {
            return Err(Refusal::NotFound);
        }
        let allowed = match need {
            Need::Read | Need::Write => role == DEVELOPER || role == ADMIN,
            Need::Admin => {
                role == ADMIN || (role == DEVELOPER && self.faults.has(Fault::RoleNotEnforced))
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(self.role_denied(caller))
        }
    }

    /// Whether the caller may create or delete servers and agents in `org`:
    /// [`Need::Write`], and under `developer-read-only` not as a developer.
    pub(crate) fn authorize_object_write(&self, caller: &Caller, org: &str) -> Result<(), Refusal> {
        self.authorize(caller, org, Need::Write)?;
        let (_, role) = self.member(caller)?;
        if role == DEVELOPER && self.faults.has(Fault::DeveloperReadOnly) {
            Err(self.role_denied(caller))
        } else {
            Ok(())
        }
    }

    /// The organisation to look the object `{id}` up in under `{org}`: `org`,
    /// or under `object-org-unchecked` the object's `owner` when it has one.
    pub(crate) fn object_org(&self, org: &str, owner: Option<&str>) -> String {
        match owner {
            Some(owner) if self.faults.has(Fault::ObjectOrgUnchecked) => owner.to_owned(),
            _ => org.to_owned(),
        }
    }

    /// The organisation owning the caller's host-API requests (any role).
    pub(crate) fn host_org<'c>(&self, caller: &'c Caller) -> Result<&'c str, Refusal> {
        self.member(caller).map(|(org, _)| org)
    }
}
