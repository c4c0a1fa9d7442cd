/**
 * A lobby client: `npx tsx examples/rpc-game/client.ts --port 7000 --name ann --room red`
 * joins, makes a few moves and prints the room's state as the server pushes it. The engine's
 * heartbeat keeps it in the lobby while it is quiet.
 */
import { parseArgs } from 'node:util'
import { connect, type Conn } from 'riptide'
import { rpcHandler, type RpcPeer } from 'riptide/rpc'
import { codec, heartbeatPing, RPC_MSG_ID, type RoomState } from './protocol'

/** Options of {@link LobbyClient.connect}. */
export interface LobbyClientOptions {
  /** Send heartbeats (default `true`); a client without them is kicked once it goes quiet. */
  heartbeat?: boolean
  /** Ms of quiet before a heartbeat is sent. Default `1000`. */
  heartbeatInterval?: number
}

/** One player's connection to the lobby. */
export class LobbyClient {
  private constructor(
    /** The RPC peer of the connection. */
    readonly peer: RpcPeer<Conn>,
    /** Every room state pushed to this client, in order. */
    readonly states: RoomState[],
    /** Resolves when the connection closes (a kick included), with its error code if any. */
    readonly closed: Promise<string | undefined>,
  ) {}

  /** Connects to the lobby on 127.0.0.1:`port`. */
  static async connect(port: number, o: LobbyClientOptions = {}): Promise<LobbyClient> {
    const states: RoomState[] = []
    let done!: (code: string | undefined) => void
    const closed = new Promise<string | undefined>((resolve) => (done = resolve))
    const rpc = rpcHandler({
      msgId: RPC_MSG_ID,
      onPeer(peer: RpcPeer<Conn>) {
        peer.handle('heartbeat', () => undefined)
        peer.handle('state', (s) => void states.push(s as RoomState))
      },
      onPeerClose: (_peer, err) => done(err?.code),
    })
    const interval = o.heartbeatInterval ?? 1000
    const heartbeat = o.heartbeat ?? true
    // The client's own timeout for the server's silence: the server pings within its interval.
    const conn = await connect(`tcp://127.0.0.1:${port}`, rpc, {
      codec,
      ...(heartbeat ? { heartbeat: { interval, timeout: 30_000, ping: heartbeatPing } } : {}),
    })
    return new LobbyClient(rpc.peerOf(conn), states, closed)
  }

  /** Joins `room` as `name`; resolves with the room's state. */
  join(name: string, room: string): Promise<RoomState> {
    return this.peer.call<RoomState>('join', { name, room })
  }

  /** Moves by one step at most on each axis; resolves with the new position. */
  move(dx: number, dy: number): Promise<{ x: number; y: number }> {
    return this.peer.call('move', { dx, dy })
  }

  /** Leaves the room. */
  leave(): Promise<void> {
    return this.peer.call('leave')
  }

  /** Disconnects. */
  close(): void {
    this.peer.conn.close()
  }
}

if (require.main === module) {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '7000' }, name: { type: 'string', default: 'ann' }, room: { type: 'string', default: 'red' } },
  })
  void (async () => {
    const client = await LobbyClient.connect(Number(values.port))
    console.log('joined', JSON.stringify(await client.join(values.name, values.room)))
    for (const [dx, dy] of [[1, 0], [1, 1], [0, -1]]) console.log('moved to', JSON.stringify(await client.move(dx, dy)))
    console.log('room states pushed:', client.states.length)
    await client.leave()
    client.close()
  })()
}
