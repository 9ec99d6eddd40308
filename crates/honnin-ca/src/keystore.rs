//! Where CA private keys live: encrypted PKCS#8 files (the default) or any PKCS#11 token
//! (SoftHSM2 in tests, an HSM in production). Keys never leave either through this API.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use honnin_pki::{KeyAlgorithm, PkiError, SignatureAlgorithm, Signer, SoftwareKey};
use zeroize::Zeroizing;

use crate::CaError;

/// How to reach the CA keys.
#[derive(Clone)]
pub enum KeyStoreConfig {
    /// `<dir>/<id>.key.pem`, PKCS#8 encrypted under `passphrase` (mode 0600).
    File {
        dir: PathBuf,
        passphrase: Zeroizing<String>,
    },
    /// Keys generated on and used inside a PKCS#11 token (RSA only).
    Pkcs11 {
        module: PathBuf,
        token_label: String,
        pin: Zeroizing<String>,
    },
}

impl std::fmt::Debug for KeyStoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyStoreConfig::File { dir, .. } => write!(f, "File({})", dir.display()),
            KeyStoreConfig::Pkcs11 {
                module,
                token_label,
                ..
            } => {
                write!(f, "Pkcs11({}, {token_label})", module.display())
            }
        }
    }
}

/// An opened key store.
pub struct KeyStore {
    config: KeyStoreConfig,
    pkcs11: Option<Arc<Mutex<Session>>>,
    /// Sessions for signing, one per core, so signatures on the token run in parallel.
    pool: Arc<SessionPool>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyStore({:?})", self.config)
    }
}

fn p11<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> CaError + '_ {
    move |e| CaError::KeyStore(format!("PKCS#11 {what}: {e}"))
}

impl KeyStore {
    pub fn open(config: KeyStoreConfig) -> Result<Self, CaError> {
        let mut pool = SessionPool {
            sessions: Vec::new(),
            next: AtomicUsize::new(0),
        };
        let pkcs11 = match &config {
            KeyStoreConfig::File { dir, .. } => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| CaError::KeyStore(format!("{}: {e}", dir.display())))?;
                None
            }
            KeyStoreConfig::Pkcs11 {
                module,
                token_label,
                pin,
            } => {
                let (main, more) = open_token(module, token_label, pin)?;
                pool = SessionPool {
                    sessions: more.into_iter().map(Mutex::new).collect(),
                    next: AtomicUsize::new(0),
                };
                Some(Arc::new(Mutex::new(main)))
            }
        };
        Ok(KeyStore {
            config,
            pkcs11,
            pool: Arc::new(pool),
        })
    }

    /// `file` or `pkcs11`.
    pub fn kind(&self) -> &'static str {
        match self.config {
            KeyStoreConfig::File { .. } => "file",
            KeyStoreConfig::Pkcs11 { .. } => "pkcs11",
        }
    }

    /// Generates a new key named `id`; returns its signer and its reference.
    pub fn generate(
        &self,
        id: &str,
        alg: KeyAlgorithm,
    ) -> Result<(Arc<dyn Signer>, String), CaError> {
        match (&self.config, &self.pkcs11) {
            (KeyStoreConfig::File { dir, passphrase }, _) => {
                let key = SoftwareKey::generate(alg)?;
                let file = format!("{id}.key.pem");
                let pem = key.to_encrypted_pkcs8_pem(passphrase.as_bytes())?;
                write_new_secret(&dir.join(&file), pem.as_bytes())?;
                Ok((Arc::new(key), file))
            }
            (KeyStoreConfig::Pkcs11 { .. }, Some(session)) => {
                let bits: u64 = match alg {
                    KeyAlgorithm::Rsa2048 => 2048,
                    KeyAlgorithm::Rsa3072 => 3072,
                    KeyAlgorithm::Rsa4096 => 4096,
                    other => {
                        return Err(CaError::KeyStore(format!(
                            "{other} keys are not supported on PKCS#11 tokens yet (use RSA)"
                        )));
                    }
                };
                let s = session
                    .lock()
                    .map_err(|_| CaError::KeyStore("PKCS#11 session poisoned".into()))?;
                let label = id.as_bytes().to_vec();
                let public = [
                    Attribute::Class(ObjectClass::PUBLIC_KEY),
                    Attribute::KeyType(KeyType::RSA),
                    Attribute::Token(true),
                    Attribute::Private(false),
                    Attribute::Verify(true),
                    Attribute::ModulusBits(bits.into()),
                    Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
                    Attribute::Label(label.clone()),
                    Attribute::Id(label.clone()),
                ];
                let private = [
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::KeyType(KeyType::RSA),
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Sign(true),
                    Attribute::Label(label.clone()),
                    Attribute::Id(label),
                ];
                let (pubkey, privkey) = s
                    .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
                    .map_err(p11("key generation"))?;
                let spki = rsa_spki_of(&s, pubkey)?;
                drop(s);
                Ok((
                    Arc::new(Pkcs11Signer {
                        session: session.clone(),
                        pool: self.pool.clone(),
                        key: privkey,
                        spki,
                    }),
                    id.to_string(),
                ))
            }
            (KeyStoreConfig::Pkcs11 { .. }, None) => {
                Err(CaError::KeyStore("PKCS#11 token not open".into()))
            }
        }
    }

    /// Loads the key stored under `key_ref`.
    pub fn load(&self, key_ref: &str) -> Result<Arc<dyn Signer>, CaError> {
        match (&self.config, &self.pkcs11) {
            (KeyStoreConfig::File { dir, passphrase }, _) => {
                let path = dir.join(key_ref);
                let pem = std::fs::read_to_string(&path)
                    .map_err(|e| CaError::KeyStore(format!("{}: {e}", path.display())))?;
                Ok(Arc::new(SoftwareKey::from_encrypted_pkcs8_pem(
                    &pem,
                    passphrase.as_bytes(),
                )?))
            }
            (KeyStoreConfig::Pkcs11 { .. }, Some(session)) => {
                let s = session
                    .lock()
                    .map_err(|_| CaError::KeyStore("PKCS#11 session poisoned".into()))?;
                let find = |class| {
                    s.find_objects(&[
                        Attribute::Class(class),
                        Attribute::Label(key_ref.as_bytes().to_vec()),
                    ])
                    .map_err(p11("find"))
                };
                let privs = find(ObjectClass::PRIVATE_KEY)?;
                let pubs = find(ObjectClass::PUBLIC_KEY)?;
                let (Some(&key), Some(&pubkey)) = (privs.first(), pubs.first()) else {
                    return Err(CaError::KeyStore(format!(
                        "no key labelled {key_ref:?} on the token"
                    )));
                };
                let spki = rsa_spki_of(&s, pubkey)?;
                drop(s);
                Ok(Arc::new(Pkcs11Signer {
                    session: session.clone(),
                    pool: self.pool.clone(),
                    key,
                    spki,
                }))
            }
            (KeyStoreConfig::Pkcs11 { .. }, None) => {
                Err(CaError::KeyStore("PKCS#11 token not open".into()))
            }
        }
    }
}

