//! `covenant ca`: an org's certificate authority on the command line.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use covenant_crypto::{KeyAlgorithm, PrivateKey, Suite};
use covenant_pki::{
    Certificate, CertificateAuthority, Crl, Csr, Host, RevocationReason, Role, TrustStore,
    VerifyOptions,
    authority::{
        InitOptions, IssueOptions, SignOptions, import_trust_root, trust_roots_in, validate_name,
    },
    files::{self, PRIVATE_MODE, PUBLIC_MODE},
    format_time, parse_time,
};
use serde::Serialize;
use serde_json::json;

use crate::{
    EXIT_REJECTED,
    failure::Failure,
    output::{Format, emit},
};

#[derive(Debug, Args)]
#[command(
    about = "Run an org's certificate authority: issue, sign, revoke and verify certificates",
    long_about = "Every organisation of a consortium runs its own certificate authority (CA). \
The CA issues certificates for three roles, carried in the certificate's OU: `admin` (signs \
governance proposals and votes), `client` (signs transactions) and `node` (signs blocks and \
votes, and authenticates node-to-node TLS; its host names go in the certificate). Members who \
keep their own keys send a CSR instead (`ca csr`, then `ca sign`). Revocations are published as \
signed CRLs.\n\nA CA lives in a directory: root.crt is the org's trust root to hand to the \
consortium, root.key stays private (mode 0600).",
    after_help = "Example, national algorithms:\n  covenant ca init --org Org1 --suite sm --dir \
org1-ca\n  covenant ca issue --dir org1-ca --role node --name node1 --host 127.0.0.1\n  covenant \
ca verify --trust org1-ca/root.crt org1-ca/identities/node1/cert.pem\n  covenant ca list --dir \
org1-ca\n  covenant ca revoke --dir org1-ca --serial SERIAL\n  covenant ca crl --dir org1-ca\n  \
covenant ca verify --trust org1-ca/root.crt --crl org1-ca/crl.pem \
org1-ca/identities/node1/cert.pem"
)]
pub struct CaCommand {
    #[command(subcommand)]
    command: CaSub,
}

#[derive(Debug, Subcommand)]
enum CaSub {
    Init(InitArgs),
    Issue(IssueArgs),
    Csr(CsrArgs),
    Sign(SignArgs),
    Revoke(RevokeArgs),
    Crl(CrlArgs),
    Verify(VerifyArgs),
    List(ListArgs),
    Import(ImportArgs),
}

/// Create an org's CA: a self-signed root (and optionally an issuing intermediate).
#[derive(Debug, Args)]
#[command(
    after_help = "Writes DIR/root.crt (the org's trust root), DIR/root.key (0600), \
DIR/ca.json and an empty index. Refuses a directory that already holds a CA unless --force, \
which moves the old CA into DIR/archive/TIME/ first.\n\nExamples:\n  covenant ca init --org \
Org1 --suite sm --dir org1-ca\n  covenant ca init --org Org2 --suite intl --key-algorithm \
ed25519 --intermediate --dir org2-ca"
)]
struct InitArgs {
    /// The organisation's name; goes in every certificate's O.
    #[arg(long)]
    org: String,
    /// Algorithm suite: `sm` (SM2/SM3/SM4) or `intl` (ECDSA P-256 or Ed25519, SHA-256, AES-GCM).
    #[arg(long, default_value = "sm")]
    suite: String,
    /// Directory of the CA (created if missing).
    #[arg(long)]
    dir: PathBuf,
    /// Key algorithm for the `intl` suite: `p256` (default) or `ed25519`. `sm` uses `sm2`.
    #[arg(long)]
    key_algorithm: Option<String>,
    /// Also create an intermediate CA; it signs the org's certificates and CRLs while the root
    /// key can be taken offline.
    #[arg(long)]
    intermediate: bool,
    /// Validity of the CA certificates, in days.
    #[arg(long, default_value_t = 3650)]
    days: u32,
    /// Replace an existing CA (the old one is archived, not deleted).
    #[arg(long)]
    force: bool,
}

