//! [`SoftwareCard`]: a JPKI card emulated in one file.
//!
//! # File format (JSON, version 1)
//!
//! ```json
//! {
//!   "format": "honnin-software-jpki-card",
//!   "version": 1,
//!   "token_string": "JPKIAPICCTOKEN2",
//!   "auth": { <slot> },
//!   "sign": { <slot> }
//! }
//! ```
//!
//! A slot holds:
//!
//! - `max_tries` (3 auth, 5 sign) and `tries_left`;
//! - `kdf`: Argon2id (version 0x13) parameters and a random 16-byte salt. One Argon2id
//!   run over the PIN gives 64 bytes: the first 32 are the **PIN verifier** (stored as
//!   `pin_verifier`, compared in constant time), the last 32 the **key-encryption key**
//!   (never stored);
//! - `key` (absent until the window generates one): the public key (`public_key_spki`,
//!   DER SubjectPublicKeyInfo), a random 96-bit `nonce`, and `encrypted_pkcs8`, the
//!   private key as PKCS#8 sealed with AES-256-GCM under the key-encryption key, with
//!   the slot name and the public key as associated data;
//! - `certificate` and `ca_certificate` (DER), when written.
//!
//! Byte strings are lower-case hex. A new salt is drawn, and the key re-encrypted,
//! whenever the PIN changes.
//!
//! # What the file protects, and what it does not
//!
//! - The private key cannot be used without the slot's PIN, and no API returns it.
//! - The try counter is enforced by this code. It is written to disk durably (temporary
//!   file, fsync, rename, fsync of the directory) **before** the PIN is checked and
//!   restored only after a success, so killing the process in the middle of a
//!   verification still uses the try.
//! - Someone who copies the file can try PINs offline without any counter; the Argon2id
//!   cost only slows that down, and a 4-digit auth PIN has 10 000 values. A software
//!   card is therefore only as safe as the file's permissions (created 0600): it is for
//!   development, tests and demonstrations, not a substitute for a real card's secure
//!   element.
//! - Operations that change the file hold an exclusive lock on `<file>.lock`, so
//!   several handles (or processes) on one card do not lose each other's updates.
//!
//! # Unblocking
//!
//! At the window the old PIN is unknown, and the private key is encrypted under it.
//! [`JpkiCard::unblock_pin`] therefore sets the new PIN, restores the tries and
//! **destroys the slot's key and certificates**; the window then generates a new key
//! and issues new certificates (the old certificate should be revoked).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKey as RsaPublicKey};
use aws_lc_rs::signature::KeyPair as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::digest_info::parse_digest_info;
use crate::x509::cert_fields;
use crate::{CardError, JpkiCard, KeyRef, PinStatus, SIGNATURE_LEN, TOKEN_STRING, validate_pin};

const FORMAT: &str = "honnin-software-jpki-card";
const VERSION: u32 = 1;
const SALT_LEN: usize = 16;
const KEK_LEN: usize = 32;
/// Upper bound on a card file; anything bigger is not a card file.
const MAX_FILE_LEN: u64 = 1 << 20;

/// Argon2id cost of turning a PIN into its verifier and key-encryption key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// 19 MiB, 2 passes, 1 lane (the OWASP recommendation for Argon2id).
    fn default() -> Self {
        KdfParams {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl KdfParams {
    /// A very cheap setting for tests only (64 KiB, 1 pass): it makes offline PIN
    /// guessing almost free.
    #[must_use]
    pub fn insecure_for_tests() -> Self {
        KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn argon2(self) -> Result<argon2::Argon2<'static>, CardError> {
        let params = argon2::Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(2 * KEK_LEN),
        )
        .map_err(|e| CardError::Malformed(format!("Argon2id parameters: {e}")))?;
        Ok(argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params,
        ))
    }
}

/// Bytes kept as lower-case hex in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hex(Vec<u8>);

impl Serialize for Hex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map(Hex).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KdfFile {
    algorithm: String,
    version: u32,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: Hex,
}

impl KdfFile {
    fn new(params: KdfParams) -> Result<Self, CardError> {
        Ok(KdfFile {
            algorithm: "argon2id".to_owned(),
            version: 0x13,
            memory_kib: params.memory_kib,
            iterations: params.iterations,
            parallelism: params.parallelism,
            salt: Hex(random_bytes(SALT_LEN)?),
        })
    }

