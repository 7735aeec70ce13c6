//! The cluster's certificates: on first start a CA, a serving certificate
//! and an admin client certificate are created under `DATA_DIR/pki`, and an
//! admin kubeconfig is written to `DATA_DIR/kubeconfig.yaml`. Later starts
//! reuse them, so kubeconfigs handed out stay valid.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Why the certificates could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("generating {what}: {source}")]
    Generate {
        what: &'static str,
        #[source]
        source: rcgen::Error,
    },
    #[error("{path}: not a usable PEM certificate or key")]
    BadPem { path: PathBuf },
}

/// PEM-encoded material the server and its clients need.
#[derive(Clone)]
pub struct Pki {
    pub ca_cert_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub admin_cert_pem: String,
    pub admin_key_pem: String,
    ca_key_pem: String,
    /// The secret service account tokens are signed with.
    pub service_account_secret: Vec<u8>,
}

fn read(path: &Path) -> Result<Option<String>, PkiError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PkiError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

fn write(path: &Path, contents: &str, private: bool) -> Result<(), PkiError> {
    let io = |source| PkiError::Io {
        path: path.to_owned(),
        source,
    };
    // Write then rename: a crash never leaves half a key behind.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).map_err(io)?;
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}

fn gen(what: &'static str) -> impl Fn(rcgen::Error) -> PkiError {
    move |source| PkiError::Generate { what, source }
}

fn name(common_name: &str, organization: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    if let Some(o) = organization {
        dn.push(DnType::OrganizationName, o);
    }
    dn
}

/// The names a client may reach the apiserver by.
fn server_names(extra: &[String]) -> Vec<SanType> {
    let mut names: Vec<String> = vec![
        "localhost".into(),
        "kubernetes".into(),
        "kubernetes.default".into(),
        "kubernetes.default.svc".into(),
        "kubernetes.default.svc.cluster.local".into(),
    ];
    names.extend(extra.iter().cloned());
    let mut sans = Vec::new();
    let mut ips: Vec<IpAddr> = vec![
        "127.0.0.1".parse().expect("literal"),
        "::1".parse().expect("literal"),
    ];
    for n in names {
        match n.parse::<IpAddr>() {
            Ok(ip) => ips.push(ip),
            Err(_) => {
                if let Ok(dns) = n.clone().try_into() {
                    sans.push(SanType::DnsName(dns));
                }
            }
        }
    }
    ips.sort();
    ips.dedup();
    sans.extend(ips.into_iter().map(SanType::IpAddress));
    sans
}

