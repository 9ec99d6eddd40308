//! [`Pkcs11Card`]: a JPKI card made of PKCS#11 tokens.
//!
//! # How a JPKI card maps onto PKCS#11
//!
//! A JPKI card has two PINs, each guarding its own key. PKCS#11 has one user PIN per
//! token, so a card is **two tokens**, labelled `<label>-auth` and `<label>-sign`
//! (labels are at most 32 bytes), the user PIN of each being that JPKI PIN. On each
//! token:
//!
//! | object | class | `CKA_ID` | `CKA_LABEL` | notes |
//! |---|---|---|---|---|
//! | private key | `CKO_PRIVATE_KEY` | `01` auth / `02` sign | `JPKI auth key` / `JPKI sign key` | RSA-2048 made by `C_GenerateKeyPair` on the token; `CKA_TOKEN`, `CKA_PRIVATE`, `CKA_SENSITIVE` true, `CKA_EXTRACTABLE` false, sign only |
//! | public key | `CKO_PUBLIC_KEY` | same | same | e = 65537 |
//! | certificate | `CKO_CERTIFICATE` (X.509) | same | `JPKI auth cert` / `JPKI sign cert` | `CKA_VALUE` = DER; the signature certificate is `CKA_PRIVATE` (readable after the sign PIN, as on the card) |
//! | CA certificate | `CKO_CERTIFICATE` (X.509) | `03` auth / `04` sign | `JPKI auth CA cert` / `JPKI sign CA cert` | public |
//!
//! The IDs are those OpenSC's `jpki` emulation gives a real card. Signing is
//! `CKM_RSA_PKCS` over the `DigestInfo` (the token pads, it does not hash).
//! [`init_softhsm_card`] sets up such a pair of tokens on SoftHSM2 (for tests and CI).
//!
//! # PIN counting
//!
//! PIN tries are the **token's own** business: [`JpkiCard::pin_status`] is derived
//! from the token flags `CKF_USER_PIN_LOCKED` (0 left), `CKF_USER_PIN_FINAL_TRY`
//! (1 left) and `CKF_USER_PIN_COUNT_LOW` (reported as one less than the maximum: the
//! flag only says that a wrong PIN was entered since the last success). The JPKI
//! maxima (3 and 5) are reported as `max_tries`. SoftHSM2 does not lock PINs at all,
//! so on SoftHSM2 a wrong PIN is always [`CardError::WrongPin`] and never
//! [`CardError::Locked`]; a real card or an HSM enforces its own limit.
//!
//! # Unblocking
//!
//! [`JpkiCard::unblock_pin`] logs in as the token's security officer (set its PIN with
//! [`Pkcs11Card::set_so_pin`]: the window's authority), sets the new user PIN with
//! `C_InitPIN`, and then empties the slot (key and certificates), so PKCS#11 cards
//! behave like [`SoftwareCard`](crate::SoftwareCard), whose key cannot survive an
//! unblock.
//!
//! # A real My Number card (OpenSC)
//!
//! Through OpenSC's PKCS#11 module, whose `jpki` driver shows one virtual slot per PIN
//! labelled `<label> (User Authentication PIN)` and `<label> (Digital Signature PIN)`
//! (`<label>` is `JPKI`), [`Pkcs11Card::open`] opens the card **read-only**: PINs,
//! public keys, certificates and signing work; generating keys, writing certificates,
//! clearing slots and unblocking return [`CardError::Unsupported`], because a real
//! card's keys are made at issuance by J-LIS and its PINs are unblocked with the
//! municipality's terminal. This path follows OpenSC's published object layout but
//! has not been run against a physical card.
//!
//! # The module
//!
//! A module is loaded and `C_Initialize`d once per process (per path) and stays so
//! until the process ends; if something else in the process initialised it already,
//! that is accepted. SoftHSM2 reads `SOFTHSM2_CONF` at that moment.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::PublicKeyComponents;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{
    Attribute, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use crate::digest_info::parse_digest_info;
use crate::x509::cert_fields;
use crate::{CardError, JpkiCard, KeyRef, PinStatus, SIGNATURE_LEN, TOKEN_STRING, validate_pin};

