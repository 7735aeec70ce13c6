//! admissionregistration.k8s.io/v1: webhook configurations and validating
//! admission policies and bindings, defaulted and validated as Kubernetes
//! 1.33 does (stored only: cuttle does not call or enforce them yet, and
//! says so on every write).

use super::{items, items_mut, set_default};
use crate::status::Cause;
use serde_json::{json, Value};
use std::collections::HashSet;

/// The defaults `kubectl get -o yaml` shows on these kinds.
pub(super) fn apply_defaults(kind: &str, obj: &mut Value) {
    match kind {
        "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration" => {
            let mutating = kind == "MutatingWebhookConfiguration";
            for hook in items_mut(obj, "webhooks") {
                set_default(hook, "failurePolicy", json!("Fail"));
                set_default(hook, "matchPolicy", json!("Equivalent"));
                set_default(hook, "namespaceSelector", json!({}));
                set_default(hook, "objectSelector", json!({}));
                set_default(hook, "timeoutSeconds", json!(10));
                if mutating {
                    set_default(hook, "reinvocationPolicy", json!("Never"));
                }
                if let Some(service) = hook.pointer_mut("/clientConfig/service") {
                    set_default(service, "port", json!(443));
                }
                for rule in items_mut(hook, "rules") {
                    set_default(rule, "scope", json!("*"));
                }
            }
        }
        "ValidatingAdmissionPolicy" => {
            let Some(spec) = obj.get_mut("spec") else {
                return;
            };
            set_default(spec, "failurePolicy", json!("Fail"));
            if let Some(mc) = spec.get_mut("matchConstraints") {
                set_default(mc, "matchPolicy", json!("Equivalent"));
                set_default(mc, "namespaceSelector", json!({}));
                set_default(mc, "objectSelector", json!({}));
                for rule in items_mut(mc, "resourceRules") {
                    set_default(rule, "scope", json!("*"));
                }
            }
        }
        _ => {}
    }
}

/// Checks an object of this group, adding every cause found.
pub(super) fn validate(kind: &str, obj: &Value, causes: &mut Vec<Cause>) {
    match kind {
        "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration" => {
            validate_webhooks(obj, causes)
        }
        "ValidatingAdmissionPolicy" => validate_policy(obj, causes),
        "ValidatingAdmissionPolicyBinding" => validate_binding(obj, causes),
        _ => {}
    }
}

fn validate_webhooks(obj: &Value, causes: &mut Vec<Cause>) {
    let mut names = HashSet::new();
    for (i, hook) in items(obj, "webhooks").iter().enumerate() {
        let at = |f: &str| format!("webhooks[{i}].{f}");
        match hook.get("name").and_then(Value::as_str).unwrap_or_default() {
            "" => causes.push(Cause::required(at("name"))),
            name if name.split('.').count() < 3 => causes.push(Cause::invalid(
                at("name"),
                &json!(name),
                "should be a domain with at least three segments separated by dots",
            )),
            name if !names.insert(name) => causes.push(Cause::duplicate(at("name"), &json!(name))),
            _ => {}
        }
        let url = hook
            .pointer("/clientConfig/url")
            .is_some_and(|u| !u.is_null());
        let service = hook
            .pointer("/clientConfig/service")
            .is_some_and(|s| !s.is_null());
        if url == service {
            causes.push(Cause::required_because(
                at("clientConfig"),
                "exactly one of url or service is required",
            ));
        }
        match hook.get("sideEffects").and_then(Value::as_str) {
            None => causes.push(Cause::required_because(
                at("sideEffects"),
                "must specify one of None, NoneOnDryRun",
            )),
            Some("None" | "NoneOnDryRun") => {}
            Some(other) => causes.push(Cause::not_supported(
                at("sideEffects"),
                &json!(other),
                &["None", "NoneOnDryRun"],
            )),
        }
        for (j, rule) in items(hook, "rules").iter().enumerate() {
            check_rule(rule, &at(&format!("rules[{j}]")), causes);
        }
        if items(hook, "admissionReviewVersions").is_empty() {
            causes.push(Cause::required_because(
                at("admissionReviewVersions"),
                "must specify one of v1, v1beta1",
            ));
        }
        if let Some(t) = hook.get("timeoutSeconds").and_then(Value::as_i64) {
            if !(1..=30).contains(&t) {
                causes.push(Cause::invalid(
                    at("timeoutSeconds"),
                    &json!(t),
                    "the timeout value must be between 1 and 30 seconds",
                ));
            }
        }
    }
}

