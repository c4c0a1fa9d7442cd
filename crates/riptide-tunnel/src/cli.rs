//! The command line: kcptun's flags, names and defaults (its `client/main.go` and
//! `server/main.go`), each number checked against a range at parse time.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// riptide-tunnel: TCP forwarded over KCP (+ FEC + kcp-go's encryption), multiplexed with
/// smux, optionally snappy-compressed; wire-compatible with kcptun.
#[derive(Debug, Parser)]
#[command(name = "riptide-tunnel", version)]
pub struct Cli {
    /// Which end to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The two ends of a tunnel, and the key generators of `--secure`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Listens on TCP and forwards each connection as one smux stream over one KCP session.
    Client(ClientArgs),
    /// Accepts KCP sessions and dials the target for each smux stream.
    Server(ServerArgs),
    /// Prints a new server key pair for --secure.
    GenServer(GenServerArgs),
    /// Prints a new client key pair for a --secure server with --allowed-clients: the line to
    /// add to that file and a client command line to run.
    GenClient(GenClientArgs),
}

/// `riptide-tunnel client`.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Local TCP address to listen on (kcptun `-localaddr`).
    #[arg(short = 'l', long, default_value = "127.0.0.1:12948")]
    pub localaddr: String,
    /// The tunnel server's UDP address (kcptun `-remoteaddr`).
    #[arg(short = 'r', long, default_value = "127.0.0.1:29900")]
    pub remoteaddr: String,
    /// --secure: the server's public key, pinned (base64, or a file holding it).
    #[arg(long, value_name = "B64|FILE")]
    pub server_pub: Option<String>,
    /// --secure: this client's private key (base64, or a file holding it), for a server with
    /// --allowed-clients. Also read from RIPTIDE_TUNNEL_CLIENT_KEY (other users can read a
    /// process's arguments, not its environment).
    #[arg(
        long,
        value_name = "FILE|B64",
        env = "RIPTIDE_TUNNEL_CLIENT_KEY",
        hide_env_values = true
    )]
    pub client_key: Option<String>,
    /// kcptun's client windows: send 128, receive 512.
    #[command(flatten)]
    pub windows: ClientWindows,
    /// The settings both ends must agree on.
    #[command(flatten)]
    pub common: Common,
}

/// `riptide-tunnel server`.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// UDP address to accept KCP sessions on (kcptun `-listen`).
    #[arg(short = 'l', long, default_value = "0.0.0.0:29900")]
    pub listen: String,
    /// TCP address each stream is forwarded to (kcptun `-target`).
    #[arg(short = 't', long, default_value = "127.0.0.1:12948")]
    pub target: String,
    /// --secure: the server's private key (base64, or a file holding it; `gen-server` makes
    /// one). Also read from RIPTIDE_TUNNEL_SERVER_KEY.
    #[arg(
        long,
        value_name = "FILE|B64",
        env = "RIPTIDE_TUNNEL_SERVER_KEY",
        hide_env_values = true
    )]
    pub server_key: Option<String>,
    /// --secure: only the clients whose public keys this file lists get in (one base64 key
    /// per line, `#` comments; `gen-client` prints the line to add). Re-read on SIGHUP: new
    /// sessions follow it, live ones stay. Without it any client holding the server's public
    /// key gets in.
    #[arg(long, value_name = "FILE")]
    pub allowed_clients: Option<std::path::PathBuf>,
    /// kcptun's server windows: send 1024, receive 1024.
    #[command(flatten)]
    pub windows: ServerWindows,
    /// The settings both ends must agree on.
    #[command(flatten)]
    pub common: Common,
}

/// `riptide-tunnel gen-server`.
#[derive(Debug, Args)]
pub struct GenServerArgs {
    /// Writes the private key to this new file (mode 600) instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<std::path::PathBuf>,
}

/// `riptide-tunnel gen-client`.
#[derive(Debug, Args)]
pub struct GenClientArgs {
    /// The server's public key (base64, or a file holding it), as `gen-server` printed it.
    #[arg(long, value_name = "B64|FILE")]
    pub server_pub: String,
    /// The server's UDP address, for the client's --remoteaddr.
    #[arg(long, value_name = "HOST:PORT")]
    pub remote: String,
    /// A name for the client, written as a comment beside its key in the allowed-clients line.
    #[arg(long)]
    pub name: Option<String>,
    /// Writes the private key to this new file (mode 600) instead of printing it; the
    /// command line then reads it with --client-key (otherwise it sets
    /// RIPTIDE_TUNNEL_CLIENT_KEY).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<std::path::PathBuf>,
}

