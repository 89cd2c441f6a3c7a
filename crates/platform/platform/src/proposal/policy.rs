//! Voting policies: which share of the voters' weight must approve, per-org weights, orgs
//! whose rejection alone rejects (veto), and how long the vote stays open.
//!
//! Rules: `ANY`, `ALL`, `MAJORITY` (more than half), `N_OF_M:n` (at least n), `PERCENT:p`
//! (at least p % of the weight), `FRACTION:a/b`. Each org counts with its weight (1 unless
//! named). A proposal is approved as soon as the approvals meet the rule, and rejected as soon
//! as they no longer can (or a veto org rejects).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Longest a vote may stay open: a chain transaction built from its signatures must land
/// within the chain's seven-day limit.
pub const MAX_DEADLINE_HOURS: u32 = 7 * 24;
/// How long a vote stays open unless the policy says.
pub const DEFAULT_DEADLINE_HOURS: u32 = 72;

/// A policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub rule: String,
    /// Weight per org (1 for orgs not named).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub weights: BTreeMap<String, u32>,
    /// Orgs whose rejection rejects the proposal at once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub veto: Vec<String>,
    /// Hours the vote stays open.
    #[serde(default)]
    pub deadline_hours: Option<u32>,
}

impl Policy {
    pub fn rule(rule: &str) -> Policy {
        Policy {
            rule: rule.into(),
            weights: BTreeMap::new(),
            veto: vec![],
            deadline_hours: None,
        }
    }

    /// Check the policy is well formed.
    pub fn check(&self) -> Result<()> {
        Rule::parse(&self.rule)?;
        if self.weights.values().any(|w| *w > 1000) {
            return Err(Error::invalid_as(
                "POLICY_INVALID",
                "an org's weight is at most 1000",
            ));
        }
        if let Some(h) = self.deadline_hours
            && !(1..=MAX_DEADLINE_HOURS).contains(&h)
        {
            return Err(Error::invalid_as(
                "POLICY_INVALID",
                format!("a deadline is 1 to {MAX_DEADLINE_HOURS} hours"),
            ));
        }
        Ok(())
    }

    pub fn deadline_hours(&self) -> u32 {
        self.deadline_hours.unwrap_or(DEFAULT_DEADLINE_HOURS)
    }

    fn weight(&self, org: &str) -> u64 {
        u64::from(self.weights.get(org).copied().unwrap_or(1))
    }
}

/// A parsed rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Any,
    All,
    Majority,
    NOfM(u64),
    Percent(u64),
    Fraction(u64, u64),
}

