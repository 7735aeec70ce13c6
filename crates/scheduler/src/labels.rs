//! Compiled selectors: label selectors, node selector terms, taints and tolerations.
//!
//! Each API form is compiled once (when a pod or node enters the cache) into a
//! form that matches without allocating. Anything the apiserver would reject
//! (an unknown operator, a `Gt` value that is not an integer) compiles to a
//! requirement that matches nothing instead of an error or a panic.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    NodeSelectorRequirement, NodeSelectorTerm, Taint as ApiTaint, Toleration as ApiToleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Labels of an object.
pub type Labels = BTreeMap<String, String>;

/// A hash of one label, key and value: selectors that require an exact
/// label rule out most pods by comparing these instead of strings (FNV-1a,
/// the same in every run).
pub fn pair_hash(key: &str, value: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key.as_bytes().iter().chain(&[0xff]).chain(value.as_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Labels of each known namespace, by name (for affinity terms' namespace selectors).
pub type NamespaceLabels = std::collections::HashMap<String, Labels>;

/// An operator of a label or node selector requirement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Op {
    /// The label's value is one of these.
    In(Vec<String>),
    /// The label is absent or its value is none of these.
    NotIn(Vec<String>),
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
    /// The label's value is an integer greater than this (node selectors only).
    Gt(i64),
    /// The label's value is an integer less than this (node selectors only).
    Lt(i64),
    /// Matches nothing (an operator or value the API would reject).
    Never,
}

/// One requirement: a key and an operator.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    /// The label key (or field name, for node `matchFields`).
    pub key: String,
    /// The operator and its values.
    pub op: Op,
}

impl Requirement {
    /// Whether `value` (the label's value, `None` when absent) satisfies this requirement.
    pub fn matches_value(&self, value: Option<&str>) -> bool {
        match (&self.op, value) {
            (Op::In(vals), Some(v)) => vals.iter().any(|x| x == v),
            (Op::In(_), None) => false,
            (Op::NotIn(vals), Some(v)) => !vals.iter().any(|x| x == v),
            (Op::NotIn(_), None) => true,
            (Op::Exists, v) => v.is_some(),
            (Op::DoesNotExist, v) => v.is_none(),
            (Op::Gt(n), Some(v)) => v.parse::<i64>().is_ok_and(|x| x > *n),
            (Op::Lt(n), Some(v)) => v.parse::<i64>().is_ok_and(|x| x < *n),
            (Op::Gt(_) | Op::Lt(_), None) => false,
            (Op::Never, _) => false,
        }
    }

    /// Whether `labels` satisfy this requirement.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(&self.key).map(String::as_str))
    }

    fn compile(key: &str, operator: &str, values: Option<&Vec<String>>, numeric: bool) -> Self {
        let values = values.cloned().unwrap_or_default();
        let op = match operator {
            "In" if !values.is_empty() => Op::In(values),
            "NotIn" if !values.is_empty() => Op::NotIn(values),
            "Exists" if values.is_empty() => Op::Exists,
            "DoesNotExist" if values.is_empty() => Op::DoesNotExist,
            "Gt" | "Lt" if numeric && values.len() == 1 => match values[0].trim().parse::<i64>() {
                Ok(n) if operator == "Gt" => Op::Gt(n),
                Ok(n) => Op::Lt(n),
                Err(_) => Op::Never,
            },
            _ => Op::Never,
        };
        Requirement {
            key: key.to_string(),
            op,
        }
    }
}

/// A compiled label selector: all requirements must match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Selector {
    reqs: Vec<Requirement>,
    nothing: bool,
}

impl Selector {
    /// A selector that matches every object.
    pub fn everything() -> Self {
        Selector {
            reqs: Vec::new(),
            nothing: false,
        }
    }

    /// A selector that matches no object.
    pub fn nothing() -> Self {
        Selector {
            reqs: Vec::new(),
            nothing: true,
        }
    }

    /// Compiles an API label selector. `None` matches nothing (as Kubernetes treats a nil
    /// selector in affinity terms and spread constraints); an empty selector matches everything.
    pub fn from_api(sel: Option<&LabelSelector>) -> Self {
        let Some(sel) = sel else {
            return Selector::nothing();
        };
        let mut reqs = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            reqs.push(Requirement {
                key: k.clone(),
                op: Op::In(vec![v.clone()]),
            });
        }
        for e in sel.match_expressions.iter().flatten() {
            reqs.push(Requirement::compile(
                &e.key,
                &e.operator,
                e.values.as_ref(),
                false,
            ));
        }
        Selector {
            reqs,
            nothing: false,
        }
    }

    /// Adds `key In (value)` requirements (used for `matchLabelKeys`).
    pub fn with_requirement(mut self, req: Requirement) -> Self {
        self.reqs.push(req);
        self
    }

    /// Whether `labels` match.
    pub fn matches(&self, labels: &Labels) -> bool {
        !self.nothing && self.reqs.iter().all(|r| r.matches(labels))
    }

    /// The [`pair_hash`] of a label every object this selector matches
    /// carries, when it requires one exact label (as `matchLabels` do).
    pub fn required_pair(&self) -> Option<u64> {
        self.reqs.iter().find_map(|r| match &r.op {
            Op::In(values) if values.len() == 1 => Some(pair_hash(&r.key, &values[0])),
            _ => None,
        })
    }

    /// Whether this selector matches nothing at all.
    pub fn is_nothing(&self) -> bool {
        self.nothing
    }

    /// Whether this selector has no requirements (matches everything).
    pub fn is_everything(&self) -> bool {
        !self.nothing && self.reqs.is_empty()
    }
}

