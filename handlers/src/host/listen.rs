//! Where the handler listens: on the host's port when the Functions host started it, else standalone.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Set by the Functions host for its child process.
pub const HOST_PORT_VARIABLE: &str = "FUNCTIONS_CUSTOMHANDLER_PORT";
/// The standalone default, the same port `func start` uses.
pub const STANDALONE_DEFAULT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7071);

/// How the process was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Under the Functions host: loopback only, on the port it chose.
    Host,
    /// On its own, with the embedded background relay.
    Standalone,
}

/// The address to bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen {
    pub addr: SocketAddr,
    pub mode: Mode,
}

/// The listen setting could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} must be {expected}, got {value:?}")]
pub struct ListenError {
    pub variable: &'static str,
    pub expected: &'static str,
    pub value: String,
}

/// Decides from the host's variable, else the standalone override (`PIESHOP_LISTEN`, `host:port` or a port).
pub fn resolve(host_port: Option<&str>, standalone: Option<&str>) -> Result<Listen, ListenError> {
    if let Some(port) = host_port {
        let port = port.trim().parse::<u16>().map_err(|_| ListenError {
            variable: HOST_PORT_VARIABLE,
            expected: "a TCP port",
            value: port.to_owned(),
        })?;
        return Ok(Listen { addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port), mode: Mode::Host });
    }
    let Some(text) = standalone else {
        return Ok(Listen { addr: STANDALONE_DEFAULT, mode: Mode::Standalone });
    };
    let addr = match text.trim().parse::<u16>() {
        Ok(port) => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        Err(_) => text.trim().parse::<SocketAddr>().map_err(|_| ListenError {
            variable: "PIESHOP_LISTEN",
            expected: "host:port or a port",
            value: text.to_owned(),
        })?,
    };
    Ok(Listen { addr, mode: Mode::Standalone })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_port_wins_and_binds_loopback() {
        let listen = resolve(Some("40123"), Some("0.0.0.0:9999")).unwrap();
        assert_eq!(listen.addr, "127.0.0.1:40123".parse().unwrap());
        assert_eq!(listen.mode, Mode::Host);
    }

    #[test]
    fn standalone_defaults_to_7071_on_loopback() {
        assert_eq!(resolve(None, None).unwrap().addr, STANDALONE_DEFAULT);
        assert_eq!(resolve(None, Some("8080")).unwrap().addr, "127.0.0.1:8080".parse().unwrap());
        assert!(resolve(Some("http"), None).is_err());
    }
}