/// Where SoftHSM2's module is on Debian.
pub const SOFTHSM2_DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The PKCS#11 module to use for SoftHSM2 cards: `$HONNIN_PKCS11_MODULE` if set, else
/// [`SOFTHSM2_DEFAULT_MODULE`]; `None` if that file does not exist.
#[must_use]
pub fn softhsm_module_path() -> Option<PathBuf> {
    let path = std::env::var_os("HONNIN_PKCS11_MODULE")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(SOFTHSM2_DEFAULT_MODULE), PathBuf::from);
    path.is_file().then_some(path)
}

/// Writes a SoftHSM2 configuration that keeps its tokens in `dir/tokens` (created)
/// and returns its path (`dir/softhsm2.conf`), for a process's `SOFTHSM2_CONF`.
/// SoftHSM2 reads that variable once per process, so tests give each child process
/// its own. For tests and CI.
///
/// # Errors
/// The directory or file cannot be written.
pub fn write_softhsm_config(dir: &Path) -> std::io::Result<PathBuf> {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens)?;
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n\
             slots.removable = false\n",
            tokens.display()
        ),
    )?;
    Ok(conf)
}

fn p11(e: &P11Error) -> CardError {
    CardError::Pkcs11(e.to_string())
}

fn rv(e: &P11Error) -> Option<RvError> {
    match e {
        P11Error::Pkcs11(rv, _) => Some(*rv),
        _ => None,
    }
}

/// Loaded modules, by path. Never finalised: see the module documentation.
static MODULES: Mutex<Vec<(PathBuf, Pkcs11)>> = Mutex::new(Vec::new());

fn module(path: &Path) -> Result<Pkcs11, CardError> {
    let mut modules = MODULES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, ctx)) = modules.iter().find(|(p, _)| p == path) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(path)
        .map_err(|e| CardError::Pkcs11(format!("cannot load {}: {e}", path.display())))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) => {}
        Err(e) if rv(&e) == Some(RvError::CryptokiAlreadyInitialized) => {}
        Err(e) => {
            return Err(CardError::Pkcs11(format!(
                "cannot initialise {}: {e}",
                path.display()
            )));
        }
    }
    modules.push((path.to_path_buf(), ctx.clone()));
    Ok(ctx)
}

/// Slots with a token, and their labels.
fn tokens(ctx: &Pkcs11) -> Result<Vec<(Slot, String, bool)>, CardError> {
    let mut out = Vec::new();
    for slot in ctx.get_slots_with_token().map_err(|e| p11(&e))? {
        let info = ctx.get_token_info(slot).map_err(|e| p11(&e))?;
        out.push((slot, info.label().to_owned(), info.token_initialized()));
    }
    Ok(out)
}

fn find_token(ctx: &Pkcs11, label: &str) -> Result<Option<Slot>, CardError> {
    Ok(tokens(ctx)?
        .into_iter()
        .find(|(_, l, init)| *init && l == label)
        .map(|(slot, _, _)| slot))
}

fn auth_pin(pin: &str) -> AuthPin {
    AuthPin::from(pin.to_owned())
}

