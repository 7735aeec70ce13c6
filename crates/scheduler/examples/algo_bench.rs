//! Runs the scheduler's algorithm benchmark, as `cuttle bench scheduler --mode algorithm` will:
//!
//! ```text
//! cargo run --release -p cuttle-scheduler --example algo_bench -- \
//!     --nodes 5000 --pods 10000 [--policy worst|best|hybrid] [--no-equivalence] \
//!     [--no-score-cache] [--no-sampling] [--workload basic|mixed|affinity|anti-affinity|node-affinity|spread|preemption] \
//!     [--seed S] [--json]
//! ```

use cuttle_scheduler::bench::{run_algorithm_bench, AlgorithmBenchOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut opts = AlgorithmBenchOptions::default();
    let mut json = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--mode" => {
                let m = value()?;
                if m != "algorithm" {
                    return Err(format!("only --mode algorithm is implemented, got {m}").into());
                }
            }
            "--nodes" => opts.nodes = value()?.parse()?,
            "--pods" => opts.pods = value()?.parse()?,
            "--policy" => opts.policy = value()?.parse()?,
            "--workload" => opts.workload = value()?.parse()?,
            "--seed" => opts.seed = value()?.parse()?,
            "--no-equivalence" => opts.equivalence = false,
            "--no-score-cache" => opts.score_cache = false,
            "--no-sampling" => opts.sampling = false,
            "--json" => json = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let report = run_algorithm_bench(&opts)?;
    if json {
        println!("{}", report.to_json()?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}
