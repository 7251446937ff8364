//! `property_holds = true`: a property step (`key_property`) found no counter-example, after its positive
//! control (the unmutated key) was accepted.

use super::{Expectation, Fail};
use crate::error::Invalid;
use crate::step::{ValidateCx, View};
use crate::template::Vars;
use serde::Deserialize;

/// `property_holds = true`.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct PropertyHolds(pub bool);

impl Expectation for PropertyHolds {
    fn validate(&self, _cx: &ValidateCx) -> Result<(), Invalid> {
        if self.0 {
            Ok(())
        } else {
            Err(Invalid::new(
                "",
                "only `property_holds = true` is meaningful",
            ))
        }
    }

    fn judge_step(&self, view: &View<'_>, _vars: &Vars) -> Result<(), Fail> {
        let want = "no mutant of the key to authenticate".to_string();
        match &view.property {
            None => Err((want, "this kind of step checks no property".into())),
            Some(Ok(_)) => Ok(()),
            Some(Err(why)) => Err((want, why.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_the_verdict() {
        let e = PropertyHolds(true);
        let vars = Vars::default();
        let ok = View {
            property: Some(Ok(5)),
            ..View::default()
        };
        assert!(e.judge_step(&ok, &vars).is_ok());
        let bad = View {
            property: Some(Err("x authenticated".into())),
            ..View::default()
        };
        assert_eq!(e.judge_step(&bad, &vars).unwrap_err().1, "x authenticated");
        assert!(e.judge_step(&View::default(), &vars).is_err());
        assert!(
            PropertyHolds(false)
                .validate(&ValidateCx::default())
                .is_err()
        );
    }
}