impl Rule {
    pub fn parse(s: &str) -> Result<Rule> {
        let bad = || {
            Error::invalid_as(
                "POLICY_INVALID",
                format!(
                    "{s:?} is not a rule (ANY, ALL, MAJORITY, N_OF_M:n, PERCENT:p, FRACTION:a/b)"
                ),
            )
        };
        let u = s.trim().to_ascii_uppercase();
        Ok(match u.as_str() {
            "ANY" => Rule::Any,
            "ALL" => Rule::All,
            "MAJORITY" => Rule::Majority,
            _ => {
                if let Some(n) = u.strip_prefix("N_OF_M:") {
                    let n: u64 = n.parse().map_err(|_| bad())?;
                    if n == 0 {
                        return Err(bad());
                    }
                    Rule::NOfM(n)
                } else if let Some(pc) = u.strip_prefix("PERCENT:") {
                    let pc: u64 = pc.parse().map_err(|_| bad())?;
                    if pc == 0 || pc > 100 {
                        return Err(bad());
                    }
                    Rule::Percent(pc)
                } else if let Some(f) = u.strip_prefix("FRACTION:") {
                    let (a, b) = f.split_once('/').ok_or_else(bad)?;
                    let (a, b): (u64, u64) =
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

    /// Whether approvals of weight `approve` out of `total` meet the rule.
    pub fn met(self, approve: u64, total: u64) -> bool {
        if total == 0 {
            return false;
        }
        match self {
            Rule::Any => approve >= 1,
            Rule::All => approve >= total,
            Rule::Majority => 2 * approve > total,
            Rule::NOfM(n) => approve >= n,
            Rule::Percent(pc) => 100 * approve >= pc * total,
            Rule::Fraction(a, b) => b * approve >= a * total,
        }
    }
}

/// Where a vote stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Standing {
    Open,
    Approved,
    Rejected,
}

/// The count of a vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub approve_weight: u64,
    pub reject_weight: u64,
    pub total_weight: u64,
    pub standing: Standing,
    /// Why it is rejected (a veto, or approval no longer reachable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Count `votes` (org → approve?) of `voters` under `policy`. Votes of orgs that are not
/// voters do not count.
pub fn tally(policy: &Policy, voters: &[String], votes: &BTreeMap<String, bool>) -> Result<Tally> {
    let rule = Rule::parse(&policy.rule)?;
    let total: u64 = voters.iter().map(|v| policy.weight(v)).sum();
    let mut approve = 0;
    let mut reject = 0;
    let mut veto = None;
    for v in voters {
        match votes.get(v) {
            Some(true) => approve += policy.weight(v),
            Some(false) => {
                reject += policy.weight(v);
                if policy.veto.contains(v) {
                    veto = Some(v.clone());
                }
            }
            None => {}
        }
    }
    let (standing, reason) = if let Some(v) = veto {
        (Standing::Rejected, Some(format!("{v} vetoed it")))
    } else if rule.met(approve, total) {
        (Standing::Approved, None)
    } else if !rule.met(total - reject, total) {
        (
            Standing::Rejected,
            Some("the approvals still possible can no longer meet the rule".into()),
        )
    } else {
        (Standing::Open, None)
    };
    Ok(Tally {
        approve_weight: approve,
        reject_weight: reject,
        total_weight: total,
        standing,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orgs(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("o{i}")).collect()
    }

    fn votes(v: &[(usize, bool)]) -> BTreeMap<String, bool> {
        v.iter().map(|(i, a)| (format!("o{i}"), *a)).collect()
    }

    #[test]
    fn majority_of_three() {
        let p = Policy::rule("MAJORITY");
        let o = orgs(3);
        assert_eq!(
            tally(&p, &o, &votes(&[(1, true)])).unwrap().standing,
            Standing::Open
        );
        assert_eq!(
            tally(&p, &o, &votes(&[(1, true), (2, true)]))
                .unwrap()
                .standing,
            Standing::Approved
        );
        assert_eq!(
            tally(&p, &o, &votes(&[(1, false), (2, false)]))
                .unwrap()
                .standing,
            Standing::Rejected
        );
        assert_eq!(
            tally(&p, &o, &votes(&[(1, true), (2, false)]))
                .unwrap()
                .standing,
            Standing::Open
        );
    }

    #[test]
    fn all_any_n_of_m_percent_fraction() {
        let o = orgs(4);
        let t = |rule: &str, v: &[(usize, bool)]| {
            tally(&Policy::rule(rule), &o, &votes(v)).unwrap().standing
        };
        assert_eq!(t("ALL", &[(1, true), (2, true), (3, true)]), Standing::Open);
        assert_eq!(t("ALL", &[(1, false)]), Standing::Rejected);
        assert_eq!(t("ANY", &[(4, true)]), Standing::Approved);
        assert_eq!(
            t("ANY", &[(1, false), (2, false), (3, false)]),
            Standing::Open
        );
        assert_eq!(
            t("ANY", &[(1, false), (2, false), (3, false), (4, false)]),
            Standing::Rejected
        );
        assert_eq!(t("N_OF_M:2", &[(1, true), (3, true)]), Standing::Approved);
        assert_eq!(t("PERCENT:75", &[(1, true), (2, true)]), Standing::Open);
        assert_eq!(
            t("PERCENT:75", &[(1, true), (2, true), (3, true)]),
            Standing::Approved
        );
        assert_eq!(
            t("PERCENT:75", &[(1, false), (2, false)]),
            Standing::Rejected
        );
        assert_eq!(t("FRACTION:2/3", &[(1, true), (2, true)]), Standing::Open);
        assert_eq!(
            t("FRACTION:2/3", &[(1, true), (2, true), (3, true)]),
            Standing::Approved
        );
    }

    #[test]
    fn weights_and_veto() {
        let o = orgs(3);
        let mut p = Policy::rule("MAJORITY");
        p.weights.insert("o1".into(), 3);
        // o1 alone holds 3 of 5.
        assert_eq!(
            tally(&p, &o, &votes(&[(1, true)])).unwrap().standing,
            Standing::Approved
        );
        p.veto.push("o3".into());
        let t = tally(&p, &o, &votes(&[(1, true), (3, false)])).unwrap();
        // o1 approved first (approval met); a veto still rejects when counted together.
        assert_eq!(t.standing, Standing::Rejected);
        assert!(t.reason.unwrap().contains("o3"));
        // Votes of non-voters do not count.
        assert_eq!(
            tally(&Policy::rule("ANY"), &o, &votes(&[(9, true)]))
                .unwrap()
                .standing,
            Standing::Open
        );
    }

    #[test]
    fn bad_rules_are_refused() {
        for r in [
            "",
            "SOME",
            "N_OF_M:0",
            "PERCENT:101",
            "FRACTION:3/2",
            "FRACTION:1",
        ] {
            assert!(Rule::parse(r).is_err(), "{r}");
        }
        let mut p = Policy::rule("ANY");
        p.deadline_hours = Some(MAX_DEADLINE_HOURS + 1);
        assert!(p.check().is_err());
    }
}
