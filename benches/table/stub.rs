//! The local provider stub every figure talks to: Razorpay's `GET /v1/invoices/{id}` with a real fixture, on
//! its own runtime thread so the measuring client never shares a scheduler with it.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;
use axum::serve::ListenerExt;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const INVOICE_ID: &str = "inv_SBk3vL9qTm2XaP";
const INVOICE: &str = include_str!("../../tests/fixtures/razorpay/invoice_issued.json");

pub struct Stub {
    pub addr: SocketAddr,
    stop: CancellationToken,
    thread: Option<JoinHandle<()>>,
}

impl Stub {
    /// Serve on 127.0.0.1 with one worker thread.
    pub fn start() -> anyhow::Result<Stub> {
        let (tx, rx) = mpsc::channel();
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let thread = std::thread::Builder::new().name("stub".into()).spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(anyhow::anyhow!("stub runtime: {e}")));
                    return;
                }
            };
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = tx.send(Err(anyhow::anyhow!("stub bind: {e}")));
                        return;
                    }
                };
                let _ = tx.send(listener.local_addr().map_err(anyhow::Error::from));
                let app = Router::new().route(
                    "/v1/invoices/{id}",
                    get(|axum::extract::Path(id): axum::extract::Path<String>| async move {
                        if id == INVOICE_ID {
                            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], INVOICE)
                        } else {
                            (
                                StatusCode::BAD_REQUEST,
                                [(header::CONTENT_TYPE, "application/json")],
                                r#"{"error":{"code":"BAD_REQUEST_ERROR","description":"The id provided does not exist"}}"#,
                            )
                        }
                    }),
                );
                // Not a graceful shutdown: idle keep-alive connections would hold it open. Dropping the runtime
                // ends every connection task.
                tokio::select! {
                    _ = axum::serve(listener.tap_io(|tcp| { let _ = tcp.set_nodelay(true); }), app) => {}
                    _ = stopped.cancelled() => {}
                }
            });
        })?;
        let addr = rx.recv_timeout(std::time::Duration::from_secs(10))??;
        Ok(Stub { addr, stop, thread: Some(thread) })
    }

    pub fn invoice_url(&self) -> String {
        format!("http://{}/v1/invoices/{INVOICE_ID}", self.addr)
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
