//! From flags to the engine's settings: kcptun's mode table, its KCP session setup (stream
//! mode, windows, MTU, FEC, crypt with the derived key) and its smux configuration.

use std::time::Duration;

use riptide::crypt::Cipher;
use riptide::{KcpCrypt, KcpOptions, KcpSecure};

use crate::cli::{Common, Mode};

/// Everything a tunnel end runs with, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The KCP session (both ends).
    pub kcp: KcpOptions,
    /// The smux session.
    pub smux: riptide_smux::Config,
    /// kcptun's snappy framing around the smux bytes.
    pub compress: bool,
}

/// A flag combination out of range, as a message for the user.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

/// kcptun's `--key` default.
const DEFAULT_KEY: &str = "it's a secrect";

/// kcptun's `-mode` table: (nodelay, interval, resend, nc); `None` for `manual`.
pub fn profile(mode: Mode) -> Option<(u32, u32, u32, bool)> {
    match mode {
        Mode::Normal => Some((0, 40, 2, true)),
        Mode::Fast => Some((0, 30, 2, true)),
        Mode::Fast2 => Some((1, 20, 2, true)),
        Mode::Fast3 => Some((1, 10, 2, true)),
        Mode::Manual => None,
    }
}

impl Settings {
    /// The settings for `common` with KCP windows `(sndwnd, rcvwnd)` and, with `--secure`,
    /// that end's secure mode (from [`crate::secure`]).
    pub fn new(
        common: &Common,
        sndwnd: u16,
        rcvwnd: u16,
        secure: Option<KcpSecure>,
    ) -> Result<Settings, SettingsError> {
        let default_crypt = if secure.is_some() { "none" } else { "aes" };
        let crypt = common.crypt.as_deref().unwrap_or(default_crypt);
        let cipher: Cipher = crypt
            .parse()
            .map_err(|e| SettingsError(format!("--crypt: {e}")))?;
        if secure.is_some() {
            if !matches!(cipher, Cipher::Null | Cipher::None) {
                return Err(SettingsError(format!(
                    "--secure encrypts by itself: --crypt {crypt} does not combine with it \
                     (leave --crypt out)"
                )));
            }
            if common.key.is_some() {
                return Err(SettingsError(
                    "--secure uses keys, not a passphrase: leave out --key (and unset \
                     KCPTUN_KEY)"
                        .into(),
                ));
            }
        }
        let key = common.key.as_deref().unwrap_or(DEFAULT_KEY);
        let (nodelay, interval, resend, nc) = profile(common.mode).unwrap_or((
            common.nodelay,
            common.interval,
            common.resend,
            common.nc == 1,
        ));
        let fec = match (common.datashard, common.parityshard) {
            (0, 0) => None,
            (0, _) | (_, 0) => {
                return Err(SettingsError(
                    "--datashard and --parityshard are both 0 (no FEC) or both positive".into(),
                ))
            }
            (d, p) => Some((usize::from(d), usize::from(p))),
        };
        let config = riptide::kcp::Config {
            nodelay,
            interval,
            resend,
            nc,
            snd_wnd: sndwnd,
            rcv_wnd: rcvwnd,
            mtu: usize::from(common.mtu),
            // kcptun runs kcp-go in stream mode: a byte stream, segments always full.
            stream: true,
            // kcp-go counts every ACK towards a fast resend; its peers batch their ACKs.
            fastack_each: true,
            ..riptide::kcp::Config::default()
        };
        let keepalive = Duration::from_secs(common.keepalive);
        let kcp = KcpOptions {
            config,
            // smux's keepalive notices a vanished peer; KCP's own timeout is a backstop.
            idle_timeout: Some(keepalive.saturating_mul(6)),
            // With --secure there is no kcp-go layer at all (`none` still adds its header).
            crypt: (cipher != Cipher::Null && secure.is_none())
                .then(|| KcpCrypt::kcptun(cipher, key)),
            fec,
            secure,
            ..KcpOptions::default()
        };
        kcp.validate()
            .map_err(|e| SettingsError(format!("KCP settings: {e}")))?;
        let smux = riptide_smux::Config {
            version: common.smuxver,
            keep_alive_interval: keepalive,
            keep_alive_timeout: keepalive.saturating_mul(3),
            max_receive_buffer: common.smuxbuf as usize,
            max_stream_buffer: common.streambuf as usize,
            ..riptide_smux::Config::default()
        };
        smux.verify()
            .map_err(|e| SettingsError(format!("smux settings (--streambuf ≤ --smuxbuf): {e}")))?;
        Ok(Settings {
            kcp,
            smux,
            compress: !common.nocomp,
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn settings(args: &[&str]) -> Result<Settings, SettingsError> {
        let cli = Cli::try_parse_from(["riptide-tunnel", "client"].iter().chain(args)).unwrap();
        let Command::Client(a) = cli.command else {
            unreachable!()
        };
        let secure = crate::secure::client(&a)?;
        Settings::new(&a.common, a.windows.sndwnd, a.windows.rcvwnd, secure)
    }

    #[test]
    fn secure_replaces_crypt_and_key() {
        let server = riptide::secure::generate_keypair().unwrap();
        let public = crate::secure::encode(&server.public);
        let secure = ["--secure", "--server-pub", public.as_str()];
        let s = settings(&secure).unwrap();
        assert!(s.kcp.crypt.is_none());
        assert!(matches!(
            s.kcp.secure,
            Some(KcpSecure::Client { server_public_key, client_key: None })
                if server_public_key == server.public
        ));
        for crypt in ["none", "null"] {
            let s = settings(&[&secure[..], &["--crypt", crypt]].concat()).unwrap();
            assert!(s.kcp.crypt.is_none(), "{crypt}");
        }
        let err = settings(&[&secure[..], &["--crypt", "aes"]].concat()).unwrap_err();
        assert!(err.0.contains("--crypt aes does not combine"), "{err}");
        let err = settings(&[&secure[..], &["--key", "pass"]].concat()).unwrap_err();
        assert!(err.0.contains("leave out --key"), "{err}");
        // The secure flags need --secure, and --secure needs the server's key.
        let err = settings(&["--server-pub", public.as_str()]).unwrap_err();
        assert_eq!(err.0, "--server-pub needs --secure");
        let err = settings(&["--secure"]).unwrap_err();
        assert!(err.0.contains("--secure needs --server-pub"), "{err}");
        let err = settings(&["--secure", "--server-pub", "AAAA"]).unwrap_err();
        assert!(err.0.contains("neither a base64 key"), "{err}");
        // Without --secure, kcptun's defaults stay.
        assert_eq!(
            settings(&[]).unwrap().kcp.crypt.unwrap().cipher,
            Cipher::Aes256
        );
    }

    #[test]
    fn kcptun_defaults() {
        let s = settings(&[]).unwrap();
        let k = &s.kcp.config;
        assert_eq!((k.nodelay, k.interval, k.resend, k.nc), (0, 30, 2, true));
        assert_eq!((k.snd_wnd, k.rcv_wnd, k.mtu), (128, 512, 1350));
        assert!(k.stream);
        assert_eq!(s.kcp.fec, Some((10, 3)));
        let crypt = s.kcp.crypt.as_ref().unwrap();
        assert_eq!(crypt.cipher, Cipher::Aes256);
        assert_eq!(crypt.key, riptide::crypt::kcptun_key("it's a secrect"));
        assert_eq!(s.smux.version, 1);
        assert_eq!(s.smux.max_receive_buffer, 4_194_304);
        assert_eq!(s.smux.max_stream_buffer, 2_097_152);
        assert!(s.compress);
    }

    #[test]
    fn mode_table_and_manual() {
        for (mode, want) in [
            ("normal", (0, 40, 2, true)),
            ("fast2", (1, 20, 2, true)),
            ("fast3", (1, 10, 2, true)),
        ] {
            let k = settings(&["--mode", mode, "--interval", "99"])
                .unwrap()
                .kcp
                .config;
            assert_eq!((k.nodelay, k.interval, k.resend, k.nc), want, "{mode}");
        }
        let args = ["--mode", "manual", "--nodelay", "2", "--interval", "15"];
        let k = settings(&[&args[..], &["--resend", "3", "--nc", "1"]].concat())
            .unwrap()
            .kcp
            .config;
        assert_eq!((k.nodelay, k.interval, k.resend, k.nc), (2, 15, 3, true));
    }

    #[test]
    fn ciphers_keys_and_fec() {
        let s = settings(&["--crypt", "aes-128", "--key", "k"]).unwrap();
        assert_eq!(
            s.kcp.crypt.unwrap().key,
            riptide::crypt::kcptun_key("k")[..16]
        );
        let s = settings(&["--crypt", "null", "--datashard", "0", "--parityshard", "0"]).unwrap();
        assert!(s.kcp.crypt.is_none() && s.kcp.fec.is_none());
        assert!(settings(&["--parityshard", "0"]).is_err());
        assert!(settings(&["--crypt", "tea"]).is_err());
        assert!(settings(&["--smuxbuf", "65536"]).is_err());
    }
}
