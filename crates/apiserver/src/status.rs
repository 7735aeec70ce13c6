//! API errors and their one conversion to the Kubernetes `Status` object,
//! with the code, reason, message and details kubectl prints.

use crate::resources::Resource;
use serde_json::{json, Value};

/// One field-level cause of an `Invalid` error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`,
    /// `FieldValueDuplicate`, `FieldValueForbidden`, `FieldValueTooLong`.
    pub reason: &'static str,
    pub field: String,
    pub message: String,
}

impl Cause {
    pub fn required(field: impl Into<String>) -> Cause {
        Cause {
            reason: "FieldValueRequired",
            field: field.into(),
            message: "Required value".into(),
        }
    }

    /// A required field, with Kubernetes' detail of what is missing.
    pub fn required_because(field: impl Into<String>, detail: &str) -> Cause {
        Cause {
            reason: "FieldValueRequired",
            field: field.into(),
            message: format!("Required value: {detail}"),
        }
    }

    pub fn invalid(field: impl Into<String>, value: &Value, detail: impl AsRef<str>) -> Cause {
        let shown = match value {
            Value::String(s) => format!("{s:?}"),
            other => other.to_string(),
        };
        Cause {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: format!("Invalid value: {shown}: {}", detail.as_ref()),
        }
    }

    /// An invalid value Go prints without quotes (a `Stringer` such as a
    /// quantity or a resource name).
    pub fn invalid_unquoted(field: impl Into<String>, shown: &str, detail: &str) -> Cause {
        Cause {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: format!("Invalid value: {shown}: {detail}"),
        }
    }

    pub fn not_supported(field: impl Into<String>, value: &Value, supported: &[&str]) -> Cause {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        Cause {
            reason: "FieldValueNotSupported",
            field: field.into(),
            message: format!(
                "Unsupported value: {value}: supported values: {}",
                list.join(", ")
            ),
        }
    }

    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Cause {
        Cause {
            reason: "FieldValueForbidden",
            field: field.into(),
            message: format!("Forbidden: {}", detail.into()),
        }
    }

    pub fn too_long(field: impl Into<String>, detail: impl Into<String>) -> Cause {
        Cause {
            reason: "FieldValueTooLong",
            field: field.into(),
            message: format!("Too long: {}", detail.into()),
        }
    }

    pub fn duplicate(field: impl Into<String>, value: &Value) -> Cause {
        Cause {
            reason: "FieldValueDuplicate",
            field: field.into(),
            message: format!("Duplicate value: {value}"),
        }
    }

    pub fn not_found(field: impl Into<String>, value: &Value) -> Cause {
        Cause {
            reason: "FieldValueNotFound",
            field: field.into(),
            message: format!("Not found: {value}"),
        }
    }

    fn to_json(&self) -> Value {
        let mut v = json!({"reason": self.reason, "message": self.message});
        if !self.field.is_empty() {
            v["field"] = json!(self.field);
        }
        v
    }

    /// `spec.x: Invalid value: ...`, as Kubernetes joins causes.
    pub(crate) fn line(&self) -> String {
        format!("{}: {}", self.field, self.message)
    }
}

