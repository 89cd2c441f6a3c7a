//! An org's certificate authority kept in a directory.
//!
//! ```text
//! DIR/
//!   ca.json                  org, suite, key algorithm, layout version (written last by init)
//!   root.crt  root.key       the org's root CA (root.key is 0600)
//!   intermediate.crt/.key    the issuing CA, when created with an intermediate
//!   index.json               every certificate issued: serial, name, role, expiry, revocation
//!   certs/SERIAL.crt         a copy of every certificate issued
//!   identities/NAME/         cert.pem (leaf + intermediate) and key.pem of `issue`d identities
//!   crl.pem                  the latest CRL
//!   trusted/                 external CA certificates imported as trust roots
//!   archive/TIME/            what `init --force` moved aside
//!   .lock                    serialises writers
//! ```
//!
//! Every write is atomic (temporary file, fsync, rename); the index is written after the files
//! it points to, so a crash never leaves an index entry without its certificate.

use std::{
    fs::{self, File, OpenOptions},
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use covenant_crypto::{KeyAlgorithm, PrivateKey, PublicKey, Suite};
use serde::{Deserialize, Serialize};

use crate::{
    Certificate, CertificateSpec, Crl, Csr, Host, Issuer, PkiError, Result, RevocationReason,
    RevokedEntry, Role,
    asn1::{self, format_time},
    files::{self, PRIVATE_MODE, PUBLIC_MODE},
    issue::{issue_certificate, random_serial, subject_name},
    verify::check_trust_root,
};

const CONFIG_FILE: &str = "ca.json";
const INDEX_FILE: &str = "index.json";
const ROOT_CERT: &str = "root.crt";
const ROOT_KEY: &str = "root.key";
const INTERMEDIATE_CERT: &str = "intermediate.crt";
const INTERMEDIATE_KEY: &str = "intermediate.key";
const CRL_FILE: &str = "crl.pem";
const LAYOUT_VERSION: u32 = 1;
const DAY: Duration = Duration::from_secs(86_400);
/// Certificates start a minute in the past so a peer with a slightly slow clock accepts them.
const BACKDATE: Duration = Duration::from_secs(60);
/// Longest validity accepted for any certificate.
const MAX_DAYS: u32 = 36_500;

/// Names of everything `init` creates (also what `init --force` archives).
const CA_ENTRIES: [&str; 10] = [
    CONFIG_FILE,
    INDEX_FILE,
    ROOT_CERT,
    ROOT_KEY,
    INTERMEDIATE_CERT,
    INTERMEDIATE_KEY,
    CRL_FILE,
    "certs",
    "identities",
    "trusted",
];

/// `ca.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaConfig {
    pub layout_version: u32,
    pub org: String,
    pub suite: Suite,
    pub key_algorithm: KeyAlgorithm,
    pub intermediate: bool,
    pub created_at: String,
}

/// A revocation recorded in the index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Revocation {
    pub at: String,
    pub reason: RevocationReason,
}

/// One issued certificate in the index.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuedRecord {
    pub serial: String,
    pub name: String,
    pub role: Role,
    pub subject: String,
    pub key_algorithm: KeyAlgorithm,
    pub not_before: String,
    pub not_after: String,
    #[serde(default)]
    pub hosts: Vec<String>,
    pub issued_at: String,
    /// `issue` (key made by the CA) or `csr` (key held by the requester).
    pub source: String,
    /// Path of the certificate copy, relative to the CA directory.
    pub cert: String,
    #[serde(default)]
    pub revoked: Option<Revocation>,
}

/// `index.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Index {
    layout_version: u32,
    crl_number: u64,
    certificates: Vec<IssuedRecord>,
}

/// What `init` was asked for.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub org: String,
    pub suite: Suite,
    /// Defaults to the suite's default algorithm.
    pub key_algorithm: Option<KeyAlgorithm>,
    /// Also create an intermediate CA that signs the org's certificates.
    pub intermediate: bool,
    /// Validity of the CA certificates in days.
    pub days: u32,
    /// Archive an existing CA in the directory and create a new one.
    pub force: bool,
}

