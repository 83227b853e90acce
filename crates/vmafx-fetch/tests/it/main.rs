//! Integration tests against real components on 127.0.0.1: an in-process S3 server (s3s-fs), the
//! rclone binary, an HTTP server, and, when installed, fake-gcs-server and Azurite.

mod common;
mod emulators;
mod fuzz;
mod http;
mod local;
mod policy;
mod rclone;
mod s3;