/// Make a key pair and a certificate for an admin, client or node.
#[derive(Debug, Args)]
#[command(
    after_help = "Writes DIR/identities/NAME/cert.pem (with the intermediate, if any) \
and key.pem (0600), or PREFIX.crt and PREFIX.key with --out. Node certificates name their \
hosts (--host, repeatable; defaults to NAME) and serve for both signing and TLS.\n\nExamples:\n  \
covenant ca issue --dir org1-ca --role admin --name admin\n  covenant ca issue --dir org1-ca \
--role node --name node1 --host node1.org1.example --host 10.0.0.5 --days 730"
)]
struct IssueArgs {
    /// Directory of the CA.
    #[arg(long)]
    dir: PathBuf,
    /// Role: admin, client or node.
    #[arg(long)]
    role: String,
    /// Identity name (CN): letters, digits, '.', '_', '-'.
    #[arg(long)]
    name: String,
    /// Host name or IP address for a node certificate (repeatable).
    #[arg(long = "host")]
    hosts: Vec<String>,
    /// Validity in days (capped at the CA's own expiry).
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// Key algorithm (intl suite: p256 or ed25519); defaults to the CA's.
    #[arg(long)]
    key_algorithm: Option<String>,
    /// Write PREFIX.crt and PREFIX.key instead of DIR/identities/NAME/.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Re-issue a name that already has a valid certificate (old files are kept aside).
    #[arg(long)]
    force: bool,
}

/// Generate a private key and a certificate signing request locally.
#[derive(Debug, Args)]
#[command(
    after_help = "Writes PREFIX.key (0600; keep it) and PREFIX.csr (send it to your \
CA). The CA then runs `covenant ca sign --dir CA --csr PREFIX.csr --role ROLE`.\n\nExample:\n  \
covenant ca csr --suite sm --name alice --out ./alice"
)]
struct CsrArgs {
    /// Algorithm suite of the chain the key will sign on: sm or intl.
    #[arg(long)]
    suite: String,
    /// Name (CN) to request.
    #[arg(long)]
    name: String,
    /// Path prefix of the files to write.
    #[arg(long)]
    out: PathBuf,
    /// Host name or IP address to request (node certificates; repeatable).
    #[arg(long = "host")]
    hosts: Vec<String>,
    /// Key algorithm (intl suite: p256 or ed25519).
    #[arg(long)]
    key_algorithm: Option<String>,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

/// Sign a member's CSR after checking its proof of possession.
#[derive(Debug, Args)]
#[command(
    after_help = "The common name comes from the CSR; the org and role come from the \
CA. Writes the certificate next to the CSR (NAME.csr -> NAME.crt) unless --out.\n\nExample:\n  \
covenant ca sign --dir org1-ca --csr alice.csr --role client"
)]
struct SignArgs {
    /// Directory of the CA.
    #[arg(long)]
    dir: PathBuf,
    /// The CSR file (PEM or DER).
    #[arg(long)]
    csr: PathBuf,
    /// Role: admin, client or node.
    #[arg(long)]
    role: String,
    /// Extra host for a node certificate, beyond those the CSR requests (repeatable).
    #[arg(long = "host")]
    hosts: Vec<String>,
    /// Validity in days.
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// Where to write the certificate.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Overwrite an existing output file.
    #[arg(long)]
    force: bool,
}

/// Mark a certificate revoked; publish with `covenant ca crl`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  covenant ca revoke --dir org1-ca --serial 4A1F... --reason \
key-compromise\n  covenant ca crl --dir org1-ca"
)]
struct RevokeArgs {
    /// Directory of the CA.
    #[arg(long)]
    dir: PathBuf,
    /// Serial number in hex (as `ca list` shows it; ':' separators allowed).
    #[arg(long)]
    serial: String,
    /// Reason: unspecified, key-compromise, ca-compromise, affiliation-changed, superseded,
    /// cessation-of-operation, certificate-hold, privilege-withdrawn.
    #[arg(long, default_value = "unspecified")]
    reason: String,
}

/// Publish a signed CRL of every revoked certificate to DIR/crl.pem.
#[derive(Debug, Args)]
struct CrlArgs {
    /// Directory of the CA.
    #[arg(long)]
    dir: PathBuf,
    /// Days until the next CRL is due.
    #[arg(long, default_value_t = 30)]
    days: u32,
}

/// Verify a certificate chain against trust roots, CRLs and the validity period.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status 0 when valid, 3 with the reason when not (unknown_issuer, \
bad_signature, expired, not_yet_valid, revoked, wrong_role, not_a_ca, unsupported_algorithm, \
path_too_long), 1 on errors such as a missing file.\n\nCERT may hold the chain (leaf first); \
intermediates can also come from --intermediate.\n\nExamples:\n  covenant ca verify --trust \
org1-ca/root.crt --crl org1-ca/crl.pem node1.crt\n  covenant ca verify --trust-dir org1-ca \
--role admin admin.crt"
)]
struct VerifyArgs {
    /// A trusted root certificate (repeatable).
    #[arg(long = "trust")]
    trust: Vec<PathBuf>,
    /// A directory of trust roots: its root.crt and everything in trusted/ (repeatable).
    #[arg(long = "trust-dir")]
    trust_dirs: Vec<PathBuf>,
    /// A CRL to consult (repeatable); each must be signed by a trusted CA.
    #[arg(long = "crl")]
    crls: Vec<PathBuf>,
    /// An intermediate certificate file (repeatable).
    #[arg(long = "intermediate")]
    intermediates: Vec<PathBuf>,
    /// Require the leaf to carry this role: admin, client or node.
    #[arg(long)]
    role: Option<String>,
    /// Verify at this time (RFC 3339, e.g. 2030-01-01T00:00:00Z) instead of now.
    #[arg(long)]
    at: Option<String>,
    /// The certificate to verify (PEM or DER; PEM may hold the chain).
    cert: PathBuf,
}