/// Opens the token, logs in, and opens one extra session per core for signing.
fn open_token(
    module: &Path,
    token_label: &str,
    pin: &str,
) -> Result<(Session, Vec<Session>), CaError> {
    let ctx = Pkcs11::new(module).map_err(p11("module"))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) => {}
        Err(cryptoki::error::Error::Pkcs11(
            cryptoki::error::RvError::CryptokiAlreadyInitialized,
            _,
        )) => {}
        Err(e) => return Err(p11("initialize")(e)),
    }
    let slots = ctx.get_slots_with_token().map_err(p11("slots"))?;
    let mut found = None;
    for slot in slots {
        let info = ctx.get_token_info(slot).map_err(p11("token info"))?;
        if info.label().trim_end() == token_label {
            found = Some(slot);
            break;
        }
    }
    let slot = found
        .ok_or_else(|| CaError::KeyStore(format!("no PKCS#11 token labelled {token_label:?}")))?;
    let session = ctx.open_rw_session(slot).map_err(p11("session"))?;
    // PKCS#11 login state belongs to the application, not the session: a second key
    // store on the same token in this process (a restart in place, a second service)
    // finds the user logged in already.
    match session.login(UserType::User, Some(&AuthPin::new(pin.to_string().into()))) {
        Ok(()) => {}
        Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => return Err(p11("login")(e)),
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut more = Vec::with_capacity(cores);
    for _ in 0..cores {
        more.push(ctx.open_ro_session(slot).map_err(p11("session"))?);
    }
    Ok((session, more))
}

fn rsa_spki_of(s: &Session, pubkey: ObjectHandle) -> Result<Vec<u8>, CaError> {
    let attrs = s
        .get_attributes(
            pubkey,
            &[AttributeType::Modulus, AttributeType::PublicExponent],
        )
        .map_err(p11("public key"))?;
    let (mut n, mut e) = (None, None);
    for a in attrs {
        match a {
            Attribute::Modulus(v) => n = Some(v),
            Attribute::PublicExponent(v) => e = Some(v),
            _ => {}
        }
    }
    match (n, e) {
        (Some(n), Some(e)) => Ok(honnin_pki::rsa_spki_der(&n, &e)?),
        _ => Err(CaError::KeyStore(
            "the token did not return the RSA public key".into(),
        )),
    }
}

/// Extra sessions on the token, used in turn for signing.
struct SessionPool {
    sessions: Vec<Mutex<Session>>,
    next: AtomicUsize,
}

/// A private key inside a PKCS#11 token.
struct Pkcs11Signer {
    session: Arc<Mutex<Session>>,
    pool: Arc<SessionPool>,
    key: ObjectHandle,
    spki: Vec<u8>,
}

impl Signer for Pkcs11Signer {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::RsaPkcs1Sha256
    }
    fn public_key_der(&self) -> Vec<u8> {
        self.spki.clone()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        let n = self.pool.sessions.len();
        let session = if n == 0 {
            &*self.session
        } else {
            &self.pool.sessions[self.pool.next.fetch_add(1, Ordering::Relaxed) % n]
        };
        let s = session
            .lock()
            .map_err(|_| PkiError::Crypto("PKCS#11 session poisoned".into()))?;
        s.sign(&Mechanism::Sha256RsaPkcs, self.key, message)
            .map_err(|e| PkiError::Crypto(format!("PKCS#11 sign: {e}")))
    }
}

/// Writes a new secret file (mode 0600), refusing to overwrite one.
pub(crate) fn write_new_secret(path: &Path, data: &[u8]) -> Result<(), CaError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| CaError::KeyStore(format!("{}: {e}", path.display())))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(|e| CaError::KeyStore(format!("{}: {e}", path.display())))
}
