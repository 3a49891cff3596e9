//! The endpoint options a Zenoh user recognises, mapped onto Zenoh's own configuration.

use crate::error::BridgeError;
use std::path::PathBuf;

/// Zenoh's session mode (`--mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Talks to other peers directly (Zenoh's default).
    Peer,
    /// Talks only through a router.
    Client,
    /// Routes for others.
    Router,
}

impl Mode {
    /// The name in a Zenoh configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Peer => "peer",
            Mode::Client => "client",
            Mode::Router => "router",
        }
    }
}

/// How to open the Zenoh session: a configuration file, then the options on top of it.
///
/// ```
/// let o = mmring_zenoh::ZenohOptions {
///     connect: vec!["tcp/127.0.0.1:7447".into()],
///     multicast_scouting: false,
///     ..Default::default()
/// };
/// let c = o.to_config()?;
/// assert_eq!(c.get_json("connect/endpoints").unwrap(), r#"["tcp/127.0.0.1:7447"]"#);
/// assert_eq!(c.get_json("scouting/multicast/enabled").unwrap(), "false");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ZenohOptions {
    /// `--config FILE`: a Zenoh json5 configuration, applied first.
    pub config_file: Option<PathBuf>,
    /// `--mode`.
    pub mode: Option<Mode>,
    /// `--listen ENDPOINT`, repeatable: Zenoh locators such as `tcp/0.0.0.0:7447`.
    pub listen: Vec<String>,
    /// `--connect ENDPOINT`, repeatable.
    pub connect: Vec<String>,
    /// `false` with `--no-multicast-scouting`.
    pub multicast_scouting: bool,
}

impl Default for ZenohOptions {
    fn default() -> Self {
        ZenohOptions {
            config_file: None,
            mode: None,
            listen: Vec::new(),
            connect: Vec::new(),
            multicast_scouting: true,
        }
    }
}

impl ZenohOptions {
    /// The Zenoh configuration: the file's (or Zenoh's defaults), with each given option
    /// replacing the corresponding entry.
    ///
    /// # Errors
    /// [`BridgeError::Config`] when the file cannot be read or parsed, or an option is
    /// rejected by Zenoh (an endpoint that is not a locator, say).
    pub fn to_config(&self) -> Result<zenoh::Config, BridgeError> {
        let mut c = match &self.config_file {
            Some(p) => zenoh::Config::from_file(p).map_err(|e| BridgeError::Config {
                what: format!("--config {}", p.display()),
                reason: e.to_string(),
            })?,
            None => zenoh::Config::default(),
        };
        let mut set = |key: &str, value: String, what: String| {
            c.insert_json5(key, &value)
                .map_err(|e| BridgeError::Config {
                    what,
                    reason: e.to_string(),
                })
        };
        if let Some(m) = self.mode {
            set(
                "mode",
                json_string(m.as_str()),
                format!("--mode {}", m.as_str()),
            )?;
        }
        if !self.listen.is_empty() {
            set(
                "listen/endpoints",
                json_list(&self.listen),
                format!("--listen {}", self.listen.join(" --listen ")),
            )?;
        }
        if !self.connect.is_empty() {
            set(
                "connect/endpoints",
                json_list(&self.connect),
                format!("--connect {}", self.connect.join(" --connect ")),
            )?;
        }
        if !self.multicast_scouting {
            set(
                "scouting/multicast/enabled",
                "false".into(),
                "--no-multicast-scouting".into(),
            )?;
        }
        Ok(c)
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| json_string(s)).collect();
    format!("[{}]", inner.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_endpoint_is_a_config_error_naming_the_flag() {
        let o = ZenohOptions {
            listen: vec!["not a locator".into()],
            ..Default::default()
        };
        let e = o.to_config().unwrap_err().to_string();
        assert!(e.contains("--listen not a locator"), "{e}");
    }

    #[test]
    fn quotes_are_escaped() {
        assert_eq!(json_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
