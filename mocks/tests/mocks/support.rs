//! Helpers shared by the test modules.

use authconform_mocks::{TestCa, tls};

/// A plain-HTTP client that does not follow redirects.
pub fn http() -> reqwest::Client {
    tls::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("building a reqwest client")
}

/// A client trusting only `ca`, not following redirects.
pub fn https(ca: &TestCa) -> reqwest::Client {
    tls::install_crypto_provider();
    let cert = reqwest::Certificate::from_pem(ca.ca_pem().as_bytes()).expect("CA PEM");
    reqwest::Client::builder()
        .tls_certs_only([cert])
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("building a reqwest client")
}