    fn params(&self) -> KdfParams {
        KdfParams {
            memory_kib: self.memory_kib,
            iterations: self.iterations,
            parallelism: self.parallelism,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    public_key_spki: Hex,
    nonce: Hex,
    encrypted_pkcs8: Hex,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotFile {
    max_tries: u8,
    tries_left: u8,
    kdf: KdfFile,
    pin_verifier: Hex,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<KeyFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate: Option<Hex>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ca_certificate: Option<Hex>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CardFile {
    format: String,
    version: u32,
    token_string: String,
    auth: SlotFile,
    sign: SlotFile,
}

impl CardFile {
    fn slot(&self, which: KeyRef) -> &SlotFile {
        match which {
            KeyRef::Auth => &self.auth,
            KeyRef::Sign => &self.sign,
        }
    }

    fn slot_mut(&mut self, which: KeyRef) -> &mut SlotFile {
        match which {
            KeyRef::Auth => &mut self.auth,
            KeyRef::Sign => &mut self.sign,
        }
    }

    fn check(&self) -> Result<(), CardError> {
        let bad = |what: String| Err(CardError::Malformed(format!("card file: {what}")));
        if self.format != FORMAT {
            return bad(format!("format is not {FORMAT:?}"));
        }
        if self.version != VERSION {
            return bad(format!("version {} is not {VERSION}", self.version));
        }
        if self.token_string != TOKEN_STRING {
            return bad("unexpected token string".to_owned());
        }
        for which in KeyRef::ALL {
            let slot = self.slot(which);
            let name = which.as_str();
            if slot.max_tries != which.max_tries() || slot.tries_left > slot.max_tries {
                return bad(format!("{name}: try counter out of range"));
            }
            if slot.kdf.algorithm != "argon2id" || slot.kdf.version != 0x13 {
                return bad(format!("{name}: KDF is not Argon2id v0x13"));
            }
            slot.kdf.params().argon2()?;
            if slot.kdf.salt.0.len() < 8 {
                return bad(format!("{name}: salt too short"));
            }
            if slot.pin_verifier.0.len() != KEK_LEN {
                return bad(format!("{name}: PIN verifier is not {KEK_LEN} bytes"));
            }
            if let Some(key) = &slot.key {
                if key.nonce.0.len() != NONCE_LEN {
                    return bad(format!("{name}: nonce is not {NONCE_LEN} bytes"));
                }
                let public = RsaPublicKey::from_der(&key.public_key_spki.0).map_err(|_| {
                    CardError::Malformed(format!("card file: {name}: bad public key"))
                })?;
                if public.modulus_len() != SIGNATURE_LEN {
                    return bad(format!("{name}: key is not RSA-2048"));
                }
            } else if slot.certificate.is_some() {
                return bad(format!("{name}: certificate without a key"));
            }
            for cert in [&slot.certificate, &slot.ca_certificate]
                .into_iter()
                .flatten()
            {
                cert_fields(&cert.0)?;
            }
        }
        Ok(())
    }
}

/// What one Argon2id run over a PIN yields.
struct Derived {
    verifier: [u8; KEK_LEN],
    kek: Zeroizing<[u8; KEK_LEN]>,
}

fn derive(kdf: &KdfFile, pin: &str) -> Result<Derived, CardError> {
    let mut out = Zeroizing::new([0u8; 2 * KEK_LEN]);
    kdf.params()
        .argon2()?
        .hash_password_into(pin.as_bytes(), &kdf.salt.0, out.as_mut_slice())
        .map_err(|e| CardError::Crypto(format!("Argon2id: {e}")))?;
    let mut verifier = [0u8; KEK_LEN];
    verifier.copy_from_slice(&out[..KEK_LEN]);
    let mut kek = Zeroizing::new([0u8; KEK_LEN]);
    kek.copy_from_slice(&out[KEK_LEN..]);
    Ok(Derived { verifier, kek })
}

fn random_bytes(n: usize) -> Result<Vec<u8>, CardError> {
    let mut buf = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| CardError::Crypto("random generator".into()))?;
    Ok(buf)
}

fn key_aad(which: KeyRef, spki: &[u8]) -> Vec<u8> {
    let mut aad = format!("honnin-software-jpki-card v1 {} key\0", which.as_str()).into_bytes();
    aad.extend_from_slice(spki);
    aad
}

fn aead_key(kek: &[u8; KEK_LEN]) -> Result<LessSafeKey, CardError> {
    UnboundKey::new(&AES_256_GCM, kek)
        .map(LessSafeKey::new)
        .map_err(|_| CardError::Crypto("AES-256-GCM key".into()))
}

fn seal_key(
    which: KeyRef,
    kek: &[u8; KEK_LEN],
    spki: &[u8],
    pkcs8: &[u8],
) -> Result<KeyFile, CardError> {
    let nonce_bytes = random_bytes(NONCE_LEN)?;
    let nonce = Nonce::try_assume_unique_for_key(&nonce_bytes)
        .map_err(|_| CardError::Crypto("nonce".into()))?;
    let mut in_out = pkcs8.to_vec();
    aead_key(kek)?
        .seal_in_place_append_tag(nonce, Aad::from(key_aad(which, spki)), &mut in_out)
        .map_err(|_| CardError::Crypto("AES-256-GCM seal".into()))?;
    Ok(KeyFile {
        public_key_spki: Hex(spki.to_vec()),
        nonce: Hex(nonce_bytes),
        encrypted_pkcs8: Hex(in_out),
    })
}

fn open_key(
    which: KeyRef,
    kek: &[u8; KEK_LEN],
    key: &KeyFile,
) -> Result<Zeroizing<Vec<u8>>, CardError> {
    let nonce = Nonce::try_assume_unique_for_key(&key.nonce.0)
        .map_err(|_| CardError::Malformed("card file: nonce".into()))?;
    let mut in_out = Zeroizing::new(key.encrypted_pkcs8.0.clone());
    let len = aead_key(kek)?
        .open_in_place(
            nonce,
            Aad::from(key_aad(which, &key.public_key_spki.0)),
            in_out.as_mut_slice(),
        )
        .map_err(|_| {
            CardError::Malformed(format!(
                "card file: the {} private key does not decrypt (file altered?)",
                which.as_str()
            ))
        })?
        .len();
    in_out.truncate(len);
    Ok(in_out)
}

fn io_err(what: &str, path: &Path, e: &std::io::Error) -> CardError {
    CardError::Io(format!("{what} {}: {e}", path.display()))
}

/// Writes `bytes` to `path` durably: a temporary file in the same directory, fsync,
/// then rename over `path` (or, with `no_overwrite`, a hard link that fails if `path`
/// exists), then fsync of the directory.
fn write_durably(path: &Path, bytes: &[u8], no_overwrite: bool) -> Result<(), CardError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| CardError::Io(format!("{} is not a file path", path.display())))?
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        hex::encode(random_bytes(6)?)
    ));
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options
            .open(&tmp)
            .map_err(|e| io_err("cannot create", &tmp, &e))?;
        f.write_all(bytes)
            .map_err(|e| io_err("cannot write", &tmp, &e))?;
        f.sync_all().map_err(|e| io_err("cannot sync", &tmp, &e))?;
        drop(f);
        if no_overwrite {
            fs::hard_link(&tmp, path).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    CardError::Io(format!(
                        "{} already exists; a card file is never overwritten",
                        path.display()
                    ))
                } else {
                    io_err("cannot create", path, &e)
                }
            })?;
            fs::remove_file(&tmp).map_err(|e| io_err("cannot remove", &tmp, &e))?;
        } else {
            fs::rename(&tmp, path).map_err(|e| io_err("cannot replace", path, &e))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    #[cfg(unix)]
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("cannot sync directory", &dir, &e))?;
    Ok(())
}