fn validate_policy(obj: &Value, causes: &mut Vec<Cause>) {
    let validations = items(obj.get("spec").unwrap_or(&Value::Null), "validations");
    let audits = obj
        .pointer("/spec/auditAnnotations")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if validations.is_empty() && audits == 0 {
        for field in ["spec.validations", "spec.auditAnnotations"] {
            causes.push(Cause::required_because(
                field,
                "validations or auditAnnotations must contain at least one item",
            ));
        }
    }
    for (i, v) in validations.iter().enumerate() {
        if v.get("expression")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            causes.push(Cause::required_because(
                format!("spec.validations[{i}].expression"),
                "expression is not specified",
            ));
        }
    }
    match obj.pointer("/spec/matchConstraints") {
        None | Some(Value::Null) => causes.push(Cause::required("spec.matchConstraints")),
        Some(mc) => {
            let rules = items(mc, "resourceRules");
            if rules.is_empty() {
                causes.push(Cause::required("spec.matchConstraints.resourceRules"));
            }
            for (j, rule) in rules.iter().enumerate() {
                check_rule(
                    rule,
                    &format!("spec.matchConstraints.resourceRules[{j}]"),
                    causes,
                );
            }
        }
    }
}

/// A rule with operations: each of its lists must name something.
fn check_rule(rule: &Value, at: &str, causes: &mut Vec<Cause>) {
    for field in ["operations", "apiGroups", "apiVersions", "resources"] {
        if items(rule, field).is_empty() {
            causes.push(Cause::required(format!("{at}.{field}")));
        }
    }
}

fn validate_binding(obj: &Value, causes: &mut Vec<Cause>) {
    if obj
        .pointer("/spec/policyName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        causes.push(Cause::required("spec.policyName"));
    }
    let actions = obj
        .pointer("/spec/validationActions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if actions.is_empty() {
        causes.push(Cause::required_because(
            "spec.validationActions",
            "at least one validation action is required",
        ));
    }
    for (i, a) in actions.iter().enumerate() {
        if !matches!(a.as_str(), Some("Deny" | "Warn" | "Audit")) {
            causes.push(Cause::not_supported(
                format!("spec.validationActions[{i}]"),
                a,
                &["Audit", "Deny", "Warn"],
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(kind: &str, obj: &Value) -> Vec<String> {
        let mut causes = Vec::new();
        validate(kind, obj, &mut causes);
        causes.into_iter().map(|c| c.field).collect()
    }

    #[test]
    fn webhooks_are_defaulted_and_checked() {
        let mut ok = json!({"webhooks": [{
            "name": "v.example.com", "clientConfig": {"service": {"namespace": "d", "name": "s"}},
            "sideEffects": "None", "admissionReviewVersions": ["v1"],
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
        }]});
        apply_defaults("MutatingWebhookConfiguration", &mut ok);
        assert_eq!(ok["webhooks"][0]["failurePolicy"], "Fail");
        assert_eq!(ok["webhooks"][0]["reinvocationPolicy"], "Never");
        assert_eq!(ok["webhooks"][0]["clientConfig"]["service"]["port"], 443);
        assert_eq!(ok["webhooks"][0]["rules"][0]["scope"], "*");
        assert!(fields("MutatingWebhookConfiguration", &ok).is_empty());
        let bad = json!({"webhooks": [{"name": "short"}, {"name": "a.b.c", "clientConfig": {}}]});
        assert_eq!(
            fields("ValidatingWebhookConfiguration", &bad),
            [
                "webhooks[0].name",
                "webhooks[0].clientConfig",
                "webhooks[0].sideEffects",
                "webhooks[0].admissionReviewVersions",
                "webhooks[1].clientConfig",
                "webhooks[1].sideEffects",
                "webhooks[1].admissionReviewVersions",
            ]
        );
    }

    #[test]
    fn policies_and_bindings_need_their_parts() {
        assert_eq!(
            fields("ValidatingAdmissionPolicy", &json!({"spec": {}})),
            [
                "spec.validations",
                "spec.auditAnnotations",
                "spec.matchConstraints"
            ]
        );
        let rule = json!({"operations": ["CREATE"], "apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["deployments"]});
        let mut vap = json!({"spec": {"validations": [{"expression": "true"}], "matchConstraints": {"resourceRules": [rule]}}});
        apply_defaults("ValidatingAdmissionPolicy", &mut vap);
        assert_eq!(vap["spec"]["failurePolicy"], "Fail");
        assert_eq!(vap["spec"]["matchConstraints"]["matchPolicy"], "Equivalent");
        assert!(fields("ValidatingAdmissionPolicy", &vap).is_empty());
        let no_rules = json!({"spec": {"validations": [{"expression": "true"}], "matchConstraints": {"resourceRules": [{"operations": ["CREATE"]}]}}});
        assert_eq!(
            fields("ValidatingAdmissionPolicy", &no_rules),
            [
                "spec.matchConstraints.resourceRules[0].apiGroups",
                "spec.matchConstraints.resourceRules[0].apiVersions",
                "spec.matchConstraints.resourceRules[0].resources",
            ]
        );
        assert_eq!(
            fields(
                "ValidatingAdmissionPolicyBinding",
                &json!({"spec": {"validationActions": ["Block"]}})
            ),
            ["spec.policyName", "spec.validationActions[0]"]
        );
    }
}
