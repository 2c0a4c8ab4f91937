//! kube-sim's PKI: a CA made at start, the serving certificate it signs (SANs 127.0.0.1,
//! localhost and the listen address), client certificates (CN = user, O = groups) and the
//! rustls server configuration (HTTP/2 and HTTP/1.1 by ALPN, client certificates optional).

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A failure to make or read certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// rcgen refused.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// More than two groups asked for one client certificate.
    #[error("a client certificate made here carries at most 2 groups, not {0}")]
    TooManyGroups(usize),
    /// rustls refused the configuration.
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
    /// A CA file could not be read or written.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The CA (its certificate and key) and the serving certificate.
pub struct Pki {
    ca_pem: String,
    ca_key_pem: String,
    ca_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivatePkcs8KeyDer<'static>,
}

fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, "kube-sim-ca");
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(p)
}

impl Pki {
    /// A fresh CA and a serving certificate for `listen` (plus 127.0.0.1 and localhost).
    ///
    /// # Errors
    /// When rcgen fails.
    pub fn new(listen: IpAddr) -> Result<Pki, PkiError> {
        let ca_key = KeyPair::generate()?;
        let params = ca_params()?;
        let ca = params.self_signed(&ca_key)?;
        let ca_key_pem = ca_key.serialize_pem();
        let issuer = Issuer::new(params, ca_key);

        let mut sp = CertificateParams::new(vec!["localhost".to_string()])?;
        sp.distinguished_name.push(DnType::CommonName, "kube-apiserver");
        let mut ips = vec![IpAddr::from([127, 0, 0, 1]), listen];
        ips.dedup();
        sp.subject_alt_names.extend(ips.into_iter().map(SanType::IpAddress));
        sp.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        sp.use_authority_key_identifier_extension = true;
        let server_key = KeyPair::generate()?;
        let server = sp.signed_by(&server_key, &issuer)?;
        Ok(Pki {
            ca_pem: ca.pem(),
            ca_key_pem,
            ca_der: ca.der().clone(),
            issuer,
            server_chain: vec![server.der().clone()],
            server_key: PrivatePkcs8KeyDer::from(server_key.serialize_der()),
        })
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Writes `ca.crt` and `ca.key` into `dir` (created if missing), so a harness can sign
    /// client certificates of its own (see [`sign_client_cert`]).
    ///
    /// # Errors
    /// The I/O error.
    pub fn write_dir(&self, dir: &Path) -> Result<(), PkiError> {
        let io = |what, path: &Path| {
            let path = path.display().to_string();
            move |source| PkiError::Io { what, path, source }
        };
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        let crt = dir.join("ca.crt");
        std::fs::write(&crt, &self.ca_pem).map_err(io("write", &crt))?;
        let key = dir.join("ca.key");
        std::fs::write(&key, &self.ca_key_pem).map_err(io("write", &key))?;
        Ok(())
    }

    /// A client certificate for `user` in `groups` (at most two: rcgen keeps one value per
    /// attribute type, kube-sim's signer adds a second O by OID), signed by this CA:
    /// (cert PEM, key PEM).
    ///
    /// # Errors
    /// When rcgen fails.
    pub fn client_cert(&self, user: &str, groups: &[&str]) -> Result<(String, String), PkiError> {
        client_cert_with(&self.issuer, user, groups)
    }

    /// The rustls configuration: this server certificate, ALPN `h2` then `http/1.1`, and client
    /// certificates verified against the CA when offered (not required: tokens work too).
    ///
    /// # Errors
    /// When rustls refuses the certificates.
    pub fn server_config(&self) -> Result<rustls::ServerConfig, PkiError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone())?;
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .allow_unauthenticated()
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.server_chain.clone(), PrivateKeyDer::Pkcs8(self.server_key.clone_key()))?;
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(cfg)
    }
}

/// OID of the organizationName attribute (O), for a second O that rcgen's one-value-per-type
/// distinguished name cannot hold under [`DnType::OrganizationName`].
const ORGANIZATION_OID: [u64; 4] = [2, 5, 4, 10];

fn client_cert_with(issuer: &Issuer<'_, KeyPair>, user: &str, groups: &[&str]) -> Result<(String, String), PkiError> {
    if groups.len() > 2 {
        return Err(PkiError::TooManyGroups(groups.len()));
    }
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name.push(DnType::CommonName, user);
    if let Some(g) = groups.first() {
        p.distinguished_name.push(DnType::OrganizationName, *g);
    }
    if let Some(g) = groups.get(1) {
        p.distinguished_name.push(DnType::CustomDnType(ORGANIZATION_OID.to_vec()), *g);
    }
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    p.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate()?;
    let cert = p.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Signs a client certificate for `user` in `groups` (at most two) with the CA that kube-sim wrote into
/// `pki_dir` (`--pki-dir`): (cert PEM, key PEM).
///
/// # Errors
/// When the CA files cannot be read or rcgen fails.
pub fn sign_client_cert(pki_dir: &Path, user: &str, groups: &[&str]) -> Result<(String, String), PkiError> {
    let read = |name: &str| {
        let path = pki_dir.join(name);
        std::fs::read_to_string(&path).map_err(|source| PkiError::Io {
            what: "read",
            path: path.display().to_string(),
            source,
        })
    };
    let key = KeyPair::from_pem(&read("ca.key")?)?;
    let issuer = Issuer::from_ca_cert_pem(&read("ca.crt")?, key)?;
    client_cert_with(&issuer, user, groups)
}

/// The user (CN) and groups (O) of a verified client certificate.
pub fn cert_identity(der: &[u8]) -> Option<(String, Vec<String>)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let user = subject.iter_common_name().next()?.as_str().ok()?.to_string();
    let groups = subject.iter_organization().filter_map(|o| o.as_str().ok().map(str::to_string)).collect();
    Some((user, groups))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_certs_carry_user_and_groups() {
        let pki = Pki::new(IpAddr::from([127, 0, 0, 1])).unwrap();
        let (cert, _) = pki.client_cert("alice", &["dev", "ops"]).unwrap();
        let der = pem_der(&cert);
        assert_eq!(cert_identity(&der), Some(("alice".to_string(), vec!["dev".to_string(), "ops".to_string()])));
        let dir = tempfile::tempdir().unwrap();
        pki.write_dir(dir.path()).unwrap();
        let (cert, _) = sign_client_cert(dir.path(), "bob", &[]).unwrap();
        assert_eq!(cert_identity(&pem_der(&cert)), Some(("bob".to_string(), vec![])));
        pki.server_config().unwrap();
    }

    fn pem_der(pem: &str) -> Vec<u8> {
        use base64::Engine;
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD.decode(b64).unwrap()
    }
}
