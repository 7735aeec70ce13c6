//! cuttle's scheduler: binds each unscheduled pod to the best feasible node.
//!
//! The core is in memory and free of IO: a [`cache`] of nodes and the pods on
//! them, a [`framework`] of tiny extension-point traits with [`plugins`] listed
//! in one [`registry`], a [`queue`] (active, backoff, unschedulable), and
//! [`preemption`]. Borg's three optimisations — [`equivalence`] classes,
//! [`score_cache`] and relaxed randomization ([`sampling`]) — are on by
//! default and can be switched off per profile in the [`config`] file. The
//! [`Scheduler`] ties them together; the [`runner`] feeds it from the API
//! through kube-runtime watches and binds what it decides. [`bench`](mod@bench)
//! measures the core on in-memory clusters.

pub mod bench;
pub mod builders;
pub mod cache;
pub mod config;
pub mod equivalence;
pub mod fit_error;
pub mod framework;
pub mod labels;
pub mod node_info;
pub mod plugins;
pub mod pod_info;
pub mod preemption;
pub mod queue;
pub mod registry;
pub mod resources;
pub mod runner;
pub mod sampling;
pub mod scheduler;
pub mod score_cache;

pub use config::{
    BorgSwitches, ConfigError, KubeSchedulerConfiguration, LeaderElection, LeaderElectionConfig,
};
pub use fit_error::{FitError, Nomination};
pub use pod_info::PodInfo;

pub use scheduler::{ScheduleError, ScheduleResult, Scheduler, Stats};
