//! Accept loop: one tokio task per connection, HTTP/1.1 keep-alive, header read timeout,
//! a limit on open connections (beyond it: 503 and close), a send timeout (a client that
//! stops reading is dropped and its buffers return), and graceful shutdown that lets
//! in-flight requests finish within a deadline.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Sleep;

use super::Body;

/// Largest read buffer of a connection.
const READ_BUF_MAX: usize = 64 << 10;

/// Connection-level settings.
#[derive(Debug, Clone, Copy)]
pub struct ServeConfig {
    /// How long a client may take to send a request's headers.
    pub header_read_timeout: Duration,
    /// How long in-flight requests get after shutdown starts.
    pub drain_timeout: Duration,
    /// How long a write to the client may make no progress.
    pub send_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Threads serving the public port, each with its own single-threaded runtime
    /// accepting from the same socket (0: the node's shared runtime serves it).
    pub public_threads: usize,
    /// How long both listeners keep answering after readiness turns 503, so load
    /// balancers notice before they close.
    pub stop_grace: Duration,
}

/// The client's address, in every request's extensions (for logs of who did what).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// Who sent `req`: the signing node's ID and address, or the client's address.
pub fn caller<B>(req: &Request<B>) -> String {
    let addr = req
        .extensions()
        .get::<PeerAddr>()
        .map_or_else(|| "?".to_string(), |p| p.0.to_string());
    match req.extensions().get::<crate::cluster::intra_auth::Signed>() {
        Some(s) => format!("node {} at {addr}", s.caller),
        None => addr,
    }
}

/// The answer to a connection beyond the limit.
const TOO_MANY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 67\r\n\r\n{\"message\":\"too many connections to this node, retry\",\"status\":503}";

/// Serves `handler` on `listener` until `shutdown` resolves, then drains.
/// `on_reject` is called for every connection turned away at the limit.
pub async fn serve<H, F>(
    listener: TcpListener,
    handler: H,
    cfg: ServeConfig,
    on_reject: impl Fn() + Send + 'static,
    shutdown: impl Future<Output = ()>,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(cfg.max_connections));
    serve_with(listener, handler, cfg, slots, on_reject, shutdown).await
}

/// [`serve`] with the connection slots given (shared by several accept loops).
async fn serve_with<H, F>(
    listener: TcpListener,
    handler: H,
    cfg: ServeConfig,
    slots: Arc<Semaphore>,
    on_reject: impl Fn() + Send + 'static,
    shutdown: impl Future<Output = ()>,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(cfg.header_read_timeout)
        // hyper's default read buffer grows to ~400 KiB per connection; with hundreds of
        // uploads in flight that alone is 100+ MiB. 64 KiB reads cost nothing measurable.
        .max_buf_size(READ_BUF_MAX)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            on_reject();
            tokio::spawn(turn_away(stream));
            continue;
        };
        let handler = handler.clone();
        let service = service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(PeerAddr(peer));
            let fut = handler(req);
            async move { Ok::<_, Infallible>(fut.await) }
        });
        let io = SendTimeout::new(stream, cfg.send_timeout);
        let conn = builder.serve_connection(TokioIo::new(io), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(cfg.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(timeout = ?cfg.drain_timeout, "in-flight requests did not finish in time");
    }
}

/// Serves `listener` on `threads` OS threads, each running its own single-threaded
/// runtime that accepts from the same socket: a connection's requests are read, handled
/// and answered on the thread that accepted it, with no hand-off between threads (as
/// nginx's workers do). Returns when every thread has drained.
async fn serve_per_thread<H, F>(
    listener: TcpListener,
    threads: usize,
    handler: H,
    cfg: ServeConfig,
    on_reject: impl Fn() + Clone + Send + 'static,
    stopped: tokio::sync::watch::Receiver<bool>,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let std_listener = match listener.into_std() {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "cannot hand the listener to the serving threads");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(cfg.max_connections));
    let mut done = Vec::new();
    for i in 0..threads.max(1) {
        let Ok(socket) = std_listener.try_clone() else {
            tracing::error!("cannot share the listener with serving thread {i}");
            break;
        };
        let (handler, slots, on_reject) = (handler.clone(), slots.clone(), on_reject.clone());
        let mut stopped = stopped.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name(format!("serve-{i}"))
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(error = %e, "serving thread: no runtime");
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(socket) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!(error = %e, "serving thread: listener");
                            return;
                        }
                    };
                    let stop = async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    };
                    serve_with(listener, handler, cfg, slots, on_reject, stop).await;
                });
                let _ = tx.send(());
            });
        match spawned {
            Ok(_) => done.push(rx),
            Err(e) => tracing::error!(error = %e, "cannot start serving thread {i}"),
        }
    }
    for rx in done {
        let _ = rx.await;
    }
}

/// Binds `addr`; returns the listener and the address it got (a port 0 resolved).
pub async fn bind(
    addr: std::net::SocketAddr,
) -> std::io::Result<(TcpListener, std::net::SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// A node's two listeners: clients' and other nodes'.
pub struct Listeners {
    /// The public port.
    pub public: TcpListener,
    /// The intra-cluster port.
    pub intra: TcpListener,
}

/// Serves both listeners with `handler` (told which one a request came on) until
/// `shutdown` resolves; then `ready` turns false (readiness 503), both keep answering
/// for `cfg.stop_grace` so load balancers notice, then stop accepting and drain.
pub async fn serve_node<H, F>(
    listeners: Listeners,
    handler: H,
    cfg: ServeConfig,
    rejected: prometheus::IntCounter,
    ready: &std::sync::atomic::AtomicBool,
    shutdown: impl Future<Output = ()>,
) where
    H: Fn(super::Plane, Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopping = async move {
        shutdown.await;
        ready.store(false, std::sync::atomic::Ordering::Release);
        tracing::info!("shutting down: readiness is now 503, draining in-flight requests");
        tokio::time::sleep(cfg.stop_grace).await;
        let _ = stop_tx.send(true);
    };
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let plane = |plane: super::Plane| {
        let (handler, rejected) = (handler.clone(), rejected.clone());
        (move |req| handler(plane, req), move || rejected.inc())
    };
    let (public, public_rejected) = plane(super::Plane::Public);
    let (intra, intra_rejected) = plane(super::Plane::Intra);
    let public = async {
        if cfg.public_threads > 0 {
            let on_reject = {
                let rejected = rejected.clone();
                move || rejected.inc()
            };
            serve_per_thread(
                listeners.public,
                cfg.public_threads,
                public,
                cfg,
                on_reject,
                stop_rx.clone(),
            )
            .await
        } else {
            serve(
                listeners.public,
                public,
                cfg,
                public_rejected,
                stopped(stop_rx.clone()),
            )
            .await
        }
    };
    tokio::join!(
        public,
        serve(
            listeners.intra,
            intra,
            cfg,
            intra_rejected,
            stopped(stop_rx.clone())
        ),
        stopping,
    );
}

/// Answers 503 to a connection beyond the limit, without reading its request.
async fn turn_away(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(TOO_MANY).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// A socket whose writes fail with `TimedOut` after making no progress for `limit`: a
/// client that stops reading its response loses the connection instead of holding it
/// (and the buffers queued for it) forever.
struct SendTimeout {
    inner: TcpStream,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl SendTimeout {
    fn new(inner: TcpStream, limit: Duration) -> SendTimeout {
        SendTimeout {
            inner,
            limit,
            stalled: None,
        }
    }

    /// Tracks a write's outcome: progress clears the timer; `Pending` starts or checks it.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let limit = self.limit;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("client read nothing for {limit:?}"),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for SendTimeout {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SendTimeout {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
