//! Integration tests of TLS, mTLS, certificate reloading, the handshake guard and the client
//! channel, against real tonic and axum servers on loopback with throwaway certificates.

mod grpc;
mod handshake;
mod http;
mod pki;
mod server;
mod server_tls;
