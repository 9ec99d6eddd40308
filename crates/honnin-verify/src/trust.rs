//! Trust anchors and known intermediates, read from PEM or DER files.

use std::path::Path;

use crate::VerifyError;

/// What the verifier trusts, and the CA certificates it may use to build a path
/// (e.g. the link certificates between CA generations).
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    /// Trust anchors (DER).
    pub anchors: Vec<Vec<u8>>,
    /// Untrusted CA certificates to build paths with (DER).
    pub intermediates: Vec<Vec<u8>>,
}

impl TrustStore {
    /// Trust anchors from files or directories (every `*.pem`, `*.crt`, `*.cer`,
    /// `*.der` file in a directory; a PEM file may hold several certificates).
    /// A self-signed certificate is an anchor; others (link certificates) are
    /// kept as intermediates.
    pub fn from_paths(paths: &[impl AsRef<Path>]) -> Result<Self, VerifyError> {
        let mut t = TrustStore::default();
        for p in paths {
            for der in read_certificates(p.as_ref())? {
                t.add(der);
            }
        }
        if t.anchors.is_empty() {
            return Err(VerifyError::Usage(
                "no self-signed trust anchor among the trusted certificates".into(),
            ));
        }
        Ok(t)
    }

    /// Adds one certificate: self-signed ones as anchors, others as
    /// intermediates.
    pub fn add(&mut self, der: Vec<u8>) {
        let self_signed = honnin_pki::Certificate::from_der(&der)
            .map(|c| c.is_self_signed())
            .unwrap_or(false);
        let list = if self_signed {
            &mut self.anchors
        } else {
            &mut self.intermediates
        };
        if !list.contains(&der) {
            list.push(der);
        }
    }
}

/// Certificates (DER) from a file or the certificate files of a directory.
pub fn read_certificates(path: &Path) -> Result<Vec<Vec<u8>>, VerifyError> {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| VerifyError::Usage(format!("{}: {e}", path.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| matches!(x, "pem" | "crt" | "cer" | "der"))
            })
            .collect();
        entries.sort();
        let mut out = Vec::new();
        for p in entries {
            out.extend(read_certificates(&p)?);
        }
        return Ok(out);
    }
    let bytes =
        std::fs::read(path).map_err(|e| VerifyError::Usage(format!("{}: {e}", path.display())))?;
    let certs = honnin_pki::pem::der_or_pem(&bytes, "CERTIFICATE")
        .map_err(|e| VerifyError::Usage(format!("{}: {e}", path.display())))?;
    for c in &certs {
        honnin_pki::Certificate::from_der(c)
            .map_err(|e| VerifyError::Usage(format!("{}: {e}", path.display())))?;
    }
    Ok(certs)
}

/// CRLs (DER) from a file: one DER CRL or PEM `X509 CRL` blocks, each checked to
/// decode as a CRL.
pub fn read_crls(path: &Path) -> Result<Vec<Vec<u8>>, VerifyError> {
    let bytes =
        std::fs::read(path).map_err(|e| VerifyError::Usage(format!("{}: {e}", path.display())))?;
    let crls = honnin_pki::pem::der_or_pem(&bytes, "X509 CRL")
        .map_err(|e| VerifyError::Usage(format!("{}: {e}", path.display())))?;
    for c in &crls {
        honnin_pki::Crl::from_der(c)
            .map_err(|e| VerifyError::Usage(format!("{}: {e}", path.display())))?;
    }
    Ok(crls)
}