/// KCP windows with kcptun's client defaults.
#[derive(Debug, Args)]
pub struct ClientWindows {
    /// KCP send window, in segments.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u16).range(1..))]
    pub sndwnd: u16,
    /// KCP receive window, in segments (below 128 counts as 128, as ikcp rounds it).
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u16).range(1..))]
    pub rcvwnd: u16,
}

/// KCP windows with kcptun's server defaults.
#[derive(Debug, Args)]
pub struct ServerWindows {
    /// KCP send window, in segments.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u16).range(1..))]
    pub sndwnd: u16,
    /// KCP receive window, in segments (below 128 counts as 128, as ikcp rounds it).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u16).range(1..))]
    pub rcvwnd: u16,
}

/// kcptun's `-mode` profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// nodelay 0, interval 40, resend 2, nc 1.
    Normal,
    /// nodelay 0, interval 30, resend 2, nc 1 (the default).
    Fast,
    /// nodelay 1, interval 20, resend 2, nc 1.
    Fast2,
    /// nodelay 1, interval 10, resend 2, nc 1.
    Fast3,
    /// `--nodelay --interval --resend --nc` as given.
    Manual,
}

/// Flags both ends take, with kcptun's defaults.
#[derive(Debug, Args)]
pub struct Common {
    /// Riptide's secure mode instead of kcp-go's encryption: a Noise handshake in which the
    /// client pins the server's key (--server-key, --server-pub) and, with per-client keys,
    /// the server lets in only listed clients (--allowed-clients, --client-key); then
    /// ChaCha20-Poly1305 per datagram with replay protection. Both ends need it; kcptun does
    /// not speak it. It replaces --crypt and --key: --crypt then defaults to none and takes
    /// only none or null, and --key (or KCPTUN_KEY) is refused.
    #[arg(long)]
    pub secure: bool,
    /// Pre-shared passphrase (kcptun's key derivation: PBKDF2-SHA1, salt "kcp-go", 4096
    /// rounds, 32 bytes). Default "it's a secrect". Also read from KCPTUN_KEY. Not with
    /// --secure.
    #[arg(long, env = "KCPTUN_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Packet encryption, by kcptun's name: aes, aes-128, aes-192, salsa20, xor, none, null,
    /// aes-128-gcm. Compatible with kcptun, not secure. Default aes; with --secure, none
    /// (and only none or null).
    #[arg(long)]
    pub crypt: Option<String>,
    /// KCP profile; `manual` takes --nodelay --interval --resend --nc.
    #[arg(long, value_enum, default_value_t = Mode::Fast)]
    pub mode: Mode,
    /// Manual mode: 0, 1 or 2 (ikcp's nodelay).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=2))]
    pub nodelay: u32,
    /// Manual mode: KCP flush interval in ms.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(10..=5000))]
    pub interval: u32,
    /// Manual mode: fast retransmit after this many later acks (0: off).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=255))]
    pub resend: u32,
    /// Manual mode: 1 turns the congestion window off.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub nc: u8,
    /// Largest UDP payload.
    #[arg(long, default_value_t = 1350, value_parser = clap::value_parser!(u16).range(100..=1500))]
    pub mtu: u16,
    /// Reed-Solomon data shards per FEC set (0 with --parityshard 0: no FEC).
    #[arg(long, alias = "ds", default_value_t = 10, value_parser = clap::value_parser!(u16).range(0..=255))]
    pub datashard: u16,
    /// Reed-Solomon parity shards per FEC set.
    #[arg(long, alias = "ps", default_value_t = 3, value_parser = clap::value_parser!(u16).range(0..=255))]
    pub parityshard: u16,
    /// Turns snappy compression off (must match the other end).
    #[arg(long)]
    pub nocomp: bool,
    /// smux protocol version: 1, or 2 for per-stream windows (must match the other end).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub smuxver: u8,
    /// smux session receive buffer, in bytes.
    #[arg(long, default_value_t = 4_194_304, value_parser = clap::value_parser!(u32).range(65_536..=1_073_741_824))]
    pub smuxbuf: u32,
    /// smux v2 per-stream window, in bytes (at most --smuxbuf).
    #[arg(long, default_value_t = 2_097_152, value_parser = clap::value_parser!(u32).range(8_192..=1_073_741_824))]
    pub streambuf: u32,
    /// smux keepalive interval in seconds (the session dies after 3 silent intervals).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub keepalive: u64,
    /// Appends SNMP-style counters to this CSV file every --snmpperiod seconds.
    #[arg(long)]
    pub snmplog: Option<std::path::PathBuf>,
    /// Seconds between --snmplog rows.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub snmpperiod: u64,
    /// No "stream opened/closed" lines on stderr.
    #[arg(long)]
    pub quiet: bool,
}
