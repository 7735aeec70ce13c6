//! Label selectors (`a=b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`)
//! and field selectors (`f=v`, `f==v`, `f!=v`), parsed as Kubernetes parses
//! them and matched against an object's labels or selectable fields.

use crate::fields::Labels;
use crate::status::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    reqs: Vec<Requirement>,
}

impl LabelSelector {
    pub fn parse(s: &str) -> Result<LabelSelector, ApiError> {
        let mut reqs = Vec::new();
        for part in split_top_level(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            reqs.push(
                parse_requirement(part).map_err(|m| {
                    ApiError::bad_request(format!("unable to parse requirement: {m}"))
                })?,
            );
        }
        Ok(LabelSelector { reqs })
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// A `metav1.LabelSelector` object (`matchLabels`, `matchExpressions`)
    /// as Kubernetes' `LabelSelectorAsSelector` reads it; an operator it
    /// does not know makes the selector match nothing.
    pub fn from_object(selector: &serde_json::Value) -> LabelSelector {
        use serde_json::Value;
        let mut reqs: Vec<Requirement> = selector
            .get("matchLabels")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, v)| Requirement {
                key: k.clone(),
                op: Op::Equals(v.as_str().unwrap_or("").to_owned()),
            })
            .collect();
        for e in selector
            .get("matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let values = || -> Vec<String> {
                e["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            };
            let op = match e["operator"].as_str() {
                Some("In") => Op::In(values()),
                Some("NotIn") => Op::NotIn(values()),
                Some("Exists") => Op::Exists,
                Some("DoesNotExist") => Op::DoesNotExist,
                // Nothing has a label that is and is not there.
                _ => Op::In(Vec::new()),
            };
            reqs.push(Requirement {
                key: e["key"].as_str().unwrap_or("").to_owned(),
                op,
            });
        }
        LabelSelector { reqs }
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.reqs.iter().all(|r| {
            let v = labels.get(&r.key);
            match &r.op {
                Op::Equals(x) => v == Some(x.as_str()),
                Op::NotEquals(x) => v != Some(x.as_str()),
                Op::In(xs) => v.is_some_and(|v| xs.iter().any(|x| x == v)),
                Op::NotIn(xs) => !v.is_some_and(|v| xs.iter().any(|x| x == v)),
                Op::Exists => v.is_some(),
                Op::DoesNotExist => v.is_none(),
            }
        })
    }
}

/// Splits at commas outside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn valid_key(k: &str) -> Result<(), String> {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    if let Some(p) = prefix {
        if p.is_empty() || p.len() > 253 {
            return Err(format!(
                "invalid label key {k:?}: prefix part must be non-empty"
            ));
        }
    }
    if name.is_empty() || name.len() > 63 {
        return Err(format!(
            "invalid label key {k:?}: name part must be non-empty and at most 63 characters"
        ));
    }
    let ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    let ends_ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !ok || !ends_ok {
        return Err(format!(
            "invalid label key {k:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        ));
    }
    Ok(())
}

fn valid_value(v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Ok(());
    }
    let ok = v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && v.starts_with(|c: char| c.is_ascii_alphanumeric())
        && v.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!("invalid label value: {v:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"))
    }
}

fn parse_set(rest: &str) -> Result<Vec<String>, String> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("expected a parenthesized set, found {rest:?}"))?;
    let values: Vec<String> = inner.split(',').map(|v| v.trim().to_owned()).collect();
    for v in &values {
        valid_value(v)?;
    }
    Ok(values)
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        let key = key.trim();
        valid_key(key)?;
        return Ok(Requirement {
            key: key.to_owned(),
            op: Op::DoesNotExist,
        });
    }
    for (token, neg) in [("!=", true), ("==", false), ("=", false)] {
        if let Some((k, v)) = part.split_once(token) {
            let (k, v) = (k.trim(), v.trim());
            valid_key(k)?;
            valid_value(v)?;
            let op = if neg {
                Op::NotEquals(v.to_owned())
            } else {
                Op::Equals(v.to_owned())
            };
            return Ok(Requirement {
                key: k.to_owned(),
                op,
            });
        }
    }
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if let [key, rest] = words.as_slice() {
        let rest = rest.trim_start();
        let (op, set) = if let Some(s) = rest.strip_prefix("notin") {
            (false, s)
        } else if let Some(s) = rest.strip_prefix("in") {
            (true, s)
        } else {
            return Err(format!("unknown operator in {part:?}"));
        };
        valid_key(key)?;
        let values = parse_set(set)?;
        return Ok(Requirement {
            key: (*key).to_owned(),
            op: if op {
                Op::In(values)
            } else {
                Op::NotIn(values)
            },
        });
    }
    valid_key(part)?;
    Ok(Requirement {
        key: part.to_owned(),
        op: Op::Exists,
    })
}