/// A verified PIN: the key-encryption key, and the salt it was derived with (a PIN
/// changed through another handle makes it stale).
struct Verified {
    salt: Vec<u8>,
    kek: Zeroizing<[u8; KEK_LEN]>,
}

/// A JPKI card in one file. See the [module documentation](self) for the format and
/// its limits.
///
/// Every operation reads the file afresh, so several handles on one file agree; only
/// the verified-PIN state belongs to the handle (like a card session).
pub struct SoftwareCard {
    path: PathBuf,
    lock_path: PathBuf,
    verified: [Option<Verified>; 2],
}

impl std::fmt::Debug for SoftwareCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareCard")
            .field("path", &self.path)
            .field("auth_verified", &self.verified[0].is_some())
            .field("sign_verified", &self.verified[1].is_some())
            .finish()
    }
}

fn idx(which: KeyRef) -> usize {
    match which {
        KeyRef::Auth => 0,
        KeyRef::Sign => 1,
    }
}

struct FileLock(File);

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl SoftwareCard {
    /// Creates a new card file with these PINs, no keys and no certificates, using the
    /// default Argon2id cost. Never overwrites an existing file.
    ///
    /// # Errors
    /// [`CardError::PinFormat`], [`CardError::Io`] (also when `path` exists).
    pub fn create(
        path: impl AsRef<Path>,
        auth_pin: &str,
        sign_pin: &str,
    ) -> Result<Self, CardError> {
        Self::create_with_params(path, auth_pin, sign_pin, KdfParams::default())
    }

    /// [`create`](Self::create) with a chosen Argon2id cost (kept in the file).
    ///
    /// # Errors
    /// As [`create`](Self::create); [`CardError::Malformed`] for impossible parameters.
    pub fn create_with_params(
        path: impl AsRef<Path>,
        auth_pin: &str,
        sign_pin: &str,
        params: KdfParams,
    ) -> Result<Self, CardError> {
        validate_pin(KeyRef::Auth, auth_pin)?;
        validate_pin(KeyRef::Sign, sign_pin)?;
        params.argon2()?;
        let path = path.as_ref();
        if path.exists() {
            return Err(CardError::Io(format!(
                "{} already exists; a card file is never overwritten",
                path.display()
            )));
        }
        let new_slot = |which: KeyRef, pin: &str| -> Result<SlotFile, CardError> {
            let kdf = KdfFile::new(params)?;
            let derived = derive(&kdf, pin)?;
            Ok(SlotFile {
                max_tries: which.max_tries(),
                tries_left: which.max_tries(),
                kdf,
                pin_verifier: Hex(derived.verifier.to_vec()),
                key: None,
                certificate: None,
                ca_certificate: None,
            })
        };
        let file = CardFile {
            format: FORMAT.to_owned(),
            version: VERSION,
            token_string: TOKEN_STRING.to_owned(),
            auth: new_slot(KeyRef::Auth, auth_pin)?,
            sign: new_slot(KeyRef::Sign, sign_pin)?,
        };
        let bytes = serde_json::to_vec_pretty(&file)
            .map_err(|e| CardError::Io(format!("cannot encode card file: {e}")))?;
        write_durably(path, &bytes, true)?;
        Ok(Self::handle(path))
    }

    /// Opens an existing card file (checking that it is a well-formed card). Nothing
    /// is verified yet.
    ///
    /// # Errors
    /// [`CardError::Io`] if it cannot be read, [`CardError::Malformed`] if it is not a
    /// card file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CardError> {
        let card = Self::handle(path.as_ref());
        card.load()?;
        Ok(card)
    }

    /// The card file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn handle(path: &Path) -> Self {
        let mut lock_name = path.as_os_str().to_owned();
        lock_name.push(".lock");
        SoftwareCard {
            path: path.to_path_buf(),
            lock_path: PathBuf::from(lock_name),
            verified: [None, None],
        }
    }

    fn load(&self) -> Result<CardFile, CardError> {
        let meta = fs::metadata(&self.path).map_err(|e| io_err("cannot read", &self.path, &e))?;
        if meta.len() > MAX_FILE_LEN {
            return Err(CardError::Malformed("card file: too large".into()));
        }
        let bytes = fs::read(&self.path).map_err(|e| io_err("cannot read", &self.path, &e))?;
        let file: CardFile = serde_json::from_slice(&bytes)
            .map_err(|e| CardError::Malformed(format!("card file: {e}")))?;
        file.check()?;
        Ok(file)
    }

    fn store(&self, file: &CardFile) -> Result<(), CardError> {
        let bytes = serde_json::to_vec_pretty(file)
            .map_err(|e| CardError::Io(format!("cannot encode card file: {e}")))?;
        write_durably(&self.path, &bytes, false)
    }

    fn lock(&self) -> Result<FileLock, CardError> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.lock_path)
            .map_err(|e| io_err("cannot open lock file", &self.lock_path, &e))?;
        f.lock()
            .map_err(|e| io_err("cannot lock", &self.lock_path, &e))?;
        Ok(FileLock(f))
    }

    /// The key-encryption key of a verified slot, if still current.
    fn verified_kek(&self, which: KeyRef, slot: &SlotFile) -> Result<&[u8; KEK_LEN], CardError> {
        match &self.verified[idx(which)] {
            Some(v) if v.salt == slot.kdf.salt.0 => Ok(&v.kek),
            _ => Err(CardError::PinRequired { which }),
        }
    }

    /// Checks `pin` against the slot, counting the try durably first. Must be called
    /// with the lock held; `file` is updated and stored.
    fn check_pin(
        &mut self,
        file: &mut CardFile,
        which: KeyRef,
        pin: &str,
    ) -> Result<Zeroizing<[u8; KEK_LEN]>, CardError> {
        let slot = file.slot_mut(which);
        if slot.tries_left == 0 {
            self.verified[idx(which)] = None;
            return Err(CardError::Locked { which });
        }
        slot.tries_left -= 1;
        let kdf = slot.kdf.clone();
        let expected = slot.pin_verifier.0.clone();
        let tries_left = slot.tries_left;
        // The try is on disk before the PIN is looked at.
        self.store(file)?;
        let derived = derive(&kdf, pin)?;
        if aws_lc_rs::constant_time::verify_slices_are_equal(&derived.verifier, &expected).is_ok() {
            let slot = file.slot_mut(which);
            slot.tries_left = slot.max_tries;
            self.store(file)?;
            Ok(derived.kek)
        } else {
            self.verified[idx(which)] = None;
            if tries_left == 0 {
                Err(CardError::Locked { which })
            } else {
                Err(CardError::WrongPin { which, tries_left })
            }
        }
    }
}

