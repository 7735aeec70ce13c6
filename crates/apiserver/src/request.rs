//! What a request asks for, read off its method, path and query the way
//! Kubernetes' RequestInfo does: discovery, or a verb on a resource (maybe
//! in a namespace, maybe one named object, maybe a subresource).

use crate::resources::{self, Resource, Subresource};
use crate::status::ApiError;
use http::Method;
use std::collections::HashMap;

/// A verb on a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

/// A parsed API request.
#[derive(Debug)]
pub enum Target {
    /// `/api`: the core group's versions.
    CoreVersions,
    /// `/api/v1` or `/apis/<group>/<version>`: an `APIResourceList`.
    ResourceList { group: String, version: String },
    /// `/apis`: every group.
    Groups,
    /// `/apis/<group>`: one group.
    Group { group: String },
    /// A verb on a resource.
    Resource(ResourceRequest),
}

#[derive(Debug)]
pub struct ResourceRequest {
    pub resource: &'static Resource,
    pub verb: Verb,
    /// The namespace in the path (`None` for cluster-scoped resources and
    /// lists across all namespaces).
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<Subresource>,
    /// Who asks (set by the server after authentication; `None` in
    /// requests the server makes for itself).
    pub user: Option<crate::auth::User>,
}

/// The query string, decoded.
#[derive(Debug, Default, Clone)]
pub struct Query(pub HashMap<String, Vec<String>>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            map.entry(percent_decode(k))
                .or_default()
                .push(percent_decode(v));
        }
        Query(map)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.first()).map(String::as_str)
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true") | Some("1") | Some(""))
    }

    pub fn all(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Query components are decoded as the health endpoints decode theirs.
pub use cuttle_health::percent_decode;

/// Parses a request's method and path.
pub fn parse(method: &Method, path: &str, query: &Query) -> Result<Target, ApiError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["api"] => return Ok(Target::CoreVersions),
        ["api", v] => {
            return Ok(Target::ResourceList {
                group: String::new(),
                version: (*v).to_owned(),
            })
        }
        ["api", v, rest @ ..] => ("", v, rest),
        ["apis"] => return Ok(Target::Groups),
        ["apis", g] => {
            return Ok(Target::Group {
                group: (*g).to_owned(),
            })
        }
        ["apis", g, v] => {
            return Ok(Target::ResourceList {
                group: (*g).to_owned(),
                version: (*v).to_owned(),
            })
        }
        ["apis", g, v, rest @ ..] => (g, v, rest),
        _ => return Err(ApiError::NoSuchResource),
    };
    // The deprecated `/watch/` prefix: `/api/v1/watch/namespaces/x/pods`.
    let (legacy_watch, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, rest),
    };
    let (namespace, rest): (Option<&str>, Vec<&str>) = match rest {
        // `/namespaces/<ns>/<resource>...`, but `/namespaces/<name>` and
        // `/namespaces/<name>/status` are the namespace object itself.
        ["namespaces", ns, r, tail @ ..] if Subresource::parse(r).is_none() && *r != "finalize" => {
            let mut v = vec![*r];
            v.extend_from_slice(tail);
            (Some(*ns), v)
        }
        _ => (None, rest.to_vec()),
    };
    let (plural, name, sub) = match rest.as_slice() {
        [r] => (*r, None, None),
        [r, n] => (*r, Some(*n), None),
        [r, n, s] => (*r, Some(*n), Some(*s)),
        _ => return Err(ApiError::NoSuchResource),
    };
    let resource = resources::find(group, version, plural).ok_or(ApiError::NoSuchResource)?;
    let subresource = match sub {
        None => None,
        // Namespace finalization: accepted as an update of the object.
        Some("finalize") if plural == "namespaces" => Some(Subresource::Status),
        Some(s) => {
            let sub = Subresource::parse(s).ok_or(ApiError::NoSuchResource)?;
            if !resource.has(sub) {
                return Err(ApiError::NoSuchResource);
            }
            Some(sub)
        }
    };
    if namespace.is_some() && !resource.namespaced {
        return Err(ApiError::NoSuchResource);
    }
    if name.is_some_and(str::is_empty) {
        return Err(ApiError::NoSuchResource);
    }
    let watch = legacy_watch || query.flag("watch");
    let verb = match (method, name.is_some(), sub.is_some()) {
        (&Method::GET, _, _) if watch => Verb::Watch,
        (&Method::GET, true, _) => Verb::Get,
        (&Method::GET, false, _) => Verb::List,
        (&Method::POST, false, _) => Verb::Create,
        // Creating a subresource of a named object: binding, eviction.
        (&Method::POST, true, true) => Verb::Create,
        (&Method::PUT, true, _) => Verb::Update,
        (&Method::PATCH, true, _) => Verb::Patch,
        (&Method::DELETE, true, false) => Verb::Delete,
        (&Method::DELETE, false, false) => Verb::DeleteCollection,
        _ => return Err(ApiError::MethodNotAllowed),
    };
    Ok(Target::Resource(ResourceRequest {
        resource,
        verb,
        namespace: namespace.map(str::to_owned),
        name: name.map(str::to_owned),
        subresource,
        user: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(method: Method, path: &str, query: &str) -> Result<Target, ApiError> {
        parse(&method, path, &Query::parse(Some(query)))
    }

    fn rr(t: Result<Target, ApiError>) -> ResourceRequest {
        match t {
            Ok(Target::Resource(r)) => r,
            other => panic!("not a resource request: {other:?}"),
        }
    }

    #[test]
    fn parses_namespaced_paths() {
        let r = rr(p(
            Method::GET,
            "/api/v1/namespaces/default/pods",
            "limit=500",
        ));
        assert_eq!((r.resource.plural, r.verb), ("pods", Verb::List));
        assert_eq!(r.namespace.as_deref(), Some("default"));
        let r = rr(p(Method::GET, "/api/v1/namespaces/default/pods/web", ""));
        assert_eq!((r.name.as_deref(), r.verb), (Some("web"), Verb::Get));
        let r = rr(p(
            Method::PUT,
            "/api/v1/namespaces/default/pods/web/status",
            "",
        ));
        assert_eq!(r.subresource, Some(Subresource::Status));
        let r = rr(p(
            Method::POST,
            "/api/v1/namespaces/default/pods/web/binding",
            "",
        ));
        assert_eq!(
            (r.verb, r.subresource),
            (Verb::Create, Some(Subresource::Binding))
        );
        let r = rr(p(
            Method::GET,
            "/apis/apps/v1/namespaces/x/deployments",
            "watch=true",
        ));
        assert_eq!(r.verb, Verb::Watch);
        let r = rr(p(Method::GET, "/api/v1/watch/namespaces/x/pods", ""));
        assert_eq!(r.verb, Verb::Watch);
    }

    #[test]
    fn namespaces_are_objects_too() {
        let r = rr(p(Method::GET, "/api/v1/namespaces/kube-system", ""));
        assert_eq!(
            (r.resource.plural, r.name.as_deref()),
            ("namespaces", Some("kube-system"))
        );
        assert!(r.namespace.is_none());
        let r = rr(p(Method::PUT, "/api/v1/namespaces/x/status", ""));
        assert_eq!(r.subresource, Some(Subresource::Status));
        let r = rr(p(Method::DELETE, "/api/v1/namespaces/default/pods", ""));
        assert_eq!(r.verb, Verb::DeleteCollection);
    }

    #[test]
    fn rejects_unknown_paths() {
        assert!(matches!(
            p(Method::GET, "/api/v1/foos", ""),
            Err(ApiError::NoSuchResource)
        ));
        assert!(matches!(
            p(Method::GET, "/nope", ""),
            Err(ApiError::NoSuchResource)
        ));
        assert!(matches!(
            p(Method::GET, "/api/v1/namespaces/x/nodes", ""),
            Err(ApiError::NoSuchResource)
        ));
        assert!(matches!(
            p(Method::GET, "/api/v1/namespaces/x/configmaps/a/scale", ""),
            Err(ApiError::NoSuchResource)
        ));
        assert!(matches!(
            p(Method::PUT, "/api/v1/namespaces/x/pods", ""),
            Err(ApiError::MethodNotAllowed)
        ));
    }

    #[test]
    fn decodes_queries() {
        let q = Query::parse(Some(
            "labelSelector=run%3Dhello&fieldSelector=a%3Db%2Cc%21%3Dd&x",
        ));
        assert_eq!(q.get("labelSelector"), Some("run=hello"));
        assert_eq!(q.get("fieldSelector"), Some("a=b,c!=d"));
        assert!(q.flag("x"));
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
