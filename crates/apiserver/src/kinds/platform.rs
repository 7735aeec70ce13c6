//! Defaults and validation of the storage.k8s.io, networking.k8s.io,
//! node.k8s.io and certificates.k8s.io kinds, after Kubernetes'
//! `SetDefaults_*` and `Validate*` functions: the observable defaults
//! (StorageClass reclaim and binding, CSIDriver flags, NetworkPolicy
//! policy types), the required fields and the immutable ones.

use super::set_default;
use crate::status::Cause;
use serde_json::{json, Value};

/// Applies the defaults of a kind of these groups (nothing for other
/// kinds).
pub(super) fn apply_defaults(group: &str, kind: &str, obj: &mut Value) {
    match (group, kind) {
        ("admissionregistration.k8s.io", kind) => super::admission::apply_defaults(kind, obj),
        ("storage.k8s.io", "StorageClass") => {
            set_default(obj, "reclaimPolicy", json!("Delete"));
            set_default(obj, "volumeBindingMode", json!("Immediate"));
        }
        ("storage.k8s.io", "CSIDriver") => {
            if let Some(spec) = obj.get_mut("spec") {
                set_default(spec, "attachRequired", json!(true));
                set_default(spec, "podInfoOnMount", json!(false));
                set_default(spec, "storageCapacity", json!(false));
                set_default(spec, "fsGroupPolicy", json!("ReadWriteOnceWithFSType"));
                set_default(spec, "requiresRepublish", json!(false));
                set_default(spec, "seLinuxMount", json!(false));
                if spec
                    .get("volumeLifecycleModes")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty)
                {
                    spec["volumeLifecycleModes"] = json!(["Persistent"]);
                }
            }
        }
        ("networking.k8s.io", "NetworkPolicy") => {
            set_default(obj, "spec", json!({}));
            let Some(spec) = obj.get_mut("spec") else {
                return;
            };
            set_default(spec, "podSelector", json!({}));
            for list in ["ingress", "egress"] {
                for rule in spec
                    .get_mut(list)
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    for port in rule
                        .get_mut("ports")
                        .and_then(Value::as_array_mut)
                        .into_iter()
                        .flatten()
                    {
                        set_default(port, "protocol", json!("TCP"));
                    }
                }
            }
            // A policy without types is at least an Ingress policy.
            if spec
                .get("policyTypes")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
            {
                let egress = spec
                    .get("egress")
                    .and_then(Value::as_array)
                    .is_some_and(|e| !e.is_empty());
                spec["policyTypes"] = if egress {
                    json!(["Ingress", "Egress"])
                } else {
                    json!(["Ingress"])
                };
            }
        }
        _ => {}
    }
}

/// Whether the string at `ptr` is missing or empty.
fn blank(obj: &Value, ptr: &str) -> bool {
    obj.pointer(ptr)
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
}

fn require(obj: &Value, ptr: &str, causes: &mut Vec<Cause>) {
    if blank(obj, ptr) {
        causes.push(Cause::required(
            ptr.trim_start_matches('/').replace('/', "."),
        ));
    }
}

const PATH_TYPES: &[&str] = &["Exact", "ImplementationSpecific", "Prefix"];

