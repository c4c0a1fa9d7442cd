//! `--secure`: riptide's secure mode in place of kcp-go's encryption. Keys are base64 (the
//! 44-character standard form), given on the command line, in the environment or in a file;
//! the server's `--allowed-clients` file lists client public keys and is re-read on SIGHUP;
//! `gen-server` and `gen-client` make the keys and print what goes where.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use riptide::secure::{
    generate_keypair, public_key_from_slice, AllowedClients, Keypair, PrivateKey, KEY_LEN,
};
use riptide::KcpSecure;

use crate::cli::{ClientArgs, GenClientArgs, GenServerArgs, ServerArgs};
use crate::settings::SettingsError;

/// The key in `text` when it is the base64 of exactly 32 bytes (canonical: no stray bits).
fn decode(text: &str) -> Option<[u8; KEY_LEN]> {
    let bytes = STANDARD.decode(text).ok()?;
    bytes.try_into().ok()
}

/// The base64 form of a key.
pub fn encode(key: &[u8; KEY_LEN]) -> String {
    STANDARD.encode(key)
}

/// The meaningful lines of a key or allowed-clients file: each without what follows a `#`
/// (base64 has no `#`), trimmed, empty ones skipped; with their line numbers.
fn entries(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let entry = line.split('#').next().unwrap_or_default().trim();
        (!entry.is_empty()).then_some((i.saturating_add(1), entry))
    })
}

/// A key given to `flag` as base64 or as a file holding it (one key; `#` comments allowed).
/// Messages name the flag and the file, never key material. `private`: warn when the file
/// is readable by others than its owner.
fn key_arg(flag: &str, value: &str, private: bool) -> Result<[u8; KEY_LEN], SettingsError> {
    if let Some(key) = decode(value) {
        return Ok(key);
    }
    let path = Path::new(value);
    let text = std::fs::read_to_string(path).map_err(|e| {
        SettingsError(format!(
            "{flag}: neither a base64 key (44 characters) nor a readable file: {e}"
        ))
    })?;
    if private {
        warn_if_shared(flag, path);
    }
    let mut keys = entries(&text);
    match (keys.next(), keys.next()) {
        (Some((line, entry)), None) => decode(entry).ok_or_else(|| {
            SettingsError(format!(
                "{flag}: {}, line {line}: not a base64 key (44 characters)",
                path.display()
            ))
        }),
        _ => Err(SettingsError(format!(
            "{flag}: {} must hold exactly one base64 key",
            path.display()
        ))),
    }
}

/// Tells the user when a private key file is open to other users.
fn warn_if_shared(flag: &str, path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                eprintln!(
                    "riptide-tunnel: warning: {flag}: {} is readable by other users (chmod 600 it)",
                    path.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (flag, path);
}

/// A public key given to `flag`: as [`key_arg`], and a valid X25519 point.
fn public_key_arg(flag: &str, value: &str) -> Result<[u8; KEY_LEN], SettingsError> {
    let key = key_arg(flag, value, false)?;
    public_key_from_slice(&key).map_err(|_| {
        SettingsError(format!(
            "{flag}: not a valid X25519 public key (a small-order point)"
        ))
    })
}

/// The client public keys of an allowed-clients file: one base64 key per line, `#` comments
/// and blank lines skipped. Every line must hold a valid key; an empty list refuses everyone.
pub fn read_allowed_clients(path: &Path) -> Result<Vec<[u8; KEY_LEN]>, SettingsError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SettingsError(format!("--allowed-clients {}: {e}", path.display())))?;
    entries(&text)
        .map(|(line, entry)| {
            decode(entry)
                .and_then(|key| public_key_from_slice(&key).ok())
                .ok_or_else(|| {
                    SettingsError(format!(
                        "--allowed-clients {}, line {line}: not a base64 X25519 public key",
                        path.display()
                    ))
                })
        })
        .collect()
}

/// Checks the flags of one end's secure mode, `required` (the flag, what it is, its value)
/// and `optional` (the flag, whether it was given): without `--secure` neither may be given,
/// and the result is `None`; with it, the required one's value must be there.
fn secure_flags<'a>(
    secure: bool,
    required: (&str, &str, Option<&'a str>),
    optional: (&str, bool),
) -> Result<Option<&'a str>, SettingsError> {
    let (flag, what, value) = required;
    if secure {
        return value
            .map(Some)
            .ok_or_else(|| SettingsError(format!("--secure needs {flag}: {what}")));
    }
    match [(flag, value.is_some()), optional].iter().find(|f| f.1) {
        Some((flag, _)) => Err(SettingsError(format!("{flag} needs --secure"))),
        None => Ok(None),
    }
}

