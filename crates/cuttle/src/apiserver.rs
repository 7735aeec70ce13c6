//! `cuttle apiserver`: the Kubernetes API over the store. Flags follow
//! kube-apiserver's where one exists.

use anyhow::Context;
use clap::Args;
use cuttle_apiserver::allocators::{Ipv4Cidr, PortRange};
use cuttle_apiserver::{start, ApiServerConfig, Running, ServiceNetwork};
use std::net::IpAddr;
use std::path::PathBuf;

/// Flags of `cuttle apiserver`.
#[derive(Debug, Args)]
pub struct ApiServerArgs {
    /// Where the embedded store, the certificates and the admin kubeconfig
    /// (`kubeconfig.yaml`) live.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/cuttle/server")]
    data_dir: PathBuf,

    /// The port to serve HTTPS on (0 picks a free one).
    #[arg(long, value_name = "PORT", default_value_t = 6443)]
    secure_port: u16,

    /// The address to listen on.
    #[arg(long, value_name = "IP", default_value = "0.0.0.0")]
    bind_address: IpAddr,

    /// An etcd cluster to keep state in instead of the embedded store:
    /// comma-separated `http://host:port` (or `etcd://host:port`) URLs.
    #[arg(long, value_name = "URLS", value_parser = parse_etcd_servers)]
    etcd_servers: Option<String>,

    /// The CIDR Services get cluster IPs from; its first address is the
    /// `kubernetes` service's.
    #[arg(long, value_name = "CIDR", default_value = "10.96.0.0/12")]
    service_cluster_ip_range: Ipv4Cidr,

    /// The ports NodePort and LoadBalancer Services get node ports from.
    #[arg(long, value_name = "FIRST-LAST", default_value = "30000-32767")]
    service_node_port_range: PortRange,

    /// How long Events are kept after their last write, as a Go duration
    /// (`1h0m0s`, `90m`, `30s`); 0 keeps them for good.
    #[arg(long, value_name = "DURATION", default_value = "1h0m0s", value_parser = parse_go_duration)]
    event_ttl: std::time::Duration,
}

/// `--event-ttl`'s value: a Go duration, as kube-apiserver takes it.
fn parse_go_duration(s: &str) -> Result<std::time::Duration, String> {
    cuttle_scheduler::config::parse_go_duration(s)
        .ok_or_else(|| format!("{s:?} is not a duration such as 1h0m0s, 90m or 30s"))
}

/// Accepts kube-apiserver's `http://a:2379,http://b:2379` and cuttle's
/// `etcd://a:2379,b:2379`; returns cuttle's form.
fn parse_etcd_servers(s: &str) -> Result<String, String> {
    let mut hosts = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let host = part
            .strip_prefix("etcd://")
            .or_else(|| part.strip_prefix("http://"))
            .unwrap_or(part);
        if part.starts_with("https://") {
            return Err("TLS to etcd is not supported yet: use http:// endpoints".into());
        }
        if host.is_empty() || host.contains('/') {
            return Err(format!("{part:?} is not an etcd endpoint (host:port)"));
        }
        hosts.push(host.to_owned());
    }
    if hosts.is_empty() {
        return Err("no etcd endpoint given".into());
    }
    Ok(format!("etcd://{}", hosts.join(",")))
}

/// Starts the apiserver these flags describe (`cuttle apiserver`, and the
/// apiserver inside `cuttle server`).
pub async fn start_from(args: &ApiServerArgs) -> anyhow::Result<Running> {
    start(ApiServerConfig {
        data_dir: args.data_dir.clone(),
        etcd_servers: args.etcd_servers.clone(),
        bind_address: args.bind_address,
        secure_port: args.secure_port,
        service_network: ServiceNetwork {
            cluster_ip_range: args.service_cluster_ip_range,
            node_port_range: args.service_node_port_range,
        },
        event_ttl: args.event_ttl,
    })
    .await
    .with_context(|| {
        format!(
            "starting the apiserver with data directory {}",
            args.data_dir.display()
        )
    })
}

/// Runs the apiserver until SIGINT or SIGTERM.
pub async fn run(args: ApiServerArgs) -> anyhow::Result<()> {
    let running = start_from(&args).await?;
    eprintln!(
        "cuttle apiserver serving on {}; admin kubeconfig: {}",
        running.url(),
        running.kubeconfig.display()
    );
    crate::signals::shutdown().await?;
    tracing::info!("shutting down");
    running.stop().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{parse_etcd_servers, parse_go_duration};
    use std::time::Duration;

    #[test]
    fn go_durations() {
        assert_eq!(
            parse_go_duration("1h0m0s").unwrap(),
            Duration::from_secs(3600)
        );
        assert_eq!(parse_go_duration("90m").unwrap(), Duration::from_secs(5400));
        assert_eq!(
            parse_go_duration("1.5h").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_go_duration("2m30s").unwrap(),
            Duration::from_secs(150)
        );
        assert_eq!(
            parse_go_duration("1h1h").unwrap(),
            Duration::from_secs(7200)
        );
        assert_eq!(parse_go_duration("+1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_go_duration("0s").unwrap(), Duration::ZERO);
        assert_eq!(
            parse_go_duration("500ms").unwrap(),
            Duration::from_millis(500)
        );
        for bad in [
            "",
            "10",
            "1x",
            "h",
            "-1h",
            " 1h",
            "1e3s",
            "1h ",
            "99999999999h",
        ] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn etcd_servers_in_both_forms() {
        assert_eq!(
            parse_etcd_servers("http://127.0.0.1:2379").unwrap(),
            "etcd://127.0.0.1:2379"
        );
        assert_eq!(
            parse_etcd_servers("etcd://a:1,b:2").unwrap(),
            "etcd://a:1,b:2"
        );
        assert_eq!(
            parse_etcd_servers("http://a:1, http://b:2").unwrap(),
            "etcd://a:1,b:2"
        );
        assert!(parse_etcd_servers("https://a:1").is_err());
        assert!(parse_etcd_servers("").is_err());
    }
}