/// Sets up a SoftHSM2 (or other PKCS#11) card in the two-token layout: two free slots
/// become tokens `<label>-auth` and `<label>-sign` with security-officer PIN `so_pin`
/// and user PINs `auth_pin` and `sign_pin`. For tests and CI.
///
/// # Errors
/// [`CardError::PinFormat`], [`CardError::Pkcs11`] (also when a token with one of the
/// labels exists or no free slot is left).
pub fn init_softhsm_card(
    module_path: &Path,
    label: &str,
    so_pin: &str,
    auth_pin_value: &str,
    sign_pin_value: &str,
) -> Result<(), CardError> {
    validate_pin(KeyRef::Auth, auth_pin_value)?;
    validate_pin(KeyRef::Sign, sign_pin_value)?;
    let ctx = module(module_path)?;
    for (which, user_pin) in [
        (KeyRef::Auth, auth_pin_value),
        (KeyRef::Sign, sign_pin_value),
    ] {
        let token_label = token_label(label, which)?;
        if find_token(&ctx, &token_label)?.is_some() {
            return Err(CardError::Pkcs11(format!(
                "a token labelled {token_label:?} exists already"
            )));
        }
        let free = tokens(&ctx)?
            .into_iter()
            .find(|(_, _, init)| !init)
            .map(|(slot, _, _)| slot)
            .ok_or_else(|| CardError::Pkcs11("no free slot to initialise a token in".into()))?;
        ctx.init_token(free, &auth_pin(so_pin), &token_label)
            .map_err(|e| CardError::Pkcs11(format!("C_InitToken {token_label}: {e}")))?;
        let slot = find_token(&ctx, &token_label)?.ok_or_else(|| {
            CardError::Pkcs11(format!("token {token_label:?} not found after C_InitToken"))
        })?;
        let session = ctx.open_rw_session(slot).map_err(|e| p11(&e))?;
        session
            .login(UserType::So, Some(&auth_pin(so_pin)))
            .map_err(|e| CardError::Pkcs11(format!("SO login on {token_label}: {e}")))?;
        session
            .init_pin(&auth_pin(user_pin))
            .map_err(|e| CardError::Pkcs11(format!("C_InitPIN on {token_label}: {e}")))?;
        session.logout().map_err(|e| p11(&e))?;
    }
    Ok(())
}

fn token_label(label: &str, which: KeyRef) -> Result<String, CardError> {
    let l = format!("{label}-{}", which.as_str());
    if l.len() > 32 {
        return Err(CardError::Pkcs11(format!(
            "token label {l:?} is longer than 32 bytes"
        )));
    }
    Ok(l)
}

fn key_id(which: KeyRef) -> Vec<u8> {
    match which {
        KeyRef::Auth => vec![1],
        KeyRef::Sign => vec![2],
    }
}

fn ca_id(which: KeyRef) -> Vec<u8> {
    match which {
        KeyRef::Auth => vec![3],
        KeyRef::Sign => vec![4],
    }
}

fn key_label(which: KeyRef) -> &'static str {
    match which {
        KeyRef::Auth => "JPKI auth key",
        KeyRef::Sign => "JPKI sign key",
    }
}

fn cert_label(which: KeyRef) -> &'static str {
    match which {
        KeyRef::Auth => "JPKI auth cert",
        KeyRef::Sign => "JPKI sign cert",
    }
}

fn ca_cert_label(which: KeyRef) -> &'static str {
    match which {
        KeyRef::Auth => "JPKI auth CA cert",
        KeyRef::Sign => "JPKI sign CA cert",
    }
}

/// One token (one PIN) of the card.
struct Token {
    slot: Slot,
    label: String,
    session: Session,
    logged_in: bool,
}

impl Token {
    fn find(&self, class: ObjectClass, id: Vec<u8>) -> Result<Vec<ObjectHandle>, CardError> {
        self.session
            .find_objects(&[Attribute::Class(class), Attribute::Id(id)])
            .map_err(|e| p11(&e))
    }

    fn find_one(&self, class: ObjectClass, id: Vec<u8>) -> Result<Option<ObjectHandle>, CardError> {
        Ok(self.find(class, id)?.into_iter().next())
    }

    fn value(&self, object: ObjectHandle) -> Result<Vec<u8>, CardError> {
        for attr in self
            .session
            .get_attributes(object, &[AttributeType::Value])
            .map_err(|e| p11(&e))?
        {
            if let Attribute::Value(v) = attr {
                return Ok(v);
            }
        }
        Err(CardError::Pkcs11(format!(
            "{}: certificate object without CKA_VALUE",
            self.label
        )))
    }