/// The client's secure mode: `None` without `--secure`.
pub fn client(args: &ClientArgs) -> Result<Option<KcpSecure>, SettingsError> {
    let server_pub = (
        "--server-pub",
        "the server's public key",
        args.server_pub.as_deref(),
    );
    let client_key = (
        "--client-key (or RIPTIDE_TUNNEL_CLIENT_KEY)",
        args.client_key.is_some(),
    );
    let Some(server_pub) = secure_flags(args.common.secure, server_pub, client_key)? else {
        return Ok(None);
    };
    let client_key = args
        .client_key
        .as_deref()
        .map(|k| key_arg("--client-key", k, true).map(PrivateKey::from_bytes))
        .transpose()?;
    Ok(Some(KcpSecure::Client {
        server_public_key: public_key_arg("--server-pub", server_pub)?,
        client_key,
    }))
}

/// The server's secure mode: `None` without `--secure`. Its allowed clients (when
/// `--allowed-clients` is given) are read now; the set is shared with the listener, so the
/// caller can re-read the file into it later ([`reload_on_sighup`]).
pub fn server(args: &ServerArgs) -> Result<Option<KcpSecure>, SettingsError> {
    // The environment variable is the usual way to give the key: name it in the message.
    let server_key = (
        "--server-key (or RIPTIDE_TUNNEL_SERVER_KEY)",
        "the server's private key",
        args.server_key.as_deref(),
    );
    let allowed = ("--allowed-clients", args.allowed_clients.is_some());
    let Some(server_key) = secure_flags(args.common.secure, server_key, allowed)? else {
        return Ok(None);
    };
    let allowed_clients = args
        .allowed_clients
        .as_deref()
        .map(|path| {
            let keys = read_allowed_clients(path)?;
            AllowedClients::new(keys.iter().map(|k| &k[..]))
                .map_err(|e| SettingsError(format!("--allowed-clients: {e}")))
        })
        .transpose()?;
    Ok(Some(KcpSecure::Server {
        private_key: PrivateKey::from_bytes(key_arg("--server-key", server_key, true)?),
        allowed_clients,
    }))
}

/// Re-reads `path` into `set` on every SIGHUP, on a thread of its own (the set is shared with
/// the listener, which checks it at each new handshake). A file that does not read or parse
/// leaves the set as it was; either way a line on stderr says what happened. New sessions
/// follow the new list; live sessions stay open.
#[cfg(unix)]
pub fn reload_on_sighup(path: PathBuf, set: AllowedClients) -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])?;
    std::thread::Builder::new()
        .name("allowed-clients".into())
        .spawn(move || {
            for _ in signals.forever() {
                let keys = read_allowed_clients(&path).and_then(|keys| {
                    set.replace(keys.iter().map(|k| &k[..]))
                        .map(|()| keys.len())
                        .map_err(|e| SettingsError(format!("--allowed-clients: {e}")))
                });
                match keys {
                    Ok(n) => eprintln!(
                        "riptide-tunnel: SIGHUP: {n} allowed clients from {} (for new sessions)",
                        path.display()
                    ),
                    Err(e) => eprintln!("riptide-tunnel: SIGHUP: {e}; the list is unchanged"),
                }
            }
        })?;
    Ok(())
}

/// Without Unix signals the file is read once, at start.
#[cfg(not(unix))]
pub fn reload_on_sighup(path: PathBuf, _set: AllowedClients) -> std::io::Result<()> {
    eprintln!(
        "riptide-tunnel: {} is read once: no SIGHUP on this platform",
        path.display()
    );
    Ok(())
}

/// Quotes `s` for a POSIX shell when it holds anything but plain characters.
fn shell_quote(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:+=@%,".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Writes a private key to a new file only its owner may read; an existing file is never
/// overwritten.
fn write_key_file(path: &Path, key: &PrivateKey) -> Result<(), SettingsError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let text = format!("{}\n", encode(key.as_bytes()));
    options
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| SettingsError(format!("--key-file {}: {e}", path.display())))
}

/// A fresh key pair, or the error as a message.
fn keypair() -> Result<Keypair, SettingsError> {
    generate_keypair().map_err(|e| SettingsError(format!("generating a key pair: {e}")))
}

