//! cuttle's benchmarks: the load generators behind `cuttle bench`.
//!
//! Each module measures one layer against a real instance of it and returns
//! a serialisable report that renders as a text table or one line of JSON.
//! [`store`] drives the key-value store (embedded SQLite or etcd) with
//! concurrent clients; [`api`] drives an apiserver (cuttle's, in-process,
//! or any Kubernetes apiserver through a kubeconfig) with Kubernetes
//! clients; [`scheduler`] measures a scheduler end to end through an
//! apiserver with hollow nodes; [`stats`] holds the small statistics they share.

pub mod api;
mod cluster;
mod drive;
mod raw;
pub mod scheduler;
pub mod stats;
pub mod store;
mod table;