    fn spki(&self, public: ObjectHandle) -> Result<Vec<u8>, CardError> {
        let (mut n, mut e) = (None, None);
        for attr in self
            .session
            .get_attributes(
                public,
                &[AttributeType::Modulus, AttributeType::PublicExponent],
            )
            .map_err(|e| p11(&e))?
        {
            match attr {
                Attribute::Modulus(v) => n = Some(v),
                Attribute::PublicExponent(v) => e = Some(v),
                _ => {}
            }
        }
        let (Some(n), Some(e)) = (n, e) else {
            return Err(CardError::Pkcs11(format!(
                "{}: public key without modulus or exponent",
                self.label
            )));
        };
        let strip = |v: &[u8]| -> Vec<u8> {
            let start = v.iter().position(|&b| b != 0).unwrap_or(v.len());
            v[start..].to_vec()
        };
        let components = PublicKeyComponents {
            n: strip(&n),
            e: strip(&e),
        };
        let spki = components
            .as_der()
            .map_err(|_| CardError::Crypto(format!("{}: unusable RSA public key", self.label)))?;
        Ok(spki.as_ref().to_vec())
    }

    fn destroy(&self, class: ObjectClass, id: Vec<u8>) -> Result<(), CardError> {
        for object in self.find(class, id)? {
            self.session.destroy_object(object).map_err(|e| p11(&e))?;
        }
        Ok(())
    }

    fn logout(&mut self) {
        if self.logged_in {
            let _ = self.session.logout();
            self.logged_in = false;
        }
    }
}

/// A JPKI card made of PKCS#11 tokens; see the [module documentation](self) for the
/// mapping, PIN counting and the read-only mode for real cards.
pub struct Pkcs11Card {
    auth: Token,
    sign: Option<Token>,
    read_only: bool,
    so_pin: Option<AuthPin>,
    ctx: Pkcs11,
}

impl std::fmt::Debug for Pkcs11Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Card")
            .field("auth_token", &self.auth.label)
            .field("sign_token", &self.sign.as_ref().map(|t| &t.label))
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

impl Pkcs11Card {
    /// Opens the card `token_label` through the PKCS#11 module at `module_path`: the
    /// tokens `<token_label>-auth` and `<token_label>-sign` (read-write), or else the
    /// OpenSC JPKI slots `<token_label> (User Authentication PIN)` and
    /// `<token_label> (Digital Signature PIN)` (read-only; the second may be absent,
    /// e.g. for a holder under 15).
    ///
    /// # Errors
    /// [`CardError::Pkcs11`] if the module cannot be loaded or no such tokens exist.
    pub fn open(module_path: &Path, token_label: &str) -> Result<Self, CardError> {
        let ctx = module(module_path)?;
        let open_token = |slot: Slot, label: String| -> Result<Token, CardError> {
            let session = ctx
                .open_rw_session(slot)
                .or_else(|_| ctx.open_ro_session(slot))
                .map_err(|e| CardError::Pkcs11(format!("cannot open a session on {label}: {e}")))?;
            Ok(Token {
                slot,
                label,
                session,
                logged_in: false,
            })
        };
        let auth_label = token_label_lossy(token_label, KeyRef::Auth);
        let sign_label = token_label_lossy(token_label, KeyRef::Sign);
        if let (Some(a), Some(s)) = (
            find_token(&ctx, &auth_label)?,
            find_token(&ctx, &sign_label)?,
        ) {
            return Ok(Pkcs11Card {
                auth: open_token(a, auth_label)?,
                sign: Some(open_token(s, sign_label)?),
                read_only: false,
                so_pin: None,
                ctx: ctx.clone(),
            });
        }
        let auth_label = format!("{token_label} (User Authentication PIN)");
        let sign_label = format!("{token_label} (Digital Signature PIN)");
        if let Some(a) = find_token(&ctx, &auth_label)? {
            let sign = match find_token(&ctx, &sign_label)? {
                Some(s) => Some(open_token(s, sign_label)?),
                None => None,
            };
            return Ok(Pkcs11Card {
                auth: open_token(a, auth_label)?,
                sign,
                read_only: true,
                so_pin: None,
                ctx: ctx.clone(),
            });
        }
        Err(CardError::Pkcs11(format!(
            "no card {token_label:?}: neither tokens {token_label}-auth and {token_label}-sign \
             nor OpenSC JPKI slots \"{token_label} (User Authentication PIN)\""
        )))
    }

