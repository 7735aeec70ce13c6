//! Authentication: a client certificate signed by the cluster CA names the
//! user (subject common name) and groups (subject organizations), as in
//! Kubernetes. rustls has already verified the chain during the handshake.

use x509_parser::prelude::{FromDer, X509Certificate};

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

/// The user a verified client certificate names, if it names one.
pub fn user_from_cert(der: &[u8]) -> Option<User> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let subject = cert.subject();
    let name = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())?
        .to_owned();
    let mut groups: Vec<String> = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_owned))
        .collect();
    groups.push("system:authenticated".to_owned());
    Some(User { name, groups })
}