/// One node selector term: all label expressions and all field expressions must match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeTerm {
    exprs: Vec<Requirement>,
    fields: Vec<Requirement>,
}

impl NodeTerm {
    /// Compiles an API node selector term.
    pub fn from_api(term: &NodeSelectorTerm) -> Self {
        let compile = |reqs: Option<&Vec<NodeSelectorRequirement>>| -> Vec<Requirement> {
            reqs.into_iter()
                .flatten()
                .map(|r| Requirement::compile(&r.key, &r.operator, r.values.as_ref(), true))
                .collect()
        };
        let mut fields = compile(term.match_fields.as_ref());
        for f in &mut fields {
            // Only metadata.name with In/NotIn is a valid node field selector.
            if f.key != "metadata.name" || !matches!(f.op, Op::In(_) | Op::NotIn(_)) {
                f.op = Op::Never;
            }
        }
        NodeTerm {
            exprs: compile(term.match_expressions.as_ref()),
            fields,
        }
    }

    /// Whether a node with these labels and this name matches. A term with no
    /// requirements matches nothing, as in Kubernetes.
    pub fn matches(&self, labels: &Labels, node_name: &str) -> bool {
        if self.exprs.is_empty() && self.fields.is_empty() {
            return false;
        }
        self.exprs.iter().all(|r| r.matches(labels))
            && self.fields.iter().all(|r| r.matches_value(Some(node_name)))
    }

    /// Node names this term allows, if it pins them with `metadata.name In`.
    pub fn pinned_names(&self) -> Option<&[String]> {
        self.fields.iter().find_map(|f| match &f.op {
            Op::In(v) => Some(v.as_slice()),
            _ => None,
        })
    }
}

/// Effect of a taint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// New pods that do not tolerate it are not scheduled.
    NoSchedule,
    /// The scheduler avoids the node for pods that do not tolerate it.
    PreferNoSchedule,
    /// Pods that do not tolerate it are neither scheduled nor kept.
    NoExecute,
    /// Any other value (ignored by the scheduler).
    Other,
}

impl Effect {
    fn parse(s: &str) -> Self {
        match s {
            "NoSchedule" => Effect::NoSchedule,
            "PreferNoSchedule" => Effect::PreferNoSchedule,
            "NoExecute" => Effect::NoExecute,
            _ => Effect::Other,
        }
    }
}

/// A node's taint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Taint {
    /// The taint key.
    pub key: String,
    /// The taint value (empty when absent).
    pub value: String,
    /// The taint effect.
    pub effect: Effect,
}

impl Taint {
    /// Compiles an API taint.
    pub fn from_api(t: &ApiTaint) -> Self {
        Taint {
            key: t.key.clone(),
            value: t.value.clone().unwrap_or_default(),
            effect: Effect::parse(&t.effect),
        }
    }
}

/// A pod's toleration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Toleration {
    key: String,
    exists: bool,
    valid_op: bool,
    value: String,
    effect: Option<Effect>,
}

impl Toleration {
    /// Compiles an API toleration.
    pub fn from_api(t: &ApiToleration) -> Self {
        let op = t.operator.as_deref().unwrap_or("");
        Toleration {
            key: t.key.clone().unwrap_or_default(),
            exists: op == "Exists",
            valid_op: matches!(op, "" | "Equal" | "Exists"),
            value: t.value.clone().unwrap_or_default(),
            effect: t
                .effect
                .as_deref()
                .filter(|e| !e.is_empty())
                .map(Effect::parse),
        }
    }

    /// Whether this toleration tolerates `taint` (Kubernetes' `ToleratesTaint`).
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.effect.is_some_and(|e| e != taint.effect) {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        self.valid_op && (self.exists || self.value == taint.value)
    }

    /// Whether this toleration applies to taints of `effect` (no effect means all).
    pub fn covers_effect(&self, effect: Effect) -> bool {
        self.effect.is_none_or(|e| e == effect)
    }
}