    /// Whether this is a real card seen through OpenSC (no key generation, no
    /// certificate writing, no clearing, no unblocking).
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Gives the window's authority: the tokens' security-officer PIN, needed by
    /// [`JpkiCard::unblock_pin`].
    pub fn set_so_pin(&mut self, so_pin: &str) {
        self.so_pin = Some(auth_pin(so_pin));
    }

    fn token(&self, which: KeyRef) -> Result<&Token, CardError> {
        match which {
            KeyRef::Auth => Ok(&self.auth),
            KeyRef::Sign => self.sign.as_ref().ok_or_else(|| {
                CardError::Unsupported("this card has no signature (署名用) application".into())
            }),
        }
    }

    fn token_mut(&mut self, which: KeyRef) -> Result<&mut Token, CardError> {
        match which {
            KeyRef::Auth => Ok(&mut self.auth),
            KeyRef::Sign => self.sign.as_mut().ok_or_else(|| {
                CardError::Unsupported("this card has no signature (署名用) application".into())
            }),
        }
    }

    /// The token, if its PIN was verified through this handle and the token still
    /// holds the login (PKCS#11 logins are per application: a logout through another
    /// handle on the same token in this process ends it).
    fn logged_in(&self, which: KeyRef) -> Result<&Token, CardError> {
        let token = self.token(which)?;
        if !token.logged_in {
            return Err(CardError::PinRequired { which });
        }
        let state = token
            .session
            .get_session_info()
            .map_err(|e| p11(&e))?
            .session_state();
        match state {
            SessionState::RoUser | SessionState::RwUser => Ok(token),
            _ => Err(CardError::PinRequired { which }),
        }
    }

    fn writable(&self, what: &str) -> Result<(), CardError> {
        if self.read_only {
            return Err(CardError::Unsupported(format!(
                "{what}: a real My Number card's keys and certificates are made at issuance \
                 by J-LIS and cannot be changed through PKCS#11"
            )));
        }
        Ok(())
    }

    fn status_of(&self, which: KeyRef) -> Result<PinStatus, CardError> {
        let token = self.token(which)?;
        let info = self.ctx.get_token_info(token.slot).map_err(|e| p11(&e))?;
        let max_tries = which.max_tries();
        let tries_left = if info.user_pin_locked() {
            0
        } else if info.user_pin_final_try() {
            1
        } else if info.user_pin_count_low() {
            max_tries - 1
        } else {
            max_tries
        };
        Ok(PinStatus {
            tries_left,
            max_tries,
            locked: tries_left == 0,
        })
    }

    fn wrong_pin(&self, which: KeyRef) -> CardError {
        match self.status_of(which) {
            Ok(st) if st.locked => CardError::Locked { which },
            Ok(st) => CardError::WrongPin {
                which,
                tries_left: st.tries_left.max(1),
            },
            Err(e) => e,
        }
    }

    fn login(&mut self, which: KeyRef, pin: &str) -> Result<(), CardError> {
        let token = self.token_mut(which)?;
        token.logout();
        let pin = auth_pin(pin);
        let mut result = token.session.login(UserType::User, Some(&pin));
        if let Err(e) = &result
            && rv(e) == Some(RvError::UserAlreadyLoggedIn)
        {
            let _ = token.session.logout();
            result = token.session.login(UserType::User, Some(&pin));
        }
        match result {
            Ok(()) => {
                token.logged_in = true;
                Ok(())
            }
            Err(e) => match rv(&e) {
                Some(RvError::PinIncorrect) => Err(self.wrong_pin(which)),
                Some(RvError::PinLocked) => Err(CardError::Locked { which }),
                Some(RvError::PinLenRange | RvError::PinInvalid) => Err(CardError::PinFormat {
                    which,
                    reason: "the token refused the PIN's length or characters".into(),
                }),
                _ => Err(p11(&e)),
            },
        }
    }