/// List the certificates a CA issued, with serial, role, expiry and revocation.
#[derive(Debug, Args)]
struct ListArgs {
    /// Directory of the CA.
    #[arg(long)]
    dir: PathBuf,
}

/// Import an external CA certificate (e.g. a CFCA-style root) as a trust root.
#[derive(Debug, Args)]
#[command(
    after_help = "Checks the certificate can anchor trust (a CA, supported algorithm, \
valid self-signature, in its validity period) and copies it to DIR/trusted/. Then `ca verify \
--trust-dir DIR` accepts certificates it issued.\n\nExample:\n  covenant ca import --dir org1-ca \
cfca-sm2-root.crt"
)]
struct ImportArgs {
    /// A CA directory or any trust directory (created if missing).
    #[arg(long)]
    dir: PathBuf,
    /// The CA certificate to import.
    cert: PathBuf,
}

fn suite_arg(s: &str) -> Result<Suite> {
    Ok(s.parse::<Suite>()?)
}

fn key_algorithm_arg(s: Option<&str>) -> Result<Option<KeyAlgorithm>> {
    s.map(|s| s.parse::<KeyAlgorithm>())
        .transpose()
        .map_err(Into::into)
}

fn hosts_arg(hosts: &[String]) -> Result<Vec<Host>> {
    hosts.iter().map(|h| Ok(h.parse::<Host>()?)).collect()
}

fn show(p: &Path) -> String {
    p.display().to_string()
}

pub fn run(cmd: CaCommand, format: Format) -> Result<u8> {
    match cmd.command {
        CaSub::Init(a) => init(a, format),
        CaSub::Issue(a) => issue(a, format),
        CaSub::Csr(a) => csr(a, format),
        CaSub::Sign(a) => sign(a, format),
        CaSub::Revoke(a) => revoke(a, format),
        CaSub::Crl(a) => crl(a, format),
        CaSub::Verify(a) => verify(a, format),
        CaSub::List(a) => list(a, format),
        CaSub::Import(a) => import(a, format),
    }
    .map(|rejected| if rejected { EXIT_REJECTED } else { 0 })
}

fn init(a: InitArgs, format: Format) -> Result<bool> {
    let suite = suite_arg(&a.suite)?;
    let key_algorithm = key_algorithm_arg(a.key_algorithm.as_deref())?;
    let out = CertificateAuthority::init(
        &a.dir,
        &InitOptions {
            org: a.org,
            suite,
            key_algorithm,
            intermediate: a.intermediate,
            days: a.days,
            force: a.force,
        },
    )
    .with_context(|| format!("cannot create a CA in {}", a.dir.display()))?;
    emit(format, &out, || {
        let mut t = format!(
            "Created the CA of {} (suite {}, {} keys) in {}\n  root certificate  {}  (serial {}, valid until {})\n  root key          {}  (mode 0600)\n",
            out.org,
            out.suite,
            out.key_algorithm,
            a.dir.display(),
            show(&out.root_cert),
            out.serial,
            out.not_after,
            show(&out.key)
        );
        if let (Some(c), Some(k)) = (&out.intermediate_cert, &out.intermediate_key) {
            t.push_str(&format!(
                "  issuing CA        {}\n  issuing key       {}  (mode 0600)\n",
                show(c),
                show(k)
            ));
        }
        if let Some(archived) = &out.archived {
            t.push_str(&format!("  previous CA moved to {}\n", show(archived)));
        }
        t.push_str(&format!(
            "Next: covenant ca issue --dir {} --role admin --name admin",
            a.dir.display()
        ));
        t
    })?;
    Ok(false)
}