/// Whether any of `tolerations` tolerates `taint`.
pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| t.tolerates(taint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn node_req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn label_selector_nil_empty_and_expressions() {
        let l = labels(&[("app", "web"), ("tier", "fe")]);
        assert!(!Selector::from_api(None).matches(&l));
        assert!(Selector::from_api(Some(&LabelSelector::default())).matches(&l));
        let sel = LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "NotIn".into(),
                values: Some(vec!["be".into()]),
            }]),
        };
        assert!(Selector::from_api(Some(&sel)).matches(&l));
        let bad = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "Like".into(),
                values: None,
            }]),
            ..Default::default()
        };
        assert!(!Selector::from_api(Some(&bad)).matches(&l));
    }

    #[test]
    fn a_required_pair_is_a_label_every_match_carries() {
        let sel = |m: &[(&str, &str)], exprs: Vec<LabelSelectorRequirement>| {
            Selector::from_api(Some(&LabelSelector {
                match_labels: Some(
                    m.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                match_expressions: Some(exprs),
            }))
        };
        let web = sel(&[("app", "web")], vec![]);
        assert_eq!(web.required_pair(), Some(pair_hash("app", "web")));
        // Key and value are kept apart: "a"+"pp=web" is another label.
        assert_ne!(pair_hash("app", "web"), pair_hash("a", "ppweb"));
        let not_in = LabelSelectorRequirement {
            key: "tier".into(),
            operator: "NotIn".into(),
            values: Some(vec!["be".into()]),
        };
        assert_eq!(sel(&[], vec![not_in.clone()]).required_pair(), None);
        let two = LabelSelectorRequirement {
            key: "app".into(),
            operator: "In".into(),
            values: Some(vec!["a".into(), "b".into()]),
        };
        assert_eq!(sel(&[], vec![two, not_in]).required_pair(), None);
        assert_eq!(Selector::everything().required_pair(), None);
    }

    #[test]
    fn node_term_operators() {
        let l = labels(&[("zone", "a"), ("cores", "16")]);
        let term = |reqs: Vec<NodeSelectorRequirement>| {
            NodeTerm::from_api(&NodeSelectorTerm {
                match_expressions: Some(reqs),
                match_fields: None,
            })
        };
        assert!(term(vec![node_req("zone", "In", &["a", "b"])]).matches(&l, "n"));
        assert!(!term(vec![node_req("zone", "NotIn", &["a"])]).matches(&l, "n"));
        assert!(term(vec![node_req("gpu", "NotIn", &["x"])]).matches(&l, "n"));
        assert!(term(vec![node_req("zone", "Exists", &[])]).matches(&l, "n"));
        assert!(term(vec![node_req("gpu", "DoesNotExist", &[])]).matches(&l, "n"));
        assert!(term(vec![node_req("cores", "Gt", &["8"])]).matches(&l, "n"));
        assert!(!term(vec![node_req("cores", "Lt", &["8"])]).matches(&l, "n"));
        assert!(
            !term(vec![node_req("zone", "Gt", &["8"])]).matches(&l, "n"),
            "non-integer label"
        );
        assert!(
            !term(vec![node_req("cores", "Gt", &["many"])]).matches(&l, "n"),
            "non-integer value"
        );
        assert!(
            !term(vec![]).matches(&l, "n"),
            "an empty term matches nothing"
        );
        let fields = NodeTerm::from_api(&NodeSelectorTerm {
            match_expressions: None,
            match_fields: Some(vec![node_req("metadata.name", "In", &["n1"])]),
        });
        assert!(fields.matches(&l, "n1"));
        assert!(!fields.matches(&l, "n2"));
        assert_eq!(fields.pinned_names(), Some(&["n1".to_string()][..]));
    }

    #[test]
    fn tolerations_match_taints() {
        let taint = Taint {
            key: "k".into(),
            value: "v".into(),
            effect: Effect::NoSchedule,
        };
        let tol =
            |key: Option<&str>, op: Option<&str>, value: Option<&str>, effect: Option<&str>| {
                Toleration::from_api(&ApiToleration {
                    key: key.map(Into::into),
                    operator: op.map(Into::into),
                    value: value.map(Into::into),
                    effect: effect.map(Into::into),
                    toleration_seconds: None,
                })
            };
        assert!(tol(Some("k"), None, Some("v"), None).tolerates(&taint));
        assert!(tol(Some("k"), Some("Equal"), Some("v"), Some("NoSchedule")).tolerates(&taint));
        assert!(!tol(Some("k"), Some("Equal"), Some("w"), None).tolerates(&taint));
        assert!(tol(Some("k"), Some("Exists"), None, None).tolerates(&taint));
        assert!(
            tol(None, Some("Exists"), None, None).tolerates(&taint),
            "empty key + Exists tolerates all"
        );
        assert!(!tol(Some("k"), Some("Exists"), None, Some("NoExecute")).tolerates(&taint));
        assert!(!tol(Some("k"), Some("Bogus"), Some("v"), None).tolerates(&taint));
    }
}
