// The part of the `ws` package's API the WebSocket tests use (the package ships no types, and
// @types/ws would be a second devDependency for a few calls).
declare module 'ws' {
  import type { EventEmitter } from 'node:events'
  import type { IncomingMessage, Server as HttpServer } from 'node:http'
  import type { Server as HttpsServer } from 'node:https'
  import type { AddressInfo } from 'node:net'
  import type { SecureContextOptions } from 'node:tls'

  namespace WebSocket {
    interface ClientOptions extends SecureContextOptions {
      headers?: Record<string, string>
      perMessageDeflate?: boolean | object
      maxPayload?: number
      servername?: string
      host?: string
    }

    interface ServerOptions {
      host?: string
      port?: number
      server?: HttpServer | HttpsServer
      perMessageDeflate?: boolean | object
      maxPayload?: number
      handleProtocols?: (offered: Set<string>, request: IncomingMessage) => string | false
    }

    class WebSocketServer extends EventEmitter {
      constructor(options: ServerOptions)
      readonly clients: Set<WebSocket>
      address(): AddressInfo | string | null
      close(cb?: () => void): void
      on(event: 'connection', cb: (socket: WebSocket, request: IncomingMessage) => void): this
      on(event: 'headers', cb: (headers: string[], request: IncomingMessage) => void): this
      once(event: 'listening', cb: () => void): this
    }
  }

  class WebSocket extends EventEmitter {
    static readonly OPEN: number
    constructor(url: string, protocols?: string[], options?: WebSocket.ClientOptions)
    readonly protocol: string
    readonly extensions: string
    readonly readyState: number
    send(data: string | Buffer, options?: { binary?: boolean; fin?: boolean }): void
    close(code?: number, reason?: string): void
    terminate(): void
    on(event: 'ping', cb: (data: Buffer) => void): this
    on(event: 'error', cb: (err: Error) => void): this
    on(event: 'message', cb: (data: Buffer, binary: boolean) => void): this
    on(event: 'close', cb: (code: number, reason: Buffer) => void): this
    once(event: 'open', cb: () => void): this
    once(event: 'error', cb: (err: Error) => void): this
    once(event: 'message', cb: (data: Buffer, binary: boolean) => void): this
    once(event: 'close', cb: (code: number, reason: Buffer) => void): this
    once(event: 'upgrade', cb: (res: IncomingMessage) => void): this
    once(event: 'unexpected-response', cb: (req: unknown, res: IncomingMessage) => void): this
  }

  export = WebSocket
}