fn issue(a: IssueArgs, format: Format) -> Result<bool> {
    let role = Role::parse_end_entity(&a.role)?;
    validate_name(&a.name)?;
    let hosts = hosts_arg(&a.hosts)?;
    let key_algorithm = key_algorithm_arg(a.key_algorithm.as_deref())?;
    let mut ca = CertificateAuthority::open(&a.dir)?;
    let out = ca
        .issue(&IssueOptions {
            role,
            name: a.name.clone(),
            hosts,
            days: a.days,
            key_algorithm,
            out: a.out,
            force: a.force,
        })
        .with_context(|| format!("cannot issue a {role} certificate for {}", a.name))?;
    emit(format, &out, || {
        format!(
            "Issued a {} certificate for {} (serial {}, valid until {})\n  cert  {}\n  key   {}  (mode 0600)",
            out.role,
            out.name,
            out.serial,
            out.not_after,
            show(&out.cert),
            show(&out.key)
        )
    })?;
    Ok(false)
}

#[derive(Serialize)]
struct CsrOut {
    csr: PathBuf,
    key: PathBuf,
    name: String,
    key_algorithm: KeyAlgorithm,
}

fn csr(a: CsrArgs, format: Format) -> Result<bool> {
    let suite = suite_arg(&a.suite)?;
    let alg =
        key_algorithm_arg(a.key_algorithm.as_deref())?.unwrap_or(suite.default_key_algorithm());
    suite.check_key_algorithm(alg)?;
    if a.name.trim().is_empty()
        || a.name.chars().count() > 64
        || a.name.chars().any(char::is_control)
    {
        return Err(covenant_pki::PkiError::InvalidName(a.name).into());
    }
    let hosts = hosts_arg(&a.hosts)?;
    let prefix = a.out.display().to_string();
    let key_path = PathBuf::from(format!("{prefix}.key"));
    let csr_path = PathBuf::from(format!("{prefix}.csr"));
    if !a.force {
        for p in [&key_path, &csr_path] {
            if p.exists() {
                return Err(covenant_pki::PkiError::FileExists { path: p.clone() }.into());
            }
        }
    }
    let key = PrivateKey::generate(alg)?;
    let request = Csr::create(&key, &a.name, &hosts)?;
    if let Some(parent) = key_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        files::create_private_dir(parent)?;
    }
    files::write_new(
        &key_path,
        key.to_pkcs8_pem()?.as_bytes(),
        PRIVATE_MODE,
        a.force,
    )?;
    files::write_new(
        &csr_path,
        request.to_pem()?.as_bytes(),
        PUBLIC_MODE,
        a.force,
    )?;
    let out = CsrOut {
        csr: csr_path,
        key: key_path,
        name: a.name,
        key_algorithm: alg,
    };
    emit(format, &out, || {
        format!(
            "Wrote a {} key and a CSR for {}\n  key  {}  (mode 0600; keep it)\n  csr  {}\nSend the CSR to your CA: covenant ca sign --dir CA --csr {} --role ROLE",
            out.key_algorithm,
            out.name,
            show(&out.key),
            show(&out.csr),
            show(&out.csr)
        )
    })?;
    Ok(false)
}

fn sign(a: SignArgs, format: Format) -> Result<bool> {
    let role = Role::parse_end_entity(&a.role)?;
    let hosts = hosts_arg(&a.hosts)?;
    let request = Csr::load(&a.csr)?;
    let out_path = a.out.unwrap_or_else(|| a.csr.with_extension("crt"));
    let mut ca = CertificateAuthority::open(&a.dir)?;
    let out = ca
        .sign_csr(
            &request,
            &SignOptions {
                role,
                hosts,
                days: a.days,
                out: out_path,
                force: a.force,
            },
        )
        .with_context(|| format!("cannot sign {}", a.csr.display()))?;
    emit(format, &out, || {
        format!(
            "Signed {} as {} (serial {}, valid until {})\n  cert  {}",
            out.name,
            out.role,
            out.serial,
            out.not_after,
            show(&out.cert)
        )
    })?;
    Ok(false)
}

fn revoke(a: RevokeArgs, format: Format) -> Result<bool> {
    let reason: RevocationReason = a.reason.parse()?;
    let mut ca = CertificateAuthority::open(&a.dir)?;
    let record = ca.revoke(&a.serial, reason)?;
    let revoked_at = record.revoked.as_ref().map(|r| r.at.clone());
    emit(
        format,
        &json!({
            "serial": record.serial,
            "name": record.name,
            "role": record.role,
            "revoked_at": revoked_at,
            "reason": reason,
        }),
        || {
            format!(
                "Revoked {} ({} {}), reason {}\nPublish the CRL: covenant ca crl --dir {}",
                record.serial,
                record.role,
                record.name,
                reason,
                a.dir.display()
            )
        },
    )?;
    Ok(false)
}

