/** A UDP listener socket as `onDatagram` sees it: what replies and other datagrams go out of. */
import { checkInetPeer, type PeerAddr } from './address'

/** What a {@link DatagramSocket} asks of its reactor; not part of the public API. */
export interface DatagramSink {
  sendTo(socket: number, address: string, port: number, data: Uint8Array): void
}

/**
 * One UDP listener socket of a reactor (Rust: the `socket` index of `on_datagram` and
 * `Conns::send_to`). The same object is passed for every datagram of that socket.
 *
 * @example
 * ```ts
 * onDatagram(socket, peer, data) { socket.sendTo(peer, data) } // UDP echo
 * ```
 */
export class DatagramSocket {
  /** The socket's index among the reactor's UDP listener sockets (the order given to `serve`). */
  readonly index: number
  readonly #sink: DatagramSink

  /** @internal Made by the reactor, one per UDP listener socket. */
  constructor(sink: DatagramSink, index: number) {
    this.#sink = sink
    this.index = index
  }

  /**
   * Sends one datagram to `peer` from this socket (gnet's `SendTo`); strings as UTF-8. The
   * bytes are copied. Throws `ERR_INVALID_ADDRESS` for a peer that is not an IP endpoint.
   */
  sendTo(peer: PeerAddr, data: Uint8Array | string): void {
    const to = checkInetPeer('sendTo peer', peer)
    this.#sink.sendTo(this.index, to.address, to.port, typeof data === 'string' ? Buffer.from(data) : data)
  }
}