    fn clear(&self, which: KeyRef) -> Result<(), CardError> {
        let token = self.token(which)?;
        token.destroy(ObjectClass::PRIVATE_KEY, key_id(which))?;
        token.destroy(ObjectClass::PUBLIC_KEY, key_id(which))?;
        token.destroy(ObjectClass::CERTIFICATE, key_id(which))?;
        token.destroy(ObjectClass::CERTIFICATE, ca_id(which))?;
        Ok(())
    }
}

/// Like [`token_label`] but never fails (an over-long label just finds nothing).
fn token_label_lossy(label: &str, which: KeyRef) -> String {
    format!("{label}-{}", which.as_str())
}

impl JpkiCard for Pkcs11Card {
    fn token_string(&self) -> &str {
        TOKEN_STRING
    }

    fn pin_status(&self, which: KeyRef) -> Result<PinStatus, CardError> {
        self.status_of(which)
    }

    fn verify_pin(&mut self, which: KeyRef, pin: &str) -> Result<(), CardError> {
        validate_pin(which, pin)?;
        self.login(which, pin)
    }

    fn reset_security_state(&mut self) {
        self.auth.logout();
        if let Some(sign) = &mut self.sign {
            sign.logout();
        }
    }

    fn generate_key_pair(&mut self, which: KeyRef) -> Result<Vec<u8>, CardError> {
        self.writable("key generation")?;
        let token = self.logged_in(which)?;
        if token
            .find_one(ObjectClass::PRIVATE_KEY, key_id(which))?
            .is_some()
            || token
                .find_one(ObjectClass::PUBLIC_KEY, key_id(which))?
                .is_some()
        {
            return Err(CardError::KeyExists { which });
        }
        let label = key_label(which).as_bytes().to_vec();
        let public_template = [
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::Encrypt(false),
            Attribute::ModulusBits(2048.into()),
            Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
            Attribute::Label(label.clone()),
            Attribute::Id(key_id(which)),
        ];
        let private_template = [
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(false),
            Attribute::Label(label),
            Attribute::Id(key_id(which)),
        ];
        let (public, _private) = token
            .session
            .generate_key_pair(
                &Mechanism::RsaPkcsKeyPairGen,
                &public_template,
                &private_template,
            )
            .map_err(|e| CardError::Pkcs11(format!("C_GenerateKeyPair on {}: {e}", token.label)))?;
        token.spki(public)
    }

    fn public_key(&self, which: KeyRef) -> Result<Option<Vec<u8>>, CardError> {
        let token = self.token(which)?;
        match token.find_one(ObjectClass::PUBLIC_KEY, key_id(which))? {
            Some(public) => token.spki(public).map(Some),
            None => Ok(None),
        }
    }

    fn sign_digest_info(
        &mut self,
        which: KeyRef,
        digest_info: &[u8],
    ) -> Result<Vec<u8>, CardError> {
        let token = self.logged_in(which)?;
        let key = token
            .find_one(ObjectClass::PRIVATE_KEY, key_id(which))?
            .ok_or(CardError::NoKey { which })?;
        parse_digest_info(digest_info)?;
        let signature = token
            .session
            .sign(&Mechanism::RsaPkcs, key, digest_info)
            .map_err(|e| match rv(&e) {
                Some(RvError::UserNotLoggedIn) => CardError::PinRequired { which },
                _ => CardError::Pkcs11(format!("C_Sign on {}: {e}", token.label)),
            })?;
        if signature.len() != SIGNATURE_LEN {
            return Err(CardError::Crypto(format!(
                "{}: signature of {} bytes, not {SIGNATURE_LEN}",
                token.label,
                signature.len()
            )));
        }
        Ok(signature)
    }

    fn read_certificate(&self, which: KeyRef) -> Result<Option<Vec<u8>>, CardError> {
        let token = match which {
            KeyRef::Auth => self.token(which)?,
            KeyRef::Sign => self.logged_in(which)?,
        };
        match token.find_one(ObjectClass::CERTIFICATE, key_id(which))? {
            Some(cert) => token.value(cert).map(Some),
            None => Ok(None),
        }
    }