/// What `init` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct InitOutcome {
    pub root_cert: PathBuf,
    pub key: PathBuf,
    pub intermediate_cert: Option<PathBuf>,
    pub intermediate_key: Option<PathBuf>,
    pub org: String,
    pub suite: Suite,
    pub key_algorithm: KeyAlgorithm,
    pub serial: String,
    pub not_after: String,
    /// Where the replaced CA was moved, with `--force`.
    pub archived: Option<PathBuf>,
}

/// What `issue` was asked for.
#[derive(Debug, Clone)]
pub struct IssueOptions {
    pub role: Role,
    pub name: String,
    pub hosts: Vec<Host>,
    pub days: u32,
    pub key_algorithm: Option<KeyAlgorithm>,
    /// Write `PREFIX.crt` and `PREFIX.key` instead of `identities/NAME/`.
    pub out: Option<PathBuf>,
    pub force: bool,
}

/// What `issue` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct IssueOutcome {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub serial: String,
    pub name: String,
    pub role: Role,
    pub not_after: String,
}

/// What `sign` was asked for.
#[derive(Debug, Clone)]
pub struct SignOptions {
    pub role: Role,
    /// Extra hosts beyond those the CSR requests (node role only).
    pub hosts: Vec<Host>,
    pub days: u32,
    pub out: PathBuf,
    pub force: bool,
}

/// What `sign` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct SignOutcome {
    pub cert: PathBuf,
    pub serial: String,
    pub name: String,
    pub role: Role,
    pub not_after: String,
}

/// What `crl` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct CrlOutcome {
    pub crl: PathBuf,
    pub crl_number: u64,
    pub revoked: usize,
    pub this_update: String,
    pub next_update: String,
}

/// What `import` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ImportOutcome {
    pub trust_root: PathBuf,
    pub subject: String,
    pub fingerprint: String,
    pub not_after: String,
}

/// An open CA directory, locked for this process while the value lives.
#[derive(Debug)]
pub struct CertificateAuthority {
    dir: PathBuf,
    config: CaConfig,
    index: Index,
    root: Certificate,
    /// The CA that signs certificates and CRLs: the intermediate if there is one.
    signer: Certificate,
    signer_key: PrivateKey,
    _lock: File,
}

fn check_days(days: u32) -> Result<()> {
    if days == 0 || days > MAX_DAYS {
        return Err(PkiError::InvalidArgument(format!(
            "--days must be between 1 and {MAX_DAYS}, got {days}"
        )));
    }
    Ok(())
}

/// Identity names become directory names: keep them plain.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(PkiError::InvalidName(name.to_string()))
    }
}

fn validate_org(org: &str) -> Result<()> {
    if org.trim().is_empty() || org.chars().count() > 64 || org.chars().any(char::is_control) {
        return Err(PkiError::InvalidArgument(format!(
            "invalid org name {org:?}: use 1-64 printable characters"
        )));
    }
    Ok(())
}

/// Parse a serial number as hex, tolerating `:` separators, a `0x` prefix and leading zeros.
pub fn parse_serial(s: &str) -> Result<Vec<u8>> {
    let cleaned: String = s
        .trim()
        .trim_start_matches("0x")
        .trim_start_matches("0X")
        .chars()
        .filter(|c| *c != ':')
        .collect();
    if cleaned.is_empty() || cleaned.len() > 42 || !cleaned.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(PkiError::InvalidSerial(s.to_string()));
    }
    let padded = if cleaned.len() % 2 == 1 {
        format!("0{cleaned}")
    } else {
        cleaned
    };
    let bytes = hex::decode(&padded).map_err(|_| PkiError::InvalidSerial(s.to_string()))?;
    let skip = bytes
        .iter()
        .take_while(|b| **b == 0)
        .count()
        .min(bytes.len() - 1);
    Ok(bytes[skip..].to_vec())
}

