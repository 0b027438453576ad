//! A target started in-process with `target_node::run_on` on listeners the test bound
//! itself: real sockets, real files, no binary to spawn. Where a test needs no process of
//! its own to kill, this is how it starts a node.

use aisnode::config::{TargetArgs, TargetConfig};
use aisnode::http::Listeners;
use clap::Parser;
use tokio::net::TcpListener;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    target: TargetArgs,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_started_in_process_stores_and_serves_an_object() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mountpath = dir.path().join("mp");
    std::fs::create_dir(&mountpath).expect("mountpath");
    let public = TcpListener::bind("127.0.0.1:0").await.expect("public port");
    let intra = TcpListener::bind("127.0.0.1:0").await.expect("intra port");
    let url = format!("http://{}", public.local_addr().expect("address"));
    let mp = mountpath.to_str().expect("a UTF-8 path");
    let cli = Cli::parse_from([
        "target",
        "--host",
        "127.0.0.1",
        "--mountpath",
        mp,
        "--io-engine",
        "psync",
        "--allow-shared-fs",
    ]);
    let cfg = TargetConfig::from_args(cli.target).expect("config");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let node = tokio::spawn(aisnode::target_node::run_on(
        Listeners { public, intra },
        cfg,
        async move {
            let _ = stopped.await;
        },
    ));

    let client = reqwest_like::Client::new();
    client.wait_ready(&url).await;
    client
        .post_json(&format!("{url}/v1/buckets/b"), r#"{"action":"create-bck"}"#)
        .await;
    client
        .put(&format!("{url}/v1/objects/b/o"), b"in process")
        .await;
    assert_eq!(
        client.get(&format!("{url}/v1/objects/b/o")).await,
        b"in process"
    );
    // On disk, where the store put it.
    assert!(mountpath.join("@ais/b/%ob/o").is_file());

    let _ = stop.send(());
    node.await.expect("no panic").expect("a clean stop");
}

/// A few blocking ureq calls, run off the runtime's threads.
mod reqwest_like {
    pub struct Client(ureq::Agent);

    impl Client {
        pub fn new() -> Client {
            Client(ureq::Agent::new())
        }

        async fn call<T: Send + 'static>(
            &self,
            f: impl FnOnce(ureq::Agent) -> T + Send + 'static,
        ) -> T {
            let agent = self.0.clone();
            tokio::task::spawn_blocking(move || f(agent))
                .await
                .expect("no panic")
        }

        pub async fn wait_ready(&self, url: &str) {
            let u = format!("{url}/v1/health");
            for _ in 0..100 {
                let u = u.clone();
                if self.call(move |a| a.get(&u).call().is_ok()).await {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("the in-process target never answered {u}");
        }

        pub async fn post_json(&self, url: &str, body: &'static str) {
            let u = url.to_string();
            self.call(move |a| {
                a.post(&u)
                    .set("Content-Type", "application/json")
                    .send_string(body)
                    .map(drop)
                    .map_err(|e| e.to_string())
            })
            .await
            .expect("POST");
        }

        pub async fn put(&self, url: &str, body: &'static [u8]) {
            let u = url.to_string();
            self.call(move |a| {
                a.put(&u)
                    .send_bytes(body)
                    .map(drop)
                    .map_err(|e| e.to_string())
            })
            .await
            .expect("PUT");
        }

        pub async fn get(&self, url: &str) -> Vec<u8> {
            let u = url.to_string();
            self.call(move |a| {
                let mut out = Vec::new();
                std::io::Read::read_to_end(
                    &mut a.get(&u).call().expect("GET").into_reader(),
                    &mut out,
                )
                .expect("body");
                out
            })
            .await
        }
    }
}