/// An error the API answers with a `Status`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { message: String },
    #[error("Unauthorized")]
    Unauthorized,
    #[error("{message}")]
    Forbidden { message: String },
    #[error("{resource} {name:?} not found")]
    NotFound {
        group: &'static str,
        resource: String,
        name: String,
    },
    /// A path that names no resource at all.
    #[error("the server could not find the requested resource")]
    NoSuchResource,
    #[error("{resource} {name:?} already exists")]
    AlreadyExists {
        group: &'static str,
        resource: String,
        name: String,
    },
    #[error("Operation cannot be fulfilled on {resource} {name:?}: {detail}")]
    Conflict {
        group: &'static str,
        resource: String,
        name: String,
        detail: String,
    },
    /// The kind is qualified by its group (`Deployment.apps`), as
    /// Kubernetes' `NewInvalid` names it.
    #[error(
        "{} {name:?} is invalid: {}",
        qualify(kind, group),
        join_causes(causes)
    )]
    Invalid {
        group: &'static str,
        kind: String,
        name: String,
        causes: Vec<Cause>,
    },
    /// A JSON patch that does not apply to the object (a failed `test`, a
    /// path that is not there): Kubernetes answers a bare 422 whose message
    /// says nothing of which operation failed.
    #[error("the server rejected our request due to an error in our request")]
    PatchNotApplied,
    #[error("{message}")]
    Gone { message: String },
    /// Server-side apply would change fields other managers own.
    #[error("{message}")]
    ApplyConflict { message: String, causes: Vec<Cause> },
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,
    #[error("the body of the request was in an unknown format - accepted media types include: {accepted}")]
    UnsupportedMediaType { accepted: String },
    #[error("only the following media types are accepted: {accepted}")]
    NotAcceptable { accepted: String },
    #[error("the request is too large: {size} bytes, limit {limit}")]
    TooLarge { size: usize, limit: usize },
    /// A JSON patch of more operations than Kubernetes takes.
    #[error("The allowed maximum operations in a JSON patch is {limit}, got {ops}")]
    TooManyPatchOperations { ops: usize, limit: usize },
    #[error("{message}")]
    Internal { message: String },
    #[error("{message}")]
    Timeout { message: String },
    #[error("{message}")]
    Unavailable { message: String },
    /// 429: a write refused for now (an eviction a disruption budget
    /// does not allow yet), with the cause and when to retry.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        causes: Vec<Cause>,
        retry_after_seconds: u32,
    },
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            message: message.into(),
        }
    }

    pub fn internal(message: impl std::fmt::Display) -> ApiError {
        ApiError::Internal {
            message: message.to_string(),
        }
    }

    pub fn not_found(resource: &Resource, name: &str) -> ApiError {
        ApiError::NotFound {
            group: resource.group,
            resource: resource.plural.to_owned(),
            name: name.to_owned(),
        }
    }

    pub fn already_exists(resource: &Resource, name: &str) -> ApiError {
        ApiError::AlreadyExists {
            group: resource.group,
            resource: resource.plural.to_owned(),
            name: name.to_owned(),
        }
    }

    pub fn conflict(resource: &Resource, name: &str) -> ApiError {
        ApiError::Conflict {
            group: resource.group,
            resource: resource.qualified(),
            name: name.to_owned(),
            detail: "the object has been modified; please apply your changes to the latest version and try again".into(),
        }
    }

    pub fn invalid(resource: &Resource, name: &str, causes: Vec<Cause>) -> ApiError {
        ApiError::Invalid {
            group: resource.group,
            kind: resource.kind.to_owned(),
            name: name.to_owned(),
            causes,
        }
    }

    pub fn code(&self) -> u16 {
        match self {
            ApiError::BadRequest { .. } => 400,
            ApiError::Unauthorized => 401,
            ApiError::Forbidden { .. } => 403,
            ApiError::NotFound { .. } | ApiError::NoSuchResource => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::NotAcceptable { .. } => 406,
            ApiError::AlreadyExists { .. }
            | ApiError::Conflict { .. }
            | ApiError::ApplyConflict { .. } => 409,
            ApiError::Gone { .. } => 410,
            ApiError::TooLarge { .. } | ApiError::TooManyPatchOperations { .. } => 413,
            ApiError::UnsupportedMediaType { .. } => 415,
            ApiError::Invalid { .. } | ApiError::PatchNotApplied => 422,
            ApiError::Internal { .. } => 500,
            ApiError::Unavailable { .. } => 503,
            ApiError::Timeout { .. } => 504,
            ApiError::TooManyRequests { .. } => 429,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "BadRequest",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::NotFound { .. } | ApiError::NoSuchResource => "NotFound",
            ApiError::MethodNotAllowed => "MethodNotAllowed",
            ApiError::NotAcceptable { .. } => "NotAcceptable",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } | ApiError::ApplyConflict { .. } => "Conflict",
            ApiError::Gone { .. } => "Expired",
            ApiError::TooLarge { .. } | ApiError::TooManyPatchOperations { .. } => {
                "RequestEntityTooLarge"
            }
            ApiError::UnsupportedMediaType { .. } => "UnsupportedMediaType",
            ApiError::Invalid { .. } | ApiError::PatchNotApplied => "Invalid",
            ApiError::Internal { .. } => "InternalError",
            ApiError::Unavailable { .. } => "ServiceUnavailable",
            ApiError::Timeout { .. } => "Timeout",
            ApiError::TooManyRequests { .. } => "TooManyRequests",
        }
    }

    /// The `Status` object for this error.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message(),
            "reason": self.reason(),
            "code": self.code(),
        });
        let details = match self {
            ApiError::NotFound {
                group,
                resource,
                name,
            }
            | ApiError::AlreadyExists {
                group,
                resource,
                name,
            } => Some(details(group, resource, name)),
            ApiError::Conflict {
                group,
                resource,
                name,
                ..
            } => {
                let plural = resource.split('.').next().unwrap_or(resource);
                Some(details(group, plural, name))
            }
            ApiError::Invalid {
                group,
                kind,
                name,
                causes,
            } => {
                let mut d = details(group, kind, name);
                d["causes"] = Value::Array(causes.iter().map(Cause::to_json).collect());
                Some(d)
            }
            ApiError::ApplyConflict { causes, .. } => {
                Some(json!({"causes": causes.iter().map(Cause::to_json).collect::<Vec<_>>()}))
            }
            // Kubernetes' generic responses carry empty details, which
            // clients read (kubectl debug tells a missing subresource by them).
            ApiError::PatchNotApplied | ApiError::NoSuchResource => Some(json!({})),
            ApiError::TooManyRequests {
                causes,
                retry_after_seconds,
                ..
            } => {
                let mut d =
                    json!({"causes": causes.iter().map(Cause::to_json).collect::<Vec<_>>()});
                if *retry_after_seconds > 0 {
                    d["retryAfterSeconds"] = json!(retry_after_seconds);
                }
                Some(d)
            }
            _ => None,
        };
        if let Some(d) = details {
            status["details"] = d;
        }
        status
    }

    /// The message, with the resource qualified by its group as Kubernetes
    /// prints it (`deployments.apps "web" not found`).
    fn message(&self) -> String {
        match self {
            ApiError::NotFound {
                group,
                resource,
                name,
            } => format!("{} {name:?} not found", qualify(resource, group)),
            ApiError::AlreadyExists {
                group,
                resource,
                name,
            } => format!("{} {name:?} already exists", qualify(resource, group)),
            other => other.to_string(),
        }
    }
}