/// A parsed field selector: terms on the fields a kind makes selectable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<(String, bool, String)>,
}

impl FieldSelector {
    /// Parses `s`, checking each field against the kind's selectable ones.
    pub fn parse(s: &str, known: &[&str]) -> Result<FieldSelector, ApiError> {
        let mut terms = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, eq, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            let mut field = field.trim();
            // Kubernetes still takes old clients' name for a pod's node.
            if field == "spec.host" && known.contains(&"spec.nodeName") {
                field = "spec.nodeName";
            }
            if !known.contains(&field) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            terms.push((field.to_owned(), eq, value.trim().to_owned()));
        }
        Ok(FieldSelector { terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The value a term requires of `field` with `=`, if any (used to
    /// narrow `metadata.name` lookups).
    pub fn required(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|(f, eq, _)| f == field && *eq)
            .map(|(_, _, v)| v.as_str())
    }

    pub fn matches(&self, fields: &[(&'static str, Box<str>)]) -> bool {
        self.terms.iter().all(|(f, eq, v)| {
            let actual = fields
                .iter()
                .find(|(name, _)| name == f)
                .map(|(_, val)| &**val)
                .unwrap_or("");
            (actual == v) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn every_label_operator() {
        let l = labels(&[("app", "web"), ("tier", "front"), ("x.io/role", "a")]);
        let yes = [
            "",
            "app=web",
            "app==web",
            "app!=db",
            "app in (web, db)",
            "app notin (db)",
            "tier",
            "!missing",
            "app=web,tier=front",
            "x.io/role=a",
            "missing notin (a)",
            "missing!=a",
        ];
        for s in yes {
            assert!(LabelSelector::parse(s).unwrap().matches(&l), "{s}");
        }
        let no = [
            "app=db",
            "app in (db)",
            "app notin (web)",
            "missing",
            "!app",
            "app=web,tier=back",
        ];
        for s in no {
            assert!(!LabelSelector::parse(s).unwrap().matches(&l), "{s}");
        }
    }

    #[test]
    fn bad_label_selectors_are_400() {
        for s in ["app in web", "-bad=x", "a=b c", "app in (a b)", "app=(x"] {
            let e = LabelSelector::parse(s).unwrap_err();
            assert_eq!(e.code(), 400, "{s}");
        }
    }

    #[test]
    fn field_selectors() {
        let known = ["metadata.name", "spec.nodeName"];
        let fs = FieldSelector::parse("metadata.name=web,spec.nodeName!=n1", &known).unwrap();
        assert!(fs.matches(&[
            ("metadata.name", "web".into()),
            ("spec.nodeName", "n2".into())
        ]));
        assert!(!fs.matches(&[
            ("metadata.name", "web".into()),
            ("spec.nodeName", "n1".into())
        ]));
        assert_eq!(fs.required("metadata.name"), Some("web"));
        assert!(FieldSelector::parse("spec.nodeName=", &known)
            .unwrap()
            .matches(&[("spec.nodeName", "".into())]));
        assert_eq!(
            FieldSelector::parse("status.foo=x", &known)
                .unwrap_err()
                .code(),
            400
        );
        let old = FieldSelector::parse("spec.host=n1", &known).unwrap();
        assert_eq!(old.required("spec.nodeName"), Some("n1"));
        assert!(FieldSelector::parse("spec.host=n1", &["metadata.name"]).is_err());
    }
}
