//! TLS server configuration: rustls 0.23 with the ring provider, TLS 1.2 and 1.3 only, no
//! 0-RTT, certificate chain and key read as PEM through rustls-pki-types.
//!
//! The certificate sits behind a [`CertStore`] resolver so SIGHUP can swap in a renewed one:
//! new handshakes get the new certificate, established connections keep their session.

use std::path::Path;
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    reloadable_server_config(cert, key).map(|(cfg, _)| cfg)
}

/// A server configuration and the handle that replaces its certificate later.
pub fn reloadable_server_config(
    cert: &Path,
    key: &Path,
) -> Result<(Arc<rustls::ServerConfig>, Arc<CertStore>), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let store = Arc::new(CertStore { current: RwLock::new(Arc::new(load(&provider, cert, key)?)), provider });
    let mut cfg = rustls::ServerConfig::builder_with_provider(store.provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(store.clone());
    // 0-RTT data is replayable; TAXII POSTs must not be.
    cfg.max_early_data_size = 0;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(cfg), store))
}

/// The certificate chain and key every new handshake uses.
#[derive(Debug)]
pub struct CertStore {
    current: RwLock<Arc<CertifiedKey>>,
    provider: Arc<CryptoProvider>,
}

impl CertStore {
    /// Reads and checks the files, then swaps them in; on error the old certificate stays.
    pub fn replace(&self, cert: &Path, key: &Path) -> Result<(), String> {
        let new = Arc::new(load(&self.provider, cert, key)?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = new;
        Ok(())
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

fn load(provider: &CryptoProvider, cert: &Path, key: &Path) -> Result<CertifiedKey, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("tls.certificate {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls.certificate {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("tls.certificate {}: no certificate in the file", cert.display()));
    }
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("tls.private_key {}: {e}", key.display()))?;
    // Also checks that the key belongs to the leaf certificate.
    CertifiedKey::from_der(chain, key, provider).map_err(|e| format!("tls.certificate/tls.private_key: {e}"))
}