/// `ValidateIngressSpec`: a default backend or rules; each path with a
/// supported pathType (required in networking.k8s.io/v1), an absolute
/// path for Exact and Prefix, and one backend.
fn validate_ingress(obj: &Value, causes: &mut Vec<Cause>) {
    let rules = obj.pointer("/spec/rules").and_then(Value::as_array);
    if obj.pointer("/spec/defaultBackend").is_none() && rules.is_none_or(Vec::is_empty) {
        causes.push(Cause::invalid(
            "spec",
            &json!("[]"),
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    for (i, rule) in rules.into_iter().flatten().enumerate() {
        let Some(http) = rule.get("http") else {
            continue;
        };
        let base = format!("spec.rules[{i}].http.paths");
        let paths = http.get("paths").and_then(Value::as_array);
        if paths.is_none_or(Vec::is_empty) {
            causes.push(Cause::required(base.clone()));
        }
        for (j, p) in paths.into_iter().flatten().enumerate() {
            let at = format!("{base}[{j}]");
            match p.get("pathType") {
                None | Some(Value::Null) => causes.push(Cause::required_because(
                    format!("{at}.pathType"),
                    "pathType must be specified",
                )),
                Some(t) if !PATH_TYPES.contains(&t.as_str().unwrap_or("")) => causes.push(
                    Cause::not_supported(format!("{at}.pathType"), t, PATH_TYPES),
                ),
                Some(t) => {
                    let path = p.get("path").and_then(Value::as_str).unwrap_or("");
                    if t != "ImplementationSpecific" && !path.starts_with('/') {
                        causes.push(Cause::invalid(
                            format!("{at}.path"),
                            &json!(path),
                            "must be an absolute path",
                        ));
                    }
                }
            }
            let backend = p.get("backend");
            let service = backend.and_then(|b| b.get("service")).is_some();
            let resource = backend.and_then(|b| b.get("resource")).is_some();
            if service == resource {
                causes.push(Cause::invalid(
                    format!("{at}.backend"),
                    &json!(""),
                    "one backend must be specified",
                ));
            }
            if let Some(svc) = backend.and_then(|b| b.get("service")) {
                check_service_port(svc, &format!("{at}.backend.service"), causes);
            }
        }
    }
}

/// An Ingress backend's Service port: a name or a number, not neither.
fn check_service_port(service: &Value, at: &str, causes: &mut Vec<Cause>) {
    let name = service
        .pointer("/port/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let number = service
        .pointer("/port/number")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if name.is_empty() && number == 0 {
        causes.push(Cause::required_because(
            format!("{at}.port"),
            "port name or number is required",
        ));
    } else if !name.is_empty() && number != 0 {
        causes.push(Cause::invalid(
            format!("{at}.port"),
            service.get("port").unwrap_or(&Value::Null),
            "cannot set both port name & port number",
        ));
    }
}

/// The key usages a CSR may ask for (`certificates.KeyUsage`).
const KEY_USAGES: &[&str] = &[
    "any",
    "cert sign",
    "client auth",
    "code signing",
    "content commitment",
    "crl sign",
    "data encipherment",
    "decipher only",
    "digital signature",
    "email protection",
    "encipher only",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "key agreement",
    "key encipherment",
    "microsoft sgc",
    "netscape sgc",
    "ocsp signing",
    "s/mime",
    "server auth",
    "signing",
    "timestamping",
];

/// Why a CSR's `spec.request` (base64 of PEM) is not a certificate request.
fn request_error(encoded: &str) -> Option<&'static str> {
    use base64::Engine as _;
    const NOT_PEM: &str = "PEM block type must be CERTIFICATE REQUEST";
    let Ok(pem) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return Some(NOT_PEM);
    };
    match x509_parser::pem::parse_x509_pem(&pem) {
        Ok((_, block)) if block.label == "CERTIFICATE REQUEST" => {
            use x509_parser::prelude::FromDer;
            x509_parser::certification_request::X509CertificationRequest::from_der(&block.contents)
                .err()
                .map(|_| "asn1: structure error: the request does not parse")
        }
        _ => Some(NOT_PEM),
    }
}

/// `ValidateCertificateRequest` beyond the required fields: a PEM
/// certificate request, known usages each once, a signer name of the form
/// `domain/path`, and a duration of at least ten minutes.
fn validate_signing_request(obj: &Value, causes: &mut Vec<Cause>) {
    let request = obj
        .pointer("/spec/request")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !request.is_empty() {
        if let Some(why) = request_error(request) {
            causes.push(Cause::invalid("spec.request", &json!(request), why));
        }
    }
    let usages = obj
        .pointer("/spec/usages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if usages.is_empty() {
        causes.push(Cause::required("spec.usages"));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, usage) in usages.iter().enumerate() {
        let at = format!("spec.usages[{i}]");
        match usage.as_str() {
            Some(u) if KEY_USAGES.contains(&u) => {
                if !seen.insert(u) {
                    causes.push(Cause::duplicate(at, usage));
                }
            }
            _ => causes.push(Cause::not_supported(at, usage, KEY_USAGES)),
        }
    }
    let signer = obj
        .pointer("/spec/signerName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !signer.is_empty() {
        let shaped = signer
            .split_once('/')
            .is_some_and(|(domain, path)| !domain.is_empty() && !path.is_empty());
        if signer == "kubernetes.io/legacy-unknown" {
            causes.push(Cause::invalid(
                "spec.signerName",
                &json!(signer),
                "the legacy signerName is not allowed via this API version",
            ));
        } else if !shaped {
            causes.push(Cause::invalid(
                "spec.signerName",
                &json!(signer),
                "must be a fully qualified domain and path of the form 'example.com/signer-name'",
            ));
        }
    }
    if let Some(seconds) = obj
        .pointer("/spec/expirationSeconds")
        .and_then(Value::as_i64)
    {
        if seconds < 600 {
            causes.push(Cause::invalid(
                "spec.expirationSeconds",
                &json!(seconds),
                "may not specify a duration less than 600 seconds (10 minutes)",
            ));
        }
    }
}

/// Checks an object of these groups, adding every cause found.
pub(super) fn validate(group: &str, kind: &str, obj: &Value, causes: &mut Vec<Cause>) {
    match (group, kind) {
        ("storage.k8s.io", "StorageClass") => {
            require(obj, "/provisioner", causes);
            if let Some(p) = obj.get("reclaimPolicy") {
                let supported = ["Delete", "Recycle", "Retain"];
                if !supported.contains(&p.as_str().unwrap_or("")) {
                    causes.push(Cause::not_supported("reclaimPolicy", p, &supported));
                }
            }
            if let Some(m) = obj.get("volumeBindingMode") {
                let supported = ["Immediate", "WaitForFirstConsumer"];
                if !supported.contains(&m.as_str().unwrap_or("")) {
                    causes.push(Cause::not_supported("volumeBindingMode", m, &supported));
                }
            }
        }
        ("storage.k8s.io", "VolumeAttachment") => {
            require(obj, "/spec/attacher", causes);
            require(obj, "/spec/nodeName", causes);
            let pv = !blank(obj, "/spec/source/persistentVolumeName");
            let inline = obj.pointer("/spec/source/inlineVolumeSpec").is_some();
            if pv == inline {
                causes.push(Cause::forbidden(
                    "spec.source",
                    "must specify exactly one of inlineVolumeSpec and persistentVolumeName",
                ));
            }
        }
        ("storage.k8s.io", "CSIStorageCapacity") => require(obj, "/storageClassName", causes),
        ("networking.k8s.io", "Ingress") => validate_ingress(obj, causes),
        ("networking.k8s.io", "IngressClass") => require(obj, "/spec/controller", causes),
        ("node.k8s.io", "RuntimeClass") => require(obj, "/handler", causes),
        ("networking.k8s.io", "ServiceCIDR") => validate_service_cidr(obj, causes),
        ("networking.k8s.io", "IPAddress") => match obj.pointer("/spec/parentRef") {
            Some(r) if r.is_object() => {
                require(obj, "/spec/parentRef/resource", causes);
                require(obj, "/spec/parentRef/name", causes);
            }
            _ => causes.push(Cause::required("spec.parentRef")),
        },
        ("admissionregistration.k8s.io", kind) => super::admission::validate(kind, obj, causes),
        ("certificates.k8s.io", "CertificateSigningRequest") => {
            require(obj, "/spec/request", causes);
            require(obj, "/spec/signerName", causes);
            validate_signing_request(obj, causes);
        }
        _ => {}
    }
}

/// Checks that an update of a kind of these groups leaves its immutable
/// fields alone.
pub(super) fn validate_update(
    group: &str,
    kind: &str,
    new: &Value,
    old: &Value,
    causes: &mut Vec<Cause>,
) {
    let changed = |ptr: &str| new.pointer(ptr) != old.pointer(ptr);
    let immutable = |ptr: &str, causes: &mut Vec<Cause>| {
        let field = ptr.trim_start_matches('/').replace('/', ".");
        super::immutable(new, old, ptr, &field, causes);
    };
    match (group, kind) {
        ("storage.k8s.io", "StorageClass") => {
            for field in ["parameters", "provisioner", "reclaimPolicy"] {
                if changed(&format!("/{field}")) {
                    causes.push(Cause::forbidden(
                        field,
                        format!("updates to {field} are forbidden."),
                    ));
                }
            }
            immutable("/volumeBindingMode", causes);
        }
        ("storage.k8s.io", "VolumeAttachment") => immutable("/spec", causes),
        ("networking.k8s.io", "IngressClass") => immutable("/spec/controller", causes),
        ("node.k8s.io", "RuntimeClass") => immutable("/handler", causes),
        ("networking.k8s.io", "ServiceCIDR") => immutable("/spec/cidrs", causes),
        ("networking.k8s.io", "IPAddress") => immutable("/spec/parentRef", causes),
        _ => {}
    }
}

/// At most one CIDR per IP family, each strictly valid.
fn validate_service_cidr(obj: &Value, causes: &mut Vec<Cause>) {
    let cidrs = obj
        .pointer("/spec/cidrs")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if cidrs.is_empty() {
        causes.push(Cause::required_because(
            "spec.cidrs",
            "at least one CIDR required",
        ));
        return;
    }
    if cidrs.len() > 2 {
        causes.push(Cause::invalid(
            "spec.cidrs",
            &Value::Array(cidrs.to_vec()),
            "may only hold up to 2 values",
        ));
        return;
    }
    for (i, c) in cidrs.iter().enumerate() {
        let text = c.as_str().unwrap_or_default();
        if let Some(why) = crate::addresses::cidr_error(text) {
            causes.push(Cause::invalid(format!("spec.cidrs[{i}]"), c, why));
        }
    }
    let v6 = |c: &Value| c.as_str().is_some_and(|s| s.contains(':'));
    if cidrs.len() == 2 && v6(&cidrs[0]) == v6(&cidrs[1]) {
        causes.push(Cause::invalid(
            "spec.cidrs",
            &Value::Array(cidrs.to_vec()),
            "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn causes_of(group: &str, kind: &str, obj: &Value) -> Vec<String> {
        let mut causes = Vec::new();
        validate(group, kind, obj, &mut causes);
        causes.into_iter().map(|c| c.field).collect()
    }

    #[test]
    fn signing_requests_hold_a_request_usages_and_a_signer() {
        let csr = json!({"spec": {"request": "aGVsbG8K", "signerName": "foo", "usages": ["frob"],
            "expirationSeconds": 100}});
        let mut found = Vec::new();
        validate(
            "certificates.k8s.io",
            "CertificateSigningRequest",
            &csr,
            &mut found,
        );
        let causes: Vec<String> = found.iter().map(Cause::line).collect();
        for expected in [
            "spec.request: Invalid value: \"aGVsbG8K\": PEM block type must be CERTIFICATE REQUEST",
            "spec.signerName: Invalid value: \"foo\": must be a fully qualified domain and path of the form 'example.com/signer-name'",
            "spec.expirationSeconds: Invalid value: 100: may not specify a duration less than 600 seconds (10 minutes)",
        ] {
            assert!(causes.iter().any(|c| c == expected), "{expected}\n{causes:#?}");
        }
        assert!(causes
            .iter()
            .any(|c| c.starts_with("spec.usages[0]: Unsupported value: \"frob\"")));
    }

    #[test]
    fn storage_class_defaults_and_immutability() {
        let mut sc = json!({"provisioner": "example.com/x"});
        apply_defaults("storage.k8s.io", "StorageClass", &mut sc);
        assert_eq!(sc["reclaimPolicy"], "Delete");
        assert_eq!(sc["volumeBindingMode"], "Immediate");
        assert!(causes_of("storage.k8s.io", "StorageClass", &sc).is_empty());
        let mut changed = sc.clone();
        changed["provisioner"] = json!("other");
        let mut causes = Vec::new();
        validate_update("storage.k8s.io", "StorageClass", &changed, &sc, &mut causes);
        assert_eq!(
            causes[0].message,
            "Forbidden: updates to provisioner are forbidden."
        );
    }

    #[test]
    fn ingress_paths_need_a_path_type() {
        let ing = json!({"spec": {"rules": [{"http": {"paths": [
            {"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
            {"path": "api", "pathType": "Prefix", "backend": {"service": {"name": "api", "port": {"number": 80}}}}]}}]}});
        assert_eq!(
            causes_of("networking.k8s.io", "Ingress", &ing),
            [
                "spec.rules[0].http.paths[0].pathType",
                "spec.rules[0].http.paths[1].path"
            ]
        );
    }

    #[test]
    fn network_policy_types_default_from_rules() {
        let mut np = json!({"spec": {"egress": [{"ports": [{"port": 53}]}]}});
        apply_defaults("networking.k8s.io", "NetworkPolicy", &mut np);
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(np["spec"]["podSelector"], json!({}));
        assert_eq!(np["spec"]["egress"][0]["ports"][0]["protocol"], "TCP");
    }
}