fn crl(a: CrlArgs, format: Format) -> Result<bool> {
    let mut ca = CertificateAuthority::open(&a.dir)?;
    let out = ca.write_crl(a.days)?;
    emit(format, &out, || {
        format!(
            "Wrote CRL #{} listing {} revoked certificate(s) to {} (next update {})",
            out.crl_number,
            out.revoked,
            show(&out.crl),
            out.next_update
        )
    })?;
    Ok(false)
}

#[derive(Serialize)]
struct VerifyOut {
    valid: bool,
    reason: Option<&'static str>,
    detail: Option<String>,
    subject: String,
    serial: String,
    role: Option<Role>,
    not_after: String,
    chain: Vec<String>,
}

fn verify(a: VerifyArgs, format: Format) -> Result<bool> {
    if a.trust.is_empty() && a.trust_dirs.is_empty() {
        return Err(Failure::new(
            "INVALID_ARGUMENT",
            "give at least one trust root with --trust FILE or --trust-dir DIR",
        )
        .into());
    }
    let role = a.role.as_deref().map(Role::parse_end_entity).transpose()?;
    let at = a.at.as_deref().map(parse_time).transpose()?;
    let mut store = TrustStore::new();
    for path in &a.trust {
        for cert in Certificate::load_chain(path)? {
            store.add_anchor(cert);
        }
    }
    for dir in &a.trust_dirs {
        for cert in trust_roots_in(dir)? {
            store.add_anchor(cert);
        }
    }
    let mut chain = Certificate::load_chain(&a.cert)?;
    let leaf = chain.remove(0);
    for path in &a.intermediates {
        chain.extend(Certificate::load_chain(path)?);
    }
    for path in &a.crls {
        store.add_crl(Crl::load(path)?);
    }
    store.check_crls(&chain)?;
    let mut options = VerifyOptions {
        role,
        ..Default::default()
    };
    if let Some(at) = at {
        options.at = at;
    }
    let result = store.verify(&leaf, &chain, &options);
    let out = VerifyOut {
        valid: result.is_ok(),
        reason: result.as_ref().err().map(|r| r.reason()),
        detail: result.as_ref().err().map(|r| r.to_string()),
        subject: leaf.subject_string(),
        serial: leaf.serial_hex(),
        role: leaf.role(),
        not_after: format_time(leaf.not_after()),
        chain: result
            .as_ref()
            .map(|c| c.certificates.iter().map(|c| c.subject_string()).collect())
            .unwrap_or_default(),
    };
    emit(format, &out, || match &result {
        Ok(_) => format!(
            "valid: {} (role {}, serial {}, until {})\n  chain: {}",
            out.subject,
            out.role.map(|r| r.name()).unwrap_or("none"),
            out.serial,
            out.not_after,
            out.chain.join(" <- ")
        ),
        Err(r) => format!("invalid ({}): {}", r.reason(), r),
    })?;
    Ok(result.is_err())
}

fn list(a: ListArgs, format: Format) -> Result<bool> {
    let ca = CertificateAuthority::open(&a.dir)?;
    let config = ca.config();
    let records = ca.list();
    emit(
        format,
        &json!({
            "org": config.org,
            "suite": config.suite,
            "root_cert": ca.root_cert_path(),
            "certificates": records,
        }),
        || {
            let mut t = format!(
                "CA of {} (suite {}), {} certificate(s)\n",
                config.org,
                config.suite,
                records.len()
            );
            if !records.is_empty() {
                t.push_str(&format!(
                    "{:<32}  {:<6}  {:<20}  {:<20}  STATUS\n",
                    "SERIAL", "ROLE", "NAME", "EXPIRES"
                ));
            }
            for r in records {
                let status = match &r.revoked {
                    Some(rev) => format!("revoked {} ({})", rev.at, rev.reason),
                    None => "valid".to_string(),
                };
                t.push_str(&format!(
                    "{:<32}  {:<6}  {:<20}  {:<20}  {}\n",
                    r.serial,
                    r.role.name(),
                    r.name,
                    r.not_after,
                    status
                ));
            }
            t
        },
    )?;
    Ok(false)
}

fn import(a: ImportArgs, format: Format) -> Result<bool> {
    let out = import_trust_root(&a.dir, &a.cert)
        .with_context(|| format!("cannot import {}", a.cert.display()))?;
    emit(format, &out, || {
        format!(
            "Imported trust root {}\n  sha256 {}\n  saved to {} (valid until {})",
            out.subject,
            out.fingerprint,
            show(&out.trust_root),
            out.not_after
        )
    })?;
    Ok(false)
}
