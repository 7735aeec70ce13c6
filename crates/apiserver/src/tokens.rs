//! Service account tokens: the JWTs `TokenRequest` issues
//! (`kubectl create token`) and that clients send as
//! `Authorization: Bearer`. They are signed with HMAC-SHA256 under a secret
//! kept in the data directory (`pki/sa.secret`); only this server reads
//! them, so a shared secret serves where Kubernetes uses a key pair.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::hmac;
use serde_json::{json, Value};

/// Who a token names and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    pub namespace: String,
    pub service_account: String,
    pub uid: String,
    pub audiences: Vec<String>,
    /// Seconds since the epoch.
    pub issued_at: i64,
    pub expires_at: i64,
    /// The objects the token is bound to (it is valid while they exist).
    pub bound: Vec<BoundObject>,
}

/// An object a token is bound to: its claim (`pod`, `secret`, `node`),
/// name and uid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundObject {
    pub claim: &'static str,
    pub name: String,
    pub uid: String,
}

/// The claims a token may carry for bound objects.
pub const BOUND_CLAIMS: [&str; 3] = ["pod", "secret", "node"];

impl TokenClaims {
    /// `system:serviceaccount:<namespace>:<name>`.
    pub fn username(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace, self.service_account
        )
    }

    /// The groups Kubernetes gives a service account.
    pub fn groups(&self) -> Vec<String> {
        vec![
            "system:serviceaccounts".to_owned(),
            format!("system:serviceaccounts:{}", self.namespace),
            "system:authenticated".to_owned(),
        ]
    }
}

/// The issuer Kubernetes names in its tokens by default.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

pub struct TokenSigner {
    key: hmac::Key,
}

impl TokenSigner {
    pub fn new(secret: &[u8]) -> TokenSigner {
        TokenSigner {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    pub fn issue(&self, c: &TokenClaims) -> String {
        let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let mut payload = json!({
            "iss": ISSUER,
            "sub": c.username(),
            "aud": c.audiences,
            "iat": c.issued_at,
            "nbf": c.issued_at,
            "exp": c.expires_at,
            "kubernetes.io": {
                "namespace": c.namespace,
                "serviceaccount": {"name": c.service_account, "uid": c.uid},
            },
        });
        for b in &c.bound {
            payload["kubernetes.io"][b.claim] = json!({"name": b.name, "uid": b.uid});
        }
        let payload = B64.encode(payload.to_string());
        let signed = format!("{header}.{payload}");
        let sig = B64.encode(hmac::sign(&self.key, signed.as_bytes()).as_ref());
        format!("{signed}.{sig}")
    }

    /// The claims of a token this server signed that is valid at `now`.
    pub fn verify(&self, token: &str, now: i64) -> Option<TokenClaims> {
        let mut parts = token.split('.');
        let (header, payload, sig) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let sig = B64.decode(sig).ok()?;
        let signed_len = header.len() + 1 + payload.len();
        hmac::verify(&self.key, &token.as_bytes()[..signed_len], &sig).ok()?;
        // Only our own algorithm: a token naming another is not ours.
        let h: Value = serde_json::from_slice(&B64.decode(header).ok()?).ok()?;
        if h.get("alg")?.as_str()? != "HS256" {
            return None;
        }
        let p: Value = serde_json::from_slice(&B64.decode(payload).ok()?).ok()?;
        let expires_at = p.get("exp")?.as_i64()?;
        let not_before = p.get("nbf").and_then(Value::as_i64).unwrap_or(0);
        if now >= expires_at || now < not_before {
            return None;
        }
        let k = p.get("kubernetes.io")?;
        Some(TokenClaims {
            namespace: k.get("namespace")?.as_str()?.to_owned(),
            service_account: k.pointer("/serviceaccount/name")?.as_str()?.to_owned(),
            uid: k
                .pointer("/serviceaccount/uid")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            audiences: p
                .get("aud")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            issued_at: p.get("iat").and_then(Value::as_i64).unwrap_or(0),
            expires_at,
            bound: BOUND_CLAIMS
                .iter()
                .filter_map(|claim| {
                    let o = k.get(*claim)?;
                    Some(BoundObject {
                        claim,
                        name: o.get("name")?.as_str()?.to_owned(),
                        uid: o.get("uid")?.as_str()?.to_owned(),
                    })
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> TokenClaims {
        TokenClaims {
            namespace: "ns".into(),
            service_account: "sa".into(),
            uid: "u-1".into(),
            audiences: vec![ISSUER.into()],
            issued_at: 1_000,
            expires_at: 4_600,
            bound: vec![BoundObject {
                claim: "pod",
                name: "p".into(),
                uid: "u-2".into(),
            }],
        }
    }

    #[test]
    fn issued_tokens_verify_until_they_expire() {
        let s = TokenSigner::new(b"secret");
        let t = s.issue(&claims());
        assert_eq!(s.verify(&t, 2_000), Some(claims()));
        assert_eq!(s.verify(&t, 4_600), None, "expired");
        assert_eq!(s.verify(&t, 999), None, "not yet valid");
        assert_eq!(claims().username(), "system:serviceaccount:ns:sa");
    }

    #[test]
    fn forged_or_garbled_tokens_are_refused() {
        let s = TokenSigner::new(b"secret");
        let t = s.issue(&claims());
        assert_eq!(TokenSigner::new(b"other").verify(&t, 2_000), None);
        // A changed payload breaks the signature.
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = B64.encode(
            br#"{"exp":9999999999,"kubernetes.io":{"namespace":"kube-system","serviceaccount":{"name":"x"}}}"#,
        );
        parts[1] = &forged;
        assert_eq!(s.verify(&parts.join("."), 2_000), None);
        for bad in ["", "a.b", "a.b.c.d", "...", "x.y.z", &t[..t.len() - 2]] {
            assert_eq!(s.verify(bad, 2_000), None, "{bad}");
        }
    }
}