/// One cause as is; several in brackets, as Kubernetes' aggregate error.
fn join_causes(causes: &[Cause]) -> String {
    let lines: Vec<String> = causes.iter().map(Cause::line).collect();
    if lines.len() == 1 {
        lines.into_iter().next().unwrap_or_default()
    } else {
        format!("[{}]", lines.join(", "))
    }
}

fn qualify(resource: &str, group: &str) -> String {
    if group.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource}.{group}")
    }
}

fn details(group: &str, kind: &str, name: &str) -> Value {
    let mut d = json!({"name": name, "kind": kind});
    if !group.is_empty() {
        d["group"] = json!(group);
    }
    d
}

/// Maps a store error to the API's, for the object `name` of `resource`.
pub fn from_store(err: cuttle_store::Error, resource: &Resource, name: &str) -> ApiError {
    use cuttle_store::Error as S;
    match err {
        S::NotFound { .. } => ApiError::not_found(resource, name),
        S::AlreadyExists { .. } => ApiError::already_exists(resource, name),
        S::Conflict { .. } => ApiError::conflict(resource, name),
        S::Compacted {
            requested,
            compacted,
        } => ApiError::Gone {
            message: format!("too old resource version: {requested} ({compacted})"),
        },
        S::ValueTooLarge { size, limit, .. } => ApiError::TooLarge { size, limit },
        S::FutureRevision { requested, current } => ApiError::Timeout {
            message: format!("Too large resource version: {requested}, current: {current}"),
        },
        S::InvalidKey { .. } | S::InvalidRequest(_) => ApiError::bad_request(err.to_string()),
        S::Closed | S::Etcd(_) => ApiError::Unavailable {
            message: err.to_string(),
        },
        other => ApiError::internal(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;

    #[test]
    fn not_found_reads_like_kubernetes() {
        let pods = find("", "v1", "pods").unwrap();
        let s = ApiError::not_found(pods, "web").to_status();
        assert_eq!(s["message"], "pods \"web\" not found");
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["code"], 404);
        assert_eq!(s["details"], json!({"name": "web", "kind": "pods"}));
        let deps = find("apps", "v1", "deployments").unwrap();
        let s = ApiError::not_found(deps, "d").to_status();
        assert_eq!(s["message"], "deployments.apps \"d\" not found");
        assert_eq!(s["details"]["group"], "apps");
    }

    #[test]
    fn invalid_lists_causes() {
        let pods = find("", "v1", "pods").unwrap();
        let e = ApiError::invalid(
            pods,
            "web",
            vec![
                Cause::required("spec.containers"),
                Cause::invalid(
                    "metadata.name",
                    &json!("Bad"),
                    "a lowercase RFC 1123 subdomain",
                ),
            ],
        );
        let s = e.to_status();
        assert_eq!(s["code"], 422);
        assert_eq!(
            s["message"],
            "Pod \"web\" is invalid: [spec.containers: Required value, metadata.name: Invalid value: \"Bad\": a lowercase RFC 1123 subdomain]"
        );
        assert_eq!(s["details"]["causes"][0]["field"], "spec.containers");
    }
}
