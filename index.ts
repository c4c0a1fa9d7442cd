/**
 * riptide: event-driven networking for Node.js with a Rust core.
 *
 * ```ts
 * import { serve } from 'riptide'
 * const engine = await serve('tcp://127.0.0.1:9000', {
 *   onTraffic(conn, data) { conn.write(data) },
 * })
 * ```
 * @packageDocumentation
 */
export { serve, Engine, type EngineStats, type StopOptions } from './lib/engine'
export { ready, startedByUpgrade, upgradeGeneration, inheritedSockets, type InheritedSocket, type UpgradeOptions, type UpgradeResult } from './lib/upgrade'
export type { PeerAddr, InetAddr, UnixAddr } from './lib/address'
export type { EngineMetrics, ReactorMetrics, ReactorCounts, ListenerMetrics, ListenerCounts, ListenerProtocol, KcpMetrics } from './lib/metrics'
export {
  CONNECTION_OPEN,
  CONNECTION_CLOSE,
  HANDLER_ERROR,
  type ConnectionOpenMessage,
  type ConnectionCloseMessage,
  type HandlerErrorMessage,
} from './lib/diagnostics'
export { DatagramSocket } from './lib/datagram'
export type { StopCounts, ListenSpec } from './lib/reactor'
export {
  codecs,
  type Codec,
  type LineCodec,
  type DelimiterCodec,
  type FixedLengthCodec,
  type LengthFieldCodec,
  type Http1Codec,
  type Http1Options,
  type Http1UpgradeCodec,
  type Http1WebSocket,
  type RespCodec,
  type LtvCodec,
  type WebSocketCodec,
} from './lib/codecs'
export { ltvRecord, type LtvInfo, type LtvHandler, type LtvClientHandler, type LtvTraffic, type WriteOptions } from './lib/ltv'
export {
  WebSocketConn,
  websocketHandler,
  type WebSocketHandler,
  type WebSocketAdapter,
  type UpgradeRequest,
  type UpgradeAnswer,
  type UpgradeHeaders,
  type MessageInfo,
} from './lib/websocket'
export { type WebSocketClientHandler, type WebSocketDialCodecOptions, type WebSocketUrl } from './lib/websocket-client'
export type { HttpWebSocketHandler } from './lib/http-websocket'
export { parseRequest, response, type HttpRequest, type HttpResponse } from './lib/http1'
export { parseCommand, RespCommands, resp } from './lib/resp'
export type { EventHandler, IdleKind } from './lib/handler'
export type { BackpressureOptions, BackpressurePolicy } from './lib/pubsub'
export type { BusOptions, BusMetrics, BusGap, ResolvedBusOptions } from './lib/bus'
export type { AgentOptions, ResolvedAgentOptions } from './lib/agent'
export { Conn, type ConnHandle, type WriteDoneCallback, type ProxyHeader, type KcpStats, type SendOptions, type PeerCertificate } from './lib/conn'
export { ConnStream, toStream, type ConnStreamOptions } from './lib/stream'
export { generateKeyPair, type KeyPair } from './lib/secure'
export { asyncWrite, asyncClose, type WriteCallback } from './lib/async'
export {
  connect,
  Client,
  type ClientOptions,
  type ClientHandler,
  type ReconnectOptions,
  type DialOptions,
  type WebSocketConnectOptions,
} from './lib/client'
export {
  type ServeOptions,
  type LoadBalancing,
  type Driver,
  type TcpKeepAlive,
  type IdleTimeout,
  type Heartbeat,
  type ResolvedServeOptions,
  type KcpOptions,
  type FecOptions,
  type CryptOptions,
  type KcpCipher,
  type SecureOptions,
  type SecureKey,
  type ServerSecureOptions,
  type ClientSecureOptions,
  type ResolvedSecure,
  CIPHER_KEY_LENGTHS,
  DEFAULT_SERVE_OPTIONS,
  DEFAULT_KCP_OPTIONS,
} from './lib/options'
export { WebRtcAttachment, type WebRtcSignalFn } from './lib/webrtc-attach'
export { type WebRtcOptions, type WebRtcAuthorizeRequest, type ResolvedWebRtc, DEFAULT_WEBRTC_OPTIONS } from './lib/webrtc-options'
export type { ServerTlsOptions, ClientTlsOptions, SniCertificate, Pem, ResolvedServerTls } from './lib/tls'
export type { Logger, LoggerObject, LogLevel } from './lib/logger'
export { MAX_TASK_THREADS, type ResolvedTaskOptions, type TaskOptions, type TaskRunOptions } from './lib/tasks'
export {
  RiptideError,
  InvalidAddressError,
  AddressInUseError,
  ConnClosedError,
  EngineStoppedError,
  InvalidOptionError,
  ConnectionError,
  type ConnectionErrorDetails,
  FrameTooLongError,
  FrameError,
  NotConnectedError,
  OutboundFullError,
  AbortError,
  InvalidHttpFieldError,
  TooManyConnectionsError,
  MessageTooLargeError,
  KcpDeadLinkError,
  HandshakeError,
  TlsError,
  TlsHandshakeError,
  InternalError,
  WorkerInitError,
  UnsupportedPlatformError,
  UpgradeError,
  TaskError,
  TaskQueueFullError,
  WebSocketCloseError,
  WebSocketError,
} from './lib/errors'
export { DnsZone, DnsZoneError, type DnsZoneOptions, type DnsTransport } from './lib/dns'
export { DnsResolver, type DnsResolverOptions, type DnsTransmit, type DnsResolved, type DnsResolverStats } from './lib/dns-resolver'
export {
  DnsTunnel,
  type DnsTunnelOptions,
  type DnsTunnelAnswer,
  type DnsTunnelQuery,
  type DnsTunnelRead,
  type DnsTunnelReply,
  type DnsTunnelOther,
  type DnsTunnelRefused,
} from './lib/dns-tunnel'
export { DatagramCarrier, type DatagramCarrierOptions, type CarrierStats, MAX_PEER_LENGTH, MAX_CARRIED_DATAGRAM } from './lib/carrier'
