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
    let certs = pem_or_der(&bytes, "CERTIFICATE")
        .map_err(|e| VerifyError::Usage(format!("{}: {e}", path.display())))?;
    for c in &certs {
        honnin_pki::Certificate::from_der(c)
            .map_err(|e| VerifyError::Usage(format!("{}: {e}", path.display())))?;
    }
    Ok(certs)
}

/// Every `label` PEM block of `bytes`, or `bytes` itself when it is not PEM.
pub fn pem_or_der(bytes: &[u8], label: &'static str) -> Result<Vec<Vec<u8>>, String> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(vec![bytes.to_vec()]);
    };
    if !text.contains("-----BEGIN ") {
        return Ok(vec![bytes.to_vec()]);
    }
    let begin = format!("-----BEGIN {label}-----");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(&begin) {
        let block = &rest[i..];
        let end_marker = format!("-----END {label}-----");
        let end = block
            .find(&end_marker)
            .ok_or_else(|| format!("unterminated {label} PEM block"))?;
        let one = &block[..end + end_marker.len()];
        out.push(honnin_pki::pem::decode(one, label, "PEM").map_err(|e| e.to_string())?);
        rest = &block[end + end_marker.len()..];
    }
    if out.is_empty() {
        return Err(format!("no {label} PEM block"));
    }
    Ok(out)
}