impl JpkiCard for SoftwareCard {
    fn token_string(&self) -> &str {
        TOKEN_STRING
    }

    fn pin_status(&self, which: KeyRef) -> Result<PinStatus, CardError> {
        let file = self.load()?;
        let slot = file.slot(which);
        Ok(PinStatus {
            tries_left: slot.tries_left,
            max_tries: slot.max_tries,
            locked: slot.tries_left == 0,
        })
    }

    fn verify_pin(&mut self, which: KeyRef, pin: &str) -> Result<(), CardError> {
        validate_pin(which, pin)?;
        let _lock = self.lock()?;
        let mut file = self.load()?;
        let kek = self.check_pin(&mut file, which, pin)?;
        self.verified[idx(which)] = Some(Verified {
            salt: file.slot(which).kdf.salt.0.clone(),
            kek,
        });
        Ok(())
    }

    fn reset_security_state(&mut self) {
        self.verified = [None, None];
    }

    fn generate_key_pair(&mut self, which: KeyRef) -> Result<Vec<u8>, CardError> {
        let _lock = self.lock()?;
        let mut file = self.load()?;
        let slot = file.slot(which);
        let kek = self.verified_kek(which, slot)?;
        if slot.key.is_some() {
            return Err(CardError::KeyExists { which });
        }
        let key_pair = RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| CardError::Crypto("RSA-2048 key generation".into()))?;
        let pkcs8 = key_pair
            .as_der()
            .map_err(|_| CardError::Crypto("PKCS#8 encoding".into()))?;
        let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
        let spki = key_pair
            .public_key()
            .as_der()
            .map_err(|_| CardError::Crypto("SubjectPublicKeyInfo encoding".into()))?
            .as_ref()
            .to_vec();
        let sealed = seal_key(which, kek, &spki, &pkcs8)?;
        file.slot_mut(which).key = Some(sealed);
        self.store(&file)?;
        Ok(spki)
    }

    fn public_key(&self, which: KeyRef) -> Result<Option<Vec<u8>>, CardError> {
        let file = self.load()?;
        Ok(file
            .slot(which)
            .key
            .as_ref()
            .map(|k| k.public_key_spki.0.clone()))
    }

    fn sign_digest_info(
        &mut self,
        which: KeyRef,
        digest_info: &[u8],
    ) -> Result<Vec<u8>, CardError> {
        let file = self.load()?;
        let slot = file.slot(which);
        let kek = self.verified_kek(which, slot)?;
        let key = slot.key.as_ref().ok_or(CardError::NoKey { which })?;
        let (alg, digest) = parse_digest_info(digest_info)?;
        let pkcs8 = open_key(which, kek, key)?;
        let key_pair = RsaKeyPair::from_pkcs8(&pkcs8)
            .map_err(|e| CardError::Malformed(format!("card file: private key: {e}")))?;
        let digest = aws_lc_rs::digest::Digest::import_less_safe(digest, alg.aws_digest())
            .map_err(|_| CardError::Malformed("digest length".into()))?;
        let mut signature = vec![0u8; key_pair.public_modulus_len()];
        key_pair
            .sign_digest(alg.aws_pkcs1(), &digest, &mut signature)
            .map_err(|_| CardError::Crypto("RSA PKCS#1 v1.5 signature".into()))?;
        Ok(signature)
    }

    fn read_certificate(&self, which: KeyRef) -> Result<Option<Vec<u8>>, CardError> {
        let file = self.load()?;
        let slot = file.slot(which);
        if which == KeyRef::Sign {
            self.verified_kek(which, slot)?;
        }
        Ok(slot.certificate.as_ref().map(|c| c.0.clone()))
    }

    fn read_ca_certificate(&self, which: KeyRef) -> Result<Option<Vec<u8>>, CardError> {
        let file = self.load()?;
        Ok(file
            .slot(which)
            .ca_certificate
            .as_ref()
            .map(|c| c.0.clone()))
    }

    fn write_certificates(
        &mut self,
        which: KeyRef,
        cert_der: &[u8],
        ca_cert_der: &[u8],
    ) -> Result<(), CardError> {
        let _lock = self.lock()?;
        let mut file = self.load()?;
        let slot = file.slot(which);
        self.verified_kek(which, slot)?;
        if slot.key.is_none() {
            return Err(CardError::NoKey { which });
        }
        cert_fields(cert_der)?;
        cert_fields(ca_cert_der)?;
        let slot = file.slot_mut(which);
        slot.certificate = Some(Hex(cert_der.to_vec()));
        slot.ca_certificate = Some(Hex(ca_cert_der.to_vec()));
        self.store(&file)
    }

    fn clear_slot(&mut self, which: KeyRef) -> Result<(), CardError> {
        let _lock = self.lock()?;
        let mut file = self.load()?;
        self.verified_kek(which, file.slot(which))?;
        let slot = file.slot_mut(which);
        slot.key = None;
        slot.certificate = None;
        slot.ca_certificate = None;
        self.store(&file)
    }

    fn change_pin(&mut self, which: KeyRef, old: &str, new: &str) -> Result<(), CardError> {
        validate_pin(which, old)?;
        validate_pin(which, new)?;
        let _lock = self.lock()?;
        let mut file = self.load()?;
        let old_kek = self.check_pin(&mut file, which, old)?;
        let slot = file.slot(which);
        let kdf = KdfFile::new(slot.kdf.params())?;
        let derived = derive(&kdf, new)?;
        let key = match &slot.key {
            Some(key) => {
                let pkcs8 = open_key(which, &old_kek, key)?;
                Some(seal_key(
                    which,
                    &derived.kek,
                    &key.public_key_spki.0,
                    &pkcs8,
                )?)
            }
            None => None,
        };
        let salt = kdf.salt.0.clone();
        let slot = file.slot_mut(which);
        slot.kdf = kdf;
        slot.pin_verifier = Hex(derived.verifier.to_vec());
        slot.key = key;
        self.store(&file)?;
        self.verified[idx(which)] = Some(Verified {
            salt,
            kek: derived.kek,
        });
        Ok(())
    }

    fn unblock_pin(&mut self, which: KeyRef, new_pin: &str) -> Result<(), CardError> {
        validate_pin(which, new_pin)?;
        let _lock = self.lock()?;
        let mut file = self.load()?;
        let kdf = KdfFile::new(file.slot(which).kdf.params())?;
        let derived = derive(&kdf, new_pin)?;
        let slot = file.slot_mut(which);
        slot.kdf = kdf;
        slot.pin_verifier = Hex(derived.verifier.to_vec());
        slot.tries_left = slot.max_tries;
        slot.key = None;
        slot.certificate = None;
        slot.ca_certificate = None;
        self.store(&file)?;
        self.verified[idx(which)] = None;
        Ok(())
    }
}