fn lock(dir: &Path) -> Result<File> {
    let path = dir.join(".lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| PkiError::io(&path, e))?;
    f.lock().map_err(|e| PkiError::io(&path, e))?;
    Ok(f)
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let mut out = serde_json::to_vec_pretty(v).map_err(PkiError::encoding)?;
    out.push(b'\n');
    Ok(out)
}

fn new_ca_cert(
    org: &str,
    common_name: &str,
    key: &PrivateKey,
    path_len: Option<u8>,
    not_before: SystemTime,
    not_after: SystemTime,
    issuer: Option<(&Certificate, &PrivateKey)>,
) -> Result<Certificate> {
    let subject = subject_name(org, Role::Ca, common_name)?;
    let spec = CertificateSpec {
        subject: subject.clone(),
        public_key: key.public_key().clone(),
        role: Role::Ca,
        hosts: vec![],
        not_before,
        not_after,
        path_len,
    };
    let own_kid = crate::issue::key_identifier(key.public_key());
    let serial = random_serial()?;
    match issuer {
        None => issue_certificate(
            &spec,
            &serial,
            Issuer {
                name: &subject,
                key,
                key_id: Some(&own_kid),
            },
        ),
        Some((cert, issuer_key)) => {
            let kid = cert.subject_key_id();
            issue_certificate(
                &spec,
                &serial,
                Issuer {
                    name: cert.subject(),
                    key: issuer_key,
                    key_id: kid.as_deref(),
                },
            )
        }
    }
}

impl CertificateAuthority {
    /// Create a CA in `dir`.
    pub fn init(dir: &Path, opts: &InitOptions) -> Result<InitOutcome> {
        validate_org(&opts.org)?;
        check_days(opts.days)?;
        let key_algorithm = opts
            .key_algorithm
            .unwrap_or_else(|| opts.suite.default_key_algorithm());
        opts.suite.check_key_algorithm(key_algorithm)?;

        files::create_private_dir(dir)?;
        let _lock = lock(dir)?;
        let existing: Vec<&str> = CA_ENTRIES
            .iter()
            .copied()
            .filter(|e| dir.join(e).exists())
            .collect();
        let mut archived = None;
        if !existing.is_empty() {
            if !opts.force {
                return Err(PkiError::CaExists {
                    dir: dir.to_path_buf(),
                });
            }
            let stamp = format_time(SystemTime::now()).replace(':', "-");
            let mut target = dir.join("archive").join(&stamp);
            let mut n = 1;
            while target.exists() {
                target = dir.join("archive").join(format!("{stamp}.{n}"));
                n += 1;
            }
            files::create_private_dir(&target)?;
            for entry in existing {
                fs::rename(dir.join(entry), target.join(entry))
                    .map_err(|e| PkiError::io(dir.join(entry), e))?;
            }
            files::sync_dir(dir)?;
            archived = Some(target);
        }

        let now = SystemTime::now();
        let not_before = now - BACKDATE;
        let not_after = now + DAY * opts.days;
        let root_key = PrivateKey::generate(key_algorithm)?;
        let root = new_ca_cert(
            &opts.org,
            &format!("{} Root CA", opts.org),
            &root_key,
            if opts.intermediate { Some(1) } else { None },
            not_before,
            not_after,
            None,
        )?;
        let root_key_path = dir.join(ROOT_KEY);
        let root_cert_path = dir.join(ROOT_CERT);
        files::write_new(
            &root_key_path,
            root_key.to_pkcs8_pem()?.as_bytes(),
            PRIVATE_MODE,
            false,
        )?;
        files::write_new(
            &root_cert_path,
            root.to_pem().as_bytes(),
            PUBLIC_MODE,
            false,
        )?;

        let (mut intermediate_cert, mut intermediate_key) = (None, None);
        if opts.intermediate {
            let key = PrivateKey::generate(key_algorithm)?;
            let cert = new_ca_cert(
                &opts.org,
                &format!("{} Issuing CA", opts.org),
                &key,
                Some(0),
                not_before,
                not_after,
                Some((&root, &root_key)),
            )?;
            let kp = dir.join(INTERMEDIATE_KEY);
            let cp = dir.join(INTERMEDIATE_CERT);
            files::write_new(&kp, key.to_pkcs8_pem()?.as_bytes(), PRIVATE_MODE, false)?;
            files::write_new(&cp, cert.to_pem().as_bytes(), PUBLIC_MODE, false)?;
            intermediate_cert = Some(cp);
            intermediate_key = Some(kp);
        }

        for sub in ["certs", "identities"] {
            files::create_private_dir(&dir.join(sub))?;
        }
        let index = Index {
            layout_version: LAYOUT_VERSION,
            crl_number: 0,
            certificates: vec![],
        };
        files::write_atomic(&dir.join(INDEX_FILE), &to_json(&index)?, PUBLIC_MODE)?;
        let config = CaConfig {
            layout_version: LAYOUT_VERSION,
            org: opts.org.clone(),
            suite: opts.suite,
            key_algorithm,
            intermediate: opts.intermediate,
            created_at: format_time(now),
        };
        files::write_atomic(&dir.join(CONFIG_FILE), &to_json(&config)?, PUBLIC_MODE)?;
        Ok(InitOutcome {
            root_cert: root_cert_path,
            key: root_key_path,
            intermediate_cert,
            intermediate_key,
            org: opts.org.clone(),
            suite: opts.suite,
            key_algorithm,
            serial: root.serial_hex(),
            not_after: format_time(root.not_after()),
            archived,
        })
    }

    /// Open the CA in `dir`, checking that its files agree with each other.
    pub fn open(dir: &Path) -> Result<Self> {
        let config_path = dir.join(CONFIG_FILE);
        if !config_path.is_file() {
            if !dir.exists() {
                return Err(PkiError::NotFound {
                    path: dir.to_path_buf(),
                });
            }
            return Err(PkiError::CaNotFound {
                dir: dir.to_path_buf(),
            });
        }
        let lock = lock(dir)?;
        let corrupt = |detail: String| PkiError::CaCorrupt {
            dir: dir.to_path_buf(),
            detail,
        };
        let config: CaConfig = serde_json::from_str(&files::read_text(&config_path)?)
            .map_err(|e| corrupt(format!("{CONFIG_FILE}: {e}")))?;
        if config.layout_version != LAYOUT_VERSION {
            return Err(corrupt(format!(
                "{CONFIG_FILE}: layout version {} is not supported (expected {LAYOUT_VERSION})",
                config.layout_version
            )));
        }
        let index: Index = serde_json::from_str(&files::read_text(&dir.join(INDEX_FILE))?)
            .map_err(|e| corrupt(format!("{INDEX_FILE}: {e}")))?;
        let root = Certificate::load(&dir.join(ROOT_CERT))?;
        let (signer, key_file) = if config.intermediate {
            (
                Certificate::load(&dir.join(INTERMEDIATE_CERT))?,
                INTERMEDIATE_KEY,
            )
        } else {
            (root.clone(), ROOT_KEY)
        };
        let key_path = dir.join(key_file);
        let signer_key = PrivateKey::from_pkcs8_pem(&files::read_text(&key_path)?)
            .map_err(|e| corrupt(format!("{key_file}: {e}")))?;
        config.suite.check_key_algorithm(signer_key.algorithm())?;
        if signer.public_key()? != *signer_key.public_key() {
            return Err(corrupt(format!(
                "{key_file} does not belong to the CA certificate"
            )));
        }
        Ok(CertificateAuthority {
            dir: dir.to_path_buf(),
            config,
            index,
            root,
            signer,
            signer_key,
            _lock: lock,
        })
    }

    /// The CA's settings.
    pub fn config(&self) -> &CaConfig {
        &self.config
    }

    /// The org's root certificate (its trust root).
    pub fn root(&self) -> &Certificate {
        &self.root
    }

    /// Path of the root certificate.
    pub fn root_cert_path(&self) -> PathBuf {
        self.dir.join(ROOT_CERT)
    }

    /// The certificate that signs issued certificates and CRLs.
    pub fn signer(&self) -> &Certificate {
        &self.signer
    }

    /// The issued certificates.
    pub fn list(&self) -> &[IssuedRecord] {
        &self.index.certificates
    }

    /// Path of the latest CRL (which may not exist yet).
    pub fn crl_path(&self) -> PathBuf {
        self.dir.join(CRL_FILE)
    }

    fn chain_pem(&self, leaf: &Certificate) -> String {
        let mut pem = leaf.to_pem();
        if self.config.intermediate {
            pem.push_str(&self.signer.to_pem());
        }
        pem
    }

    fn save_index(&self) -> Result<()> {
        files::write_atomic(
            &self.dir.join(INDEX_FILE),
            &to_json(&self.index)?,
            PUBLIC_MODE,
        )
    }

    fn validity(&self, days: u32) -> Result<(SystemTime, SystemTime)> {
        check_days(days)?;
        let now = SystemTime::now();
        // A certificate never outlives the CA that signs it.
        let not_after = (now + DAY * days).min(self.signer.not_after());
        if not_after <= now {
            return Err(PkiError::InvalidArgument(
                "the CA certificate has expired; create a new CA".into(),
            ));
        }
        Ok((now - BACKDATE, not_after))
    }

    fn active_with_name(&self, name: &str) -> Option<&IssuedRecord> {
        self.index
            .certificates
            .iter()
            .find(|r| r.name == name && r.revoked.is_none())
    }

    #[allow(clippy::too_many_arguments)]
    fn sign_and_record(
        &mut self,
        name: &str,
        role: Role,
        public_key: &PublicKey,
        hosts: Vec<Host>,
        days: u32,
        source: &str,
    ) -> Result<(Certificate, IssuedRecord)> {
        let (not_before, not_after) = self.validity(days)?;
        let spec = CertificateSpec {
            subject: subject_name(&self.config.org, role, name)?,
            public_key: public_key.clone(),
            role,
            hosts,
            not_before,
            not_after,
            path_len: None,
        };
        let kid = self.signer.subject_key_id();
        let cert = issue_certificate(
            &spec,
            &random_serial()?,
            Issuer {
                name: self.signer.subject(),
                key: &self.signer_key,
                key_id: kid.as_deref(),
            },
        )?;
        let rel = format!("certs/{}.crt", cert.serial_hex());
        files::create_private_dir(&self.dir.join("certs"))?;
        files::write_new(
            &self.dir.join(&rel),
            cert.to_pem().as_bytes(),
            PUBLIC_MODE,
            false,
        )?;
        let record = IssuedRecord {
            serial: cert.serial_hex(),
            name: name.to_string(),
            role,
            subject: cert.subject_string(),
            key_algorithm: public_key.algorithm(),
            not_before: format_time(cert.not_before()),
            not_after: format_time(cert.not_after()),
            hosts: cert.hosts(),
            issued_at: format_time(SystemTime::now()),
            source: source.to_string(),
            cert: rel,
            revoked: None,
        };
        Ok((cert, record))
    }

    /// Make a key pair and a certificate for `opts.name` in `opts.role`.
    pub fn issue(&mut self, opts: &IssueOptions) -> Result<IssueOutcome> {
        validate_name(&opts.name)?;
        if opts.role == Role::Ca {
            return Err(PkiError::UnknownRole("ca".into()));
        }
        if opts.role != Role::Node && !opts.hosts.is_empty() {
            return Err(PkiError::InvalidArgument(
                "--host is only for node certificates".into(),
            ));
        }
        let key_algorithm = opts.key_algorithm.unwrap_or(self.config.key_algorithm);
        self.config.suite.check_key_algorithm(key_algorithm)?;
        check_days(opts.days)?;
        if let Some(existing) = self.active_with_name(&opts.name)
            && !opts.force
        {
            return Err(PkiError::NameExists {
                name: opts.name.clone(),
                serial: existing.serial.clone(),
            });
        }
        let (cert_path, key_path) = match &opts.out {
            Some(prefix) => {
                let p = prefix.display().to_string();
                (
                    PathBuf::from(format!("{p}.crt")),
                    PathBuf::from(format!("{p}.key")),
                )
            }
            None => {
                let d = self.dir.join("identities").join(&opts.name);
                (d.join("cert.pem"), d.join("key.pem"))
            }
        };
        if !opts.force {
            for p in [&cert_path, &key_path] {
                if p.exists() {
                    return Err(PkiError::FileExists { path: p.clone() });
                }
            }
        }
        let mut hosts = opts.hosts.clone();
        if opts.role == Role::Node
            && hosts.is_empty()
            && let Ok(h) = opts.name.parse::<Host>()
        {
            hosts.push(h);
        }

        let key = PrivateKey::generate(key_algorithm)?;
        let (cert, record) = self.sign_and_record(
            &opts.name,
            opts.role,
            key.public_key(),
            hosts,
            opts.days,
            "issue",
        )?;

        // Files of a re-issued identity move aside instead of being overwritten.
        if opts.out.is_none()
            && let Some(parent) = cert_path.parent()
            && parent.exists()
        {
            let retired = self.dir.join("identities").join(".retired").join(format!(
                "{}-{}",
                opts.name,
                format_time(SystemTime::now()).replace(':', "-")
            ));
            files::create_private_dir(retired.parent().unwrap_or(&self.dir))?;
            fs::rename(parent, &retired).map_err(|e| PkiError::io(parent, e))?;
        }
        if let Some(parent) = key_path.parent()
            && !parent.as_os_str().is_empty()
        {
            files::create_private_dir(parent)?;
        }
        files::write_new(
            &key_path,
            key.to_pkcs8_pem()?.as_bytes(),
            PRIVATE_MODE,
            opts.force,
        )?;
        files::write_new(
            &cert_path,
            self.chain_pem(&cert).as_bytes(),
            PUBLIC_MODE,
            opts.force,
        )?;
        self.index.certificates.push(record.clone());
        self.save_index()?;
        Ok(IssueOutcome {
            cert: cert_path,
            key: key_path,
            serial: record.serial,
            name: record.name,
            role: record.role,
            not_after: record.not_after,
        })
    }

    /// Sign a CSR: check its proof of possession and key algorithm, then certify its key
    /// for `opts.role`. The common name comes from the CSR; org and role from the CA.
    pub fn sign_csr(&mut self, csr: &Csr, opts: &SignOptions) -> Result<SignOutcome> {
        if opts.role == Role::Ca {
            return Err(PkiError::UnknownRole("ca".into()));
        }
        let public_key = csr.verify()?;
        self.config
            .suite
            .check_key_algorithm(public_key.algorithm())?;
        check_days(opts.days)?;
        let name = csr.common_name().ok_or_else(|| PkiError::NotACsr {
            what: "CSR".into(),
            detail: "the subject has no common name (CN)".into(),
        })?;
        if name.trim().is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control)
        {
            return Err(PkiError::InvalidName(name));
        }
        let mut hosts: Vec<Host> = Vec::new();
        if opts.role == Role::Node {
            for h in csr.hosts() {
                hosts.push(h.parse()?);
            }
            hosts.extend(opts.hosts.iter().cloned());
            hosts.dedup();
        } else if !opts.hosts.is_empty() || !csr.hosts().is_empty() {
            return Err(PkiError::InvalidArgument(
                "host names are only for node certificates".into(),
            ));
        }
        if !opts.force && opts.out.exists() {
            return Err(PkiError::FileExists {
                path: opts.out.clone(),
            });
        }
        let (cert, record) =
            self.sign_and_record(&name, opts.role, &public_key, hosts, opts.days, "csr")?;
        files::write_new(
            &opts.out,
            self.chain_pem(&cert).as_bytes(),
            PUBLIC_MODE,
            opts.force,
        )?;
        self.index.certificates.push(record.clone());
        self.save_index()?;
        Ok(SignOutcome {
            cert: opts.out.clone(),
            serial: record.serial,
            name: record.name,
            role: record.role,
            not_after: record.not_after,
        })
    }

    /// Mark the certificate with `serial` revoked. Publish with [`write_crl`](Self::write_crl).
    pub fn revoke(&mut self, serial: &str, reason: RevocationReason) -> Result<IssuedRecord> {
        let wanted = hex::encode_upper(parse_serial(serial)?);
        let record = self
            .index
            .certificates
            .iter_mut()
            .find(|r| r.serial == wanted)
            .ok_or_else(|| PkiError::UnknownSerial(wanted.clone()))?;
        if record.revoked.is_some() {
            return Err(PkiError::AlreadyRevoked(wanted));
        }
        record.revoked = Some(Revocation {
            at: format_time(SystemTime::now()),
            reason,
        });
        let record = record.clone();
        self.save_index()?;
        Ok(record)
    }

    /// Issue a CRL of every revoked certificate, valid for `days`, to `crl.pem`.
    pub fn write_crl(&mut self, days: u32) -> Result<CrlOutcome> {
        check_days(days)?;
        let entries = self
            .index
            .certificates
            .iter()
            .filter_map(|r| {
                let rev = r.revoked.as_ref()?;
                Some((r, rev))
            })
            .map(|(r, rev)| {
                Ok(RevokedEntry {
                    serial: parse_serial(&r.serial)?,
                    revoked_at: asn1::parse_time(&rev.at)?,
                    reason: rev.reason,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let now = SystemTime::now();
        let next = now + DAY * days;
        let number = self.index.crl_number + 1;
        let crl = Crl::issue(&self.signer, &self.signer_key, number, now, next, &entries)?;
        let path = self.crl_path();
        files::write_atomic(&path, crl.to_pem()?.as_bytes(), PUBLIC_MODE)?;
        self.index.crl_number = number;
        self.save_index()?;
        Ok(CrlOutcome {
            crl: path,
            crl_number: number,
            revoked: entries.len(),
            this_update: format_time(now),
            next_update: format_time(next),
        })
    }
}

/// Import an external CA certificate (for example a commercial or regulator's root) as a trust
/// root into `dir/trusted/`. `dir` may be a CA directory or any trust directory.
pub fn import_trust_root(dir: &Path, cert_path: &Path) -> Result<ImportOutcome> {
    let cert = Certificate::load(cert_path)?;
    check_trust_root(&cert, SystemTime::now())?;
    let trusted = dir.join("trusted");
    files::create_private_dir(&trusted)?;
    let fingerprint = cert.fingerprint();
    let path = trusted.join(format!("{}.crt", &fingerprint[..16]));
    if !path.exists() {
        files::write_atomic(&path, cert.to_pem().as_bytes(), PUBLIC_MODE)?;
    }
    Ok(ImportOutcome {
        trust_root: path,
        subject: cert.subject_string(),
        fingerprint,
        not_after: format_time(cert.not_after()),
    })
}

/// The trust roots a directory holds: `root.crt` if it is a CA directory, and every
/// certificate under `trusted/`.
pub fn trust_roots_in(dir: &Path) -> Result<Vec<Certificate>> {
    if !dir.is_dir() {
        return Err(PkiError::NotFound {
            path: dir.to_path_buf(),
        });
    }
    let mut roots = Vec::new();
    let root = dir.join(ROOT_CERT);
    if root.is_file() {
        roots.push(Certificate::load(&root)?);
    }
    let trusted = dir.join("trusted");
    if trusted.is_dir() {
        let mut entries: Vec<PathBuf> = fs::read_dir(&trusted)
            .map_err(|e| PkiError::io(&trusted, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "crt" || x == "pem"))
            .collect();
        entries.sort();
        for p in entries {
            roots.extend(Certificate::load_chain(&p)?);
        }
    }
    if roots.is_empty() {
        return Err(PkiError::InvalidArgument(format!(
            "{} holds no trust roots (no root.crt, nothing in trusted/)",
            dir.display()
        )));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_parse_leniently_but_strictly() {
        assert_eq!(parse_serial("0A:1b").unwrap(), vec![0x0a, 0x1b]);
        assert_eq!(parse_serial("0x00ff").unwrap(), vec![0xff]);
        assert_eq!(parse_serial("abc").unwrap(), vec![0x0a, 0xbc]);
        assert_eq!(parse_serial("0").unwrap(), vec![0]);
        for bad in ["", "xyz", "12 34", &"f".repeat(50)] {
            assert_eq!(parse_serial(bad).unwrap_err().code(), "SERIAL_INVALID");
        }
    }

    #[test]
    fn names_are_plain() {
        for ok in ["node1", "Org1.admin", "a_b-c"] {
            validate_name(ok).unwrap();
        }
        for bad in ["", "../x", "-a", "a/b", "a b", &"x".repeat(65)] {
            assert_eq!(validate_name(bad).unwrap_err().code(), "NAME_INVALID");
        }
    }
}