    fn read_ca_certificate(&self, which: KeyRef) -> Result<Option<Vec<u8>>, CardError> {
        let token = self.token(which)?;
        match token.find_one(ObjectClass::CERTIFICATE, ca_id(which))? {
            Some(cert) => token.value(cert).map(Some),
            None => Ok(None),
        }
    }

    fn write_certificates(
        &mut self,
        which: KeyRef,
        cert_der: &[u8],
        ca_cert_der: &[u8],
    ) -> Result<(), CardError> {
        self.writable("writing certificates")?;
        let token = self.logged_in(which)?;
        if token
            .find_one(ObjectClass::PRIVATE_KEY, key_id(which))?
            .is_none()
        {
            return Err(CardError::NoKey { which });
        }
        let cert = cert_fields(cert_der)?;
        let ca = cert_fields(ca_cert_der)?;
        token.destroy(ObjectClass::CERTIFICATE, key_id(which))?;
        token.destroy(ObjectClass::CERTIFICATE, ca_id(which))?;
        for (der, fields, id, label, private) in [
            (
                cert_der,
                &cert,
                key_id(which),
                cert_label(which),
                which == KeyRef::Sign,
            ),
            (ca_cert_der, &ca, ca_id(which), ca_cert_label(which), false),
        ] {
            token
                .session
                .create_object(&[
                    Attribute::Class(ObjectClass::CERTIFICATE),
                    Attribute::CertificateType(CertificateType::X_509),
                    Attribute::Token(true),
                    Attribute::Private(private),
                    Attribute::Label(label.as_bytes().to_vec()),
                    Attribute::Id(id),
                    Attribute::Subject(fields.subject.to_vec()),
                    Attribute::Issuer(fields.issuer.to_vec()),
                    Attribute::SerialNumber(fields.serial.to_vec()),
                    Attribute::Value(der.to_vec()),
                ])
                .map_err(|e| {
                    CardError::Pkcs11(format!("C_CreateObject on {}: {e}", token.label))
                })?;
        }
        Ok(())
    }

    fn clear_slot(&mut self, which: KeyRef) -> Result<(), CardError> {
        self.writable("clearing a slot")?;
        self.logged_in(which)?;
        self.clear(which)
    }

    fn change_pin(&mut self, which: KeyRef, old: &str, new: &str) -> Result<(), CardError> {
        validate_pin(which, old)?;
        validate_pin(which, new)?;
        self.login(which, old)?;
        let token = self.token(which)?;
        token
            .session
            .set_pin(&auth_pin(old), &auth_pin(new))
            .map_err(|e| match rv(&e) {
                Some(RvError::PinIncorrect) => self.wrong_pin(which),
                Some(RvError::PinLenRange | RvError::PinInvalid) => CardError::PinFormat {
                    which,
                    reason: "the token refused the new PIN's length or characters".into(),
                },
                _ => CardError::Pkcs11(format!("C_SetPIN on {}: {e}", token.label)),
            })
    }

    fn unblock_pin(&mut self, which: KeyRef, new_pin: &str) -> Result<(), CardError> {
        validate_pin(which, new_pin)?;
        if self.read_only {
            return Err(CardError::Unsupported(
                "a real My Number card's PIN is unblocked with the municipality's terminal".into(),
            ));
        }
        let so_pin = self.so_pin.clone().ok_or_else(|| {
            CardError::Unsupported(
                "unblocking a PKCS#11 token needs its SO PIN: call Pkcs11Card::set_so_pin".into(),
            )
        })?;
        let token = self.token_mut(which)?;
        token.logout();
        let session = &token.session;
        session
            .login(UserType::So, Some(&so_pin))
            .map_err(|e| CardError::Pkcs11(format!("SO login on {}: {e}", token.label)))?;
        let init = session.init_pin(&auth_pin(new_pin));
        let _ = session.logout();
        init.map_err(|e| CardError::Pkcs11(format!("C_InitPIN on {}: {e}", token.label)))?;
        // Empty the slot, as on the software card: log in with the new PIN to reach
        // the private objects, destroy them, log out.
        self.login(which, new_pin)?;
        let cleared = self.clear(which);
        self.token_mut(which)?.logout();
        cleared
    }
}
