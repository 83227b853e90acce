//! The vmafx worker node: registers with the controller, heartbeats, claims jobs up to its
//! capacity, fetches each job's inputs (OpenDAL or rclone), scores them with the engine and
//! reports progress and results under the job's lease. It also serves `/healthz` and `/ready`.

mod config;
mod execute;
mod health;
mod worker;

pub use config::{cpu_description, served_backend, NodeConfig, SERVED_BACKENDS};
pub use execute::{execute, ExecuteError, Executed, JobControl};
pub use worker::{run, NodeError, NodeHandle};
