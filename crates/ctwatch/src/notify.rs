//! systemd readiness notification (`sd_notify`): a datagram to `$NOTIFY_SOCKET`, so the unit in
//! deploy/systemd can use `Type=notify`. Does nothing when not started by systemd.

/// Send `state` (e.g. `READY=1`, `STOPPING=1`) to the service manager, if there is one.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
    let path = path.to_string_lossy().into_owned();
    if let Err(e) = notify_to(&path, state) {
        tracing::warn!(error = %e, socket = %path, "sd_notify failed");
    }
}

/// Send `state` to the notification socket `path` (`@name` = abstract namespace).
pub fn notify_to(path: &str, state: &str) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::linux::net::SocketAddrExt as _;
        use std::os::unix::net::{SocketAddr, UnixDatagram};
        let addr = match path.strip_prefix('@') {
            Some(name) => SocketAddr::from_abstract_name(name.as_bytes())?,
            None => SocketAddr::from_pathname(path)?,
        };
        UnixDatagram::unbound()?.send_to_addr(state.as_bytes(), &addr).map(|_| ())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (path, state);
        Ok(())
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn notify_reaches_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        super::notify_to(path.to_str().unwrap(), "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = socket.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        assert!(super::notify_to(dir.path().join("absent.sock").to_str().unwrap(), "READY=1").is_err());
    }
}
