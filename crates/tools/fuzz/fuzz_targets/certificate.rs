//! Certificates, CRLs and CSRs as they arrive from outside (an upload, a transaction, a
//! peer's TLS handshake), DER and PEM; a certificate that parses is read as the node reads
//! it (role, names, key).
#![no_main]

use covenant_pki::{Certificate, Crl, Csr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = Certificate::from_der(data.to_vec(), "fuzz") {
        let _ = cert.role();
        let _ = cert.organization();
        let _ = cert.subject_string();
        let _ = cert.subject_key_id();
        let _ = cert.public_key();
    }
    let _ = Crl::from_der(data.to_vec(), "fuzz");
    let _ = Csr::from_der(data.to_vec(), "fuzz");
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Certificate::from_pem(text, "fuzz");
        let _ = Crl::from_pem(text, "fuzz");
        let _ = Csr::from_pem(text, "fuzz");
    }
});
