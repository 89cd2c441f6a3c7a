//! Policies: rules over orgs and roles that a set of signatures must meet.

use std::{collections::BTreeSet, fmt, str::FromStr};

use crate::{Policy, TypesError};

/// How many eligible orgs must sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// At least one eligible org.
    Any,
    /// Every eligible org.
    All,
    /// More than half of the eligible orgs.
    Majority,
    /// At least n eligible orgs.
    NOfM(u32),
    /// At least ⌈num/den × eligible⌉ orgs.
    Fraction(u32, u32),
    /// An admin of the org that owns the target (the certificate's org, the contract's creator).
    Owner,
}

impl FromStr for Rule {
    type Err = TypesError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || TypesError::BadPolicy(s.to_string());
        let upper = s.trim().to_ascii_uppercase();
        Ok(match upper.as_str() {
            "ANY" => Rule::Any,
            "ALL" => Rule::All,
            "MAJORITY" => Rule::Majority,
            "OWNER" => Rule::Owner,
            _ => {
                if let Some(n) = upper.strip_prefix("N_OF_M:") {
                    let n: u32 = n.parse().map_err(|_| bad())?;
                    if n == 0 {
                        return Err(bad());
                    }
                    Rule::NOfM(n)
                } else if let Some(f) = upper.strip_prefix("FRACTION:") {
                    let (a, b) = f.split_once('/').ok_or_else(bad)?;
                    let (a, b): (u32, u32) =
                        (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                    if a == 0 || b == 0 || a > b {
                        return Err(bad());
                    }
                    Rule::Fraction(a, b)
                } else {
                    return Err(bad());
                }
            }
        })
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Any => f.write_str("ANY"),
            Rule::All => f.write_str("ALL"),
            Rule::Majority => f.write_str("MAJORITY"),
            Rule::Owner => f.write_str("OWNER"),
            Rule::NOfM(n) => write!(f, "N_OF_M:{n}"),
            Rule::Fraction(a, b) => write!(f, "FRACTION:{a}/{b}"),
        }
    }
}

/// A signer whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Signer {
    pub org: String,
    pub role: String,
}

/// The result of evaluating a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub satisfied: bool,
    /// Eligible orgs that signed.
    pub have: usize,
    /// Eligible orgs needed.
    pub need: usize,
}

/// Check `policy` against the valid `signers`. `member_orgs` are the chain's orgs; `owner` the
/// org owning the target of the action (for the OWNER rule).
pub fn evaluate(
    policy: &Policy,
    member_orgs: &[String],
    owner: Option<&str>,
    signers: &[Signer],
) -> Result<Outcome, TypesError> {
    let rule: Rule = policy.rule.parse()?;
    let roles: Vec<&str> = if policy.roles.is_empty() {
        vec!["admin"]
    } else {
        policy.roles.iter().map(String::as_str).collect()
    };
    let eligible: BTreeSet<&str> = match rule {
        Rule::Owner => owner.into_iter().collect(),
        _ if policy.org_ids.is_empty() => member_orgs.iter().map(String::as_str).collect(),
        _ => policy
            .org_ids
            .iter()
            .map(String::as_str)
            .filter(|o| member_orgs.iter().any(|m| m == o))
            .collect(),
    };
    let signed: BTreeSet<&str> = signers
        .iter()
        .filter(|s| roles.contains(&s.role.as_str()) && eligible.contains(s.org.as_str()))
        .map(|s| s.org.as_str())
        .collect();
    let m = eligible.len();
    let need = match rule {
        Rule::Any | Rule::Owner => 1,
        Rule::All => m,
        Rule::Majority => m / 2 + 1,
        Rule::NOfM(n) => n as usize,
        Rule::Fraction(a, b) => (m * a as usize).div_ceil(b as usize),
    }
    .max(1);
    Ok(Outcome {
        satisfied: m > 0 && signed.len() >= need,
        have: signed.len(),
        need,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orgs(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("org{i}")).collect()
    }

    fn admins(ids: &[usize]) -> Vec<Signer> {
        ids.iter()
            .map(|i| Signer {
                org: format!("org{i}"),
                role: "admin".into(),
            })
            .collect()
    }

    fn policy(rule: &str) -> Policy {
        Policy {
            rule: rule.into(),
            org_ids: vec![],
            roles: vec![],
        }
    }

    #[test]
    fn majority_of_four_needs_three() {
        let p = policy("MAJORITY");
        let o = orgs(4);
        assert!(!evaluate(&p, &o, None, &admins(&[1, 2])).unwrap().satisfied);
        let out = evaluate(&p, &o, None, &admins(&[1, 2, 3])).unwrap();
        assert!(out.satisfied);
        assert_eq!((out.have, out.need), (3, 3));
        // Two signatures of one org count once.
        assert!(
            !evaluate(&p, &o, None, &admins(&[1, 1, 2]))
                .unwrap()
                .satisfied
        );
    }

    #[test]
    fn roles_and_orgs_filter_signers() {
        let o = orgs(3);
        let client = vec![Signer {
            org: "org1".into(),
            role: "client".into(),
        }];
        assert!(
            !evaluate(&policy("ANY"), &o, None, &client)
                .unwrap()
                .satisfied
        );
        let p = Policy {
            rule: "ANY".into(),
            org_ids: vec!["org2".into()],
            roles: vec!["client".into(), "admin".into()],
        };
        assert!(!evaluate(&p, &o, None, &admins(&[1])).unwrap().satisfied);
        assert!(evaluate(&p, &o, None, &admins(&[2])).unwrap().satisfied);
        // Signers from outside the chain never count.
        assert!(
            !evaluate(&policy("ANY"), &o, None, &admins(&[9]))
                .unwrap()
                .satisfied
        );
    }

    #[test]
    fn other_rules() {
        let o = orgs(5);
        assert!(
            evaluate(&policy("ALL"), &o, None, &admins(&[1, 2, 3, 4, 5]))
                .unwrap()
                .satisfied
        );
        assert!(
            !evaluate(&policy("ALL"), &o, None, &admins(&[1, 2, 3, 4]))
                .unwrap()
                .satisfied
        );
        assert!(
            evaluate(&policy("N_OF_M:2"), &o, None, &admins(&[4, 5]))
                .unwrap()
                .satisfied
        );
        let f = evaluate(&policy("FRACTION:2/3"), &o, None, &admins(&[1, 2, 3])).unwrap();
        assert_eq!(f.need, 4);
        assert!(!f.satisfied);
        assert!(
            evaluate(&policy("OWNER"), &o, Some("org3"), &admins(&[3]))
                .unwrap()
                .satisfied
        );
        assert!(
            !evaluate(&policy("OWNER"), &o, Some("org3"), &admins(&[1, 2]))
                .unwrap()
                .satisfied
        );
        for bad in ["", "SOME", "N_OF_M:0", "FRACTION:3/2", "FRACTION:1"] {
            assert!(evaluate(&policy(bad), &o, None, &[]).is_err(), "{bad}");
        }
        assert_eq!(
            "fraction:2/3".parse::<Rule>().unwrap().to_string(),
            "FRACTION:2/3"
        );
    }
}