impl Pki {
    /// Loads the certificates under `data_dir/pki`, creating what is
    /// missing. `extra_names` are further DNS names or IPs for the serving
    /// certificate (the bind address, the node's hostname).
    pub fn load_or_create(data_dir: &Path, extra_names: &[String]) -> Result<Pki, PkiError> {
        let dir = data_dir.join("pki");
        std::fs::create_dir_all(&dir).map_err(|source| PkiError::Io {
            path: dir.clone(),
            source,
        })?;
        let p = |f: &str| dir.join(f);

        let (ca_cert_pem, ca_key_pem) = match (read(&p("ca.crt"))?, read(&p("ca.key"))?) {
            (Some(c), Some(k)) => (c, k),
            _ => {
                let key = KeyPair::generate().map_err(gen("CA key"))?;
                let mut params = CertificateParams::default();
                params.distinguished_name = name("cuttle-ca", None);
                params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                params.key_usages = vec![
                    KeyUsagePurpose::KeyCertSign,
                    KeyUsagePurpose::CrlSign,
                    KeyUsagePurpose::DigitalSignature,
                ];
                params.not_after = rcgen::date_time_ymd(2036, 1, 1);
                let cert = params.self_signed(&key).map_err(gen("CA certificate"))?;
                write(&p("ca.key"), &key.serialize_pem(), true)?;
                write(&p("ca.crt"), &cert.pem(), false)?;
                (cert.pem(), key.serialize_pem())
            }
        };
        let ca_key =
            KeyPair::from_pem(&ca_key_pem).map_err(|_| PkiError::BadPem { path: p("ca.key") })?;
        let issuer = Issuer::from_ca_cert_pem(&ca_cert_pem, ca_key)
            .map_err(|_| PkiError::BadPem { path: p("ca.crt") })?;

        let (server_cert_pem, server_key_pem) =
            match (read(&p("server.crt"))?, read(&p("server.key"))?) {
                (Some(c), Some(k)) => (c, k),
                _ => {
                    let key = KeyPair::generate().map_err(gen("serving key"))?;
                    let mut params = CertificateParams::default();
                    params.distinguished_name = name("cuttle-apiserver", None);
                    params.subject_alt_names = server_names(extra_names);
                    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
                    params.not_after = rcgen::date_time_ymd(2036, 1, 1);
                    let cert = params
                        .signed_by(&key, &issuer)
                        .map_err(gen("serving certificate"))?;
                    write(&p("server.key"), &key.serialize_pem(), true)?;
                    write(&p("server.crt"), &cert.pem(), false)?;
                    (cert.pem(), key.serialize_pem())
                }
            };

        let (admin_cert_pem, admin_key_pem) = match (read(&p("admin.crt"))?, read(&p("admin.key"))?)
        {
            (Some(c), Some(k)) => (c, k),
            _ => {
                let (c, k) = issue_client(&issuer, "cuttle-admin", &["system:masters"])?;
                write(&p("admin.key"), &k, true)?;
                write(&p("admin.crt"), &c, false)?;
                (c, k)
            }
        };

        let service_account_secret = match read(&p("sa.secret"))? {
            Some(s) => {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .map_err(|e| PkiError::Io {
                        path: p("sa.secret"),
                        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
                    })?
            }
            None => {
                use base64::Engine;
                let secret: [u8; 32] = rand::random();
                let text = base64::engine::general_purpose::STANDARD.encode(secret);
                write(&p("sa.secret"), &text, true)?;
                secret.to_vec()
            }
        };
        Ok(Pki {
            ca_cert_pem,
            server_cert_pem,
            server_key_pem,
            admin_cert_pem,
            admin_key_pem,
            ca_key_pem,
            service_account_secret,
        })
    }

    /// Issues a client certificate for `user` in `groups` (the subject's
    /// common name and organizations, as Kubernetes reads them).
    pub fn issue_client_cert(
        &self,
        user: &str,
        groups: &[&str],
    ) -> Result<(String, String), PkiError> {
        let ca_key = KeyPair::from_pem(&self.ca_key_pem).map_err(|_| PkiError::BadPem {
            path: PathBuf::from("ca.key"),
        })?;
        let issuer =
            Issuer::from_ca_cert_pem(&self.ca_cert_pem, ca_key).map_err(|_| PkiError::BadPem {
                path: PathBuf::from("ca.crt"),
            })?;
        issue_client(&issuer, user, groups)
    }

    /// A kubeconfig for `server` (an `https://` URL) with the given client
    /// certificate, cluster name `cuttle`.
    pub fn kubeconfig(&self, server: &str, user: &str, cert_pem: &str, key_pem: &str) -> String {
        use base64::Engine;
        let encode = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: cuttle\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {user}\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\ncontexts:\n- name: cuttle\n  context:\n    cluster: cuttle\n    user: {user}\n    namespace: default\ncurrent-context: cuttle\npreferences: {{}}\n",
            ca = encode(self.ca_cert_pem.as_bytes()),
            cert = encode(cert_pem.as_bytes()),
            key = encode(key_pem.as_bytes()),
        )
    }

    /// Writes the admin kubeconfig to `path`.
    pub fn write_admin_kubeconfig(&self, path: &Path, server: &str) -> Result<(), PkiError> {
        let config = self.kubeconfig(
            server,
            "cuttle-admin",
            &self.admin_cert_pem,
            &self.admin_key_pem,
        );
        write(path, &config, true)
    }
}

fn issue_client(
    issuer: &Issuer<'_, KeyPair>,
    user: &str,
    groups: &[&str],
) -> Result<(String, String), PkiError> {
    let key = KeyPair::generate().map_err(gen("client key"))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, user);
    for g in groups {
        dn.push(DnType::OrganizationName, *g);
    }
    params.distinguished_name = dn;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let cert = params
        .signed_by(&key, issuer)
        .map_err(gen("client certificate"))?;
    Ok((cert.pem(), key.serialize_pem()))
}