/// Where a new private key went: the line that shows it, or says which file holds it.
fn private_key_line(
    who: &str,
    keys: &Keypair,
    key_file: Option<&Path>,
) -> Result<String, SettingsError> {
    match key_file {
        Some(path) => {
            write_key_file(path, &keys.private)?;
            Ok(format!(
                "{who} private key: written to {} (mode 600)",
                path.display()
            ))
        }
        None => Ok(format!(
            "{who} private key (secret): {}",
            encode(keys.private.as_bytes())
        )),
    }
}

/// `riptide-tunnel gen-server`: a new server key pair and how to use it.
pub fn gen_server(args: &GenServerArgs) -> Result<String, SettingsError> {
    let keys = keypair()?;
    let public = encode(&keys.public);
    let private = private_key_line("server", &keys, args.key_file.as_deref())?;
    let key_flag = match &args.key_file {
        Some(path) => format!("--server-key {}", shell_quote(&path.display().to_string())),
        None => "--server-key KEY_FILE".into(),
    };
    Ok(format!(
        "# riptide-tunnel gen-server: a key pair for `riptide-tunnel server --secure`.\n\
         {private}\n\
         server public key: {public}\n\
         \n\
         # The server (the private key from a file of mode 600, or RIPTIDE_TUNNEL_SERVER_KEY;\n\
         # with --allowed-clients only listed clients get in, without it anyone with the\n\
         # public key does):\n\
         riptide-tunnel server --secure {key_flag} --allowed-clients clients.txt\n\
         \n\
         # Each client: riptide-tunnel gen-client --server-pub {public} --remote HOST:PORT\n"
    ))
}

/// `riptide-tunnel gen-client`: a new client key pair, the line for the server's
/// allowed-clients file, and a client command line that runs as printed.
pub fn gen_client(args: &GenClientArgs) -> Result<String, SettingsError> {
    let server_pub = encode(&public_key_arg("--server-pub", &args.server_pub)?);
    if let Some(name) = &args.name {
        if name.chars().any(char::is_control) {
            return Err(SettingsError(
                "--name: no control characters (it becomes a comment line)".into(),
            ));
        }
    }
    let keys = keypair()?;
    let public = encode(&keys.public);
    let private = private_key_line("client", &keys, args.key_file.as_deref())?;
    let allowed_line = match &args.name {
        Some(name) => format!("{public}  # {name}"),
        None => public.clone(),
    };
    let remote = shell_quote(&args.remote);
    let command = match &args.key_file {
        Some(path) => format!(
            "riptide-tunnel client --secure --server-pub {server_pub} --client-key {} --remoteaddr {remote}",
            shell_quote(&path.display().to_string())
        ),
        // The environment, not an argument: other users can read a process's arguments.
        // `env`, so any shell runs it (and `exec` can precede it).
        None => format!(
            "env RIPTIDE_TUNNEL_CLIENT_KEY={} riptide-tunnel client --secure --server-pub {server_pub} --remoteaddr {remote}",
            encode(keys.private.as_bytes())
        ),
    };
    Ok(format!(
        "# riptide-tunnel gen-client: a key pair for one client of `riptide-tunnel server --secure`.\n\
         {private}\n\
         client public key: {public}\n\
         \n\
         # 1. On the server: append this line to its --allowed-clients file, then reload the\n\
         #    file with `kill -HUP <server pid>` (live sessions stay; new ones use the list):\n\
         {allowed_line}\n\
         \n\
         # 2. On the client (add --localaddr, and the server's --mode, --mtu, --datashard,\n\
         #    --parityshard, --nocomp, --smuxver when they are not the defaults):\n\
         {command}\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_decode_only_as_canonical_base64_of_32_bytes() {
        let key = [7u8; 32];
        let text = encode(&key);
        assert_eq!(text.len(), 44);
        assert_eq!(decode(&text), Some(key));
        assert_eq!(decode(&text[..43]), None);
        assert_eq!(decode(&STANDARD.encode([1u8; 31])), None);
        // The last character's low bits must be zero in a canonical encoding of 32 bytes.
        let mut sloppy = text.clone();
        sloppy.replace_range(42..43, "B");
        assert_eq!(decode(&sloppy), None);
        assert_eq!(decode(&STANDARD.encode([1u8; 33])), None);
    }

    #[test]
    fn entries_skip_comments_and_blank_lines() {
        let text = "# clients\n\n  AAAA  # alice\nBBBB\n   # gone\n";
        let got: Vec<_> = entries(text).collect();
        assert_eq!(got, [(3, "AAAA"), (4, "BBBB")]);
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("vps:29900"), "vps:29900");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
