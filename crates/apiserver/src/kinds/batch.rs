//! Validation of the batch kinds after Kubernetes' `ValidateJob` and
//! `ValidateCronJob`: counts that are not negative, a pod template whose
//! pods restart `OnFailure` or `Never`, and for a CronJob a schedule the
//! cron parser reads, a known time zone and a concurrency policy.

use super::{cron, pod_spec};
use crate::status::Cause;
use serde_json::{json, Value};

/// `ValidateJobSpec` at `base` (`spec`, `spec.jobTemplate.spec`).
fn validate_job_spec(spec: &Value, base: &str, causes: &mut Vec<Cause>) {
    super::non_negative(
        spec,
        &[
            "parallelism",
            "completions",
            "activeDeadlineSeconds",
            "backoffLimit",
            "ttlSecondsAfterFinished",
        ],
        base,
        causes,
    );
    if let Some(mode) = spec.get("completionMode") {
        match mode.as_str() {
            Some("NonIndexed") => {}
            Some("Indexed") => {
                if spec.get("completions").is_none_or(Value::is_null) {
                    causes.push(Cause::required_because(
                        format!("{base}.completions"),
                        "when completion mode is Indexed",
                    ));
                }
            }
            _ => causes.push(Cause::not_supported(
                format!("{base}.completionMode"),
                mode,
                &["NonIndexed", "Indexed"],
            )),
        }
    }
    match spec.pointer("/template/spec") {
        Some(pod) => {
            let at = format!("{base}.template.spec");
            pod_spec::validate(pod, &at, causes);
            pod_spec::validate_template_restart(pod, &at, true, causes);
        }
        None => causes.push(Cause::required(format!("{base}.template.spec.containers"))),
    }
}

pub(super) fn validate_job(obj: &Value, causes: &mut Vec<Cause>) {
    match obj.get("spec") {
        Some(spec) => validate_job_spec(spec, "spec", causes),
        None => causes.push(Cause::required("spec.template.spec.containers")),
    }
}

/// `validateTimeZone`: an IANA zone this machine's tz database knows.
fn validate_time_zone(zone: &Value, causes: &mut Vec<Cause>) {
    let Some(name) = zone.as_str() else { return };
    let unknown = || Cause::invalid("spec.timeZone", zone, format!("unknown time zone {name}"));
    if name.is_empty() {
        causes.push(Cause::invalid(
            "spec.timeZone",
            zone,
            "timeZone must be nil or non-empty string",
        ));
        return;
    }
    let bad_part = name.split('/').any(|part| {
        part == "."
            || part == ".."
            || part.starts_with('-')
            || part.is_empty()
            || part.len() > 14
            || !part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_+".contains(c))
    });
    if bad_part {
        causes.push(unknown());
    } else if name.eq_ignore_ascii_case("local") {
        causes.push(Cause::invalid(
            "spec.timeZone",
            zone,
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
    } else if name != "UTC"
        && !std::path::Path::new("/usr/share/zoneinfo")
            .join(name)
            .is_file()
    {
        causes.push(unknown());
    }
}

pub(super) fn validate_cron_job(obj: &Value, causes: &mut Vec<Cause>) {
    let Some(spec) = obj.get("spec") else {
        causes.push(Cause::required("spec.schedule"));
        return;
    };
    let schedule = spec.get("schedule").and_then(Value::as_str).unwrap_or("");
    if schedule.is_empty() {
        causes.push(Cause::required("spec.schedule"));
    } else {
        if let Some(why) = cron::schedule_error(schedule) {
            causes.push(Cause::invalid("spec.schedule", &json!(schedule), why));
        }
        if schedule.contains("TZ") {
            causes.push(Cause::invalid(
                "spec.schedule",
                &json!(schedule),
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        }
    }
    if let Some(zone) = spec.get("timeZone").filter(|z| !z.is_null()) {
        validate_time_zone(zone, causes);
    }
    super::one_of(
        spec.get("concurrencyPolicy"),
        &["Allow", "Forbid", "Replace"],
        || "spec.concurrencyPolicy".into(),
        causes,
    );
    super::non_negative(
        spec,
        &[
            "startingDeadlineSeconds",
            "successfulJobsHistoryLimit",
            "failedJobsHistoryLimit",
        ],
        "spec",
        causes,
    );
    match spec.pointer("/jobTemplate/spec") {
        Some(job) => validate_job_spec(job, "spec.jobTemplate.spec", causes),
        None => causes.push(Cause::required(
            "spec.jobTemplate.spec.template.spec.containers",
        )),
    }
}

/// A CronJob's name leaves room for the suffix of the Jobs it creates.
pub(super) fn validate_cron_job_name(obj: &Value, causes: &mut Vec<Cause>) {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.len() > 52 {
        causes.push(Cause::invalid(
            "metadata.name",
            &json!(name),
            "must be no more than 52 characters",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(causes: &[Cause]) -> Vec<String> {
        causes.iter().map(Cause::line).collect()
    }

    fn pod(restart: Option<&str>) -> Value {
        let mut spec = json!({"containers": [{"name": "c", "image": "i", "imagePullPolicy": "Always",
            "terminationMessagePolicy": "File"}], "dnsPolicy": "ClusterFirst"});
        if let Some(r) = restart {
            spec["restartPolicy"] = json!(r);
        }
        json!({"spec": spec})
    }

    #[test]
    fn a_job_restarts_on_failure_or_never() {
        let mut causes = Vec::new();
        validate_job(
            &json!({"spec": {"template": pod(Some("Always"))}}),
            &mut causes,
        );
        validate_job(
            &json!({"spec": {"template": pod(Some("Never")), "parallelism": -1}}),
            &mut causes,
        );
        assert_eq!(
            lines(&causes),
            vec![
                "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
                "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
            ]
        );
    }

    #[test]
    fn a_cron_job_needs_a_schedule_the_parser_reads() {
        let job = |schedule: &str, zone: Option<&str>| {
            let mut spec = json!({"schedule": schedule,
                "jobTemplate": {"spec": {"template": pod(Some("OnFailure"))}}});
            if let Some(z) = zone {
                spec["timeZone"] = json!(z);
            }
            let mut causes = Vec::new();
            validate_cron_job(&json!({"spec": spec}), &mut causes);
            lines(&causes)
        };
        assert!(job("*/1 * * * *", None).is_empty());
        assert!(job("0 0 * * *", Some("UTC")).is_empty());
        assert_eq!(
            job("not a cron", None),
            vec!["spec.schedule: Invalid value: \"not a cron\": expected exactly 5 fields, found 3: [not a cron]"]
        );
        assert_eq!(
            job("0 0 * * *", Some("Mars/Olympus")),
            vec!["spec.timeZone: Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus"]
        );
        assert_eq!(job("", None), vec!["spec.schedule: Required value"]);
    }
}
