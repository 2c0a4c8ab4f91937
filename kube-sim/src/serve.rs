//! HTTPS serving: a listener that completes TLS handshakes concurrently (ALPN `h2` or
//! `http/1.1`) and hands axum each connection with its peer, whose verified client
//! certificate, if any, names a user. A [`Peer`] can abort its connection (fault injection's
//! dropped connections): from then on the connection's reads and writes fail, so hyper closes
//! it without sending another byte.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use futures::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::auth::UserInfo;
use crate::pki;

/// How long a client may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One connection's peer: its address and the user its client certificate names.
#[derive(Clone, Debug)]
pub struct Peer {
    /// Remote address.
    pub addr: SocketAddr,
    /// CN and O of a client certificate verified against kube-sim's CA.
    pub cert_user: Option<UserInfo>,
    /// Aborts the connection.
    pub abort: Arc<Abort>,
}

impl Peer {
    /// Closes the connection now: nothing more is read or written on it (every request
    /// multiplexed on it, HTTP/2 streams included, is cut).
    pub fn abort(&self) {
        self.abort.abort();
    }
}

/// A connection's abort switch.
#[derive(Debug, Default)]
pub struct Abort {
    aborted: AtomicBool,
    /// The connection task, parked in a read, to wake so it sees the abort at once.
    waker: AtomicWaker,
}

impl Abort {
    fn abort(&self) {
        self.aborted.store(true, Ordering::SeqCst);
        self.waker.wake();
    }

    fn check(&self, cx: &Context<'_>) -> Result<(), std::io::Error> {
        self.waker.register(cx.waker());
        if self.aborted.load(Ordering::SeqCst) {
            return Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "aborted by a fault rule"));
        }
        Ok(())
    }
}

/// A TLS connection that fails every read and write once aborted.
pub struct AbortableIo {
    inner: TlsStream<TcpStream>,
    abort: Arc<Abort>,
}

impl AsyncRead for AbortableIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        self.abort.check(cx)?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for AbortableIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.abort.check(cx)?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.abort.check(cx)?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.abort.aborted.load(Ordering::SeqCst) {
            // No TLS close_notify either: the peer sees the connection just end.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// TLS connections, handshaken, in the order they finished.
pub struct TlsListener {
    rx: mpsc::Receiver<(AbortableIo, Peer)>,
    local: SocketAddr,
}

impl Listener for TlsListener {
    type Io = AbortableIo;
    type Addr = Peer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept loop ended (shutdown): nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(Peer { addr: self.local, cert_user: None, abort: Arc::default() })
    }
}

/// Accepts TCP connections on `tcp` until `stop` turns true and handshakes each in its own
/// task.
pub fn tls_listener(
    tcp: TcpListener,
    cfg: Arc<rustls::ServerConfig>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<TlsListener> {
    let local = tcp.local_addr()?;
    let (tx, rx) = mpsc::channel(64);
    let acceptor = TlsAcceptor::from(cfg);
    tokio::spawn(async move {
        loop {
            let (stream, addr) = tokio::select! {
                r = tcp.accept() => match r {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = async { drop(stop.wait_for(|s| *s).await) } => break,
            };
            let _ = stream.set_nodelay(true);
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(%addr, "TLS handshake failed: {e}");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%addr, "TLS handshake timed out");
                        return;
                    }
                };
                let cert_user = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| pki::cert_identity(c))
                    .map(|(user, groups)| UserInfo::new(&user, "", groups));
                let abort = Arc::new(Abort::default());
                let io = AbortableIo { inner: tls, abort: abort.clone() };
                let _ = tx.send((io, Peer { addr, cert_user, abort })).await;
            });
        }
    });
    Ok(TlsListener { rx, local })
}

/// Serves `router` over TLS until `stop` turns true.
pub async fn serve(
    tcp: TcpListener,
    cfg: Arc<rustls::ServerConfig>,
    router: Router,
    stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let listener = tls_listener(tcp, cfg, stop.clone())?;
    let mut stop = stop;
    axum::serve(listener, router.into_make_service_with_connect_info::<Peer>())
        .with_graceful_shutdown(async move { drop(stop.wait_for(|s| *s).await) })
        .await
}
