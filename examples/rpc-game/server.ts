/**
 * A game lobby on riptide/rpc: `npx tsx examples/rpc-game/server.ts --port 7000`. Clients call
 * `join`, `move` and `leave` over LTV (Cellnet's packets); each room's state is published to
 * its members (`engine.publish`, encoded once for all of them). The engine's heartbeat pings
 * quiet clients and kicks those it has heard nothing from for `heartbeatTimeout` ms (knet's
 * kick): their room learns they left.
 */
import { parseArgs } from 'node:util'
import { EngineStoppedError, serve, type Conn, type Engine } from 'riptide'
import { notifyFrame, rpcHandler, type RpcPeer } from 'riptide/rpc'
import { codec, heartbeatPing, RPC_MSG_ID, type RoomState } from './protocol'

/** A connected player: its name and position once it joined a room. */
interface Player {
  name: string
  room: string | undefined
  x: number
  y: number
}

/** A request the lobby refuses; the caller gets an `RpcRemoteError` with this code. */
class LobbyError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** Options of {@link startLobby}. */
export interface LobbyOptions {
  /** Port on 127.0.0.1 (0 picks one). */
  port?: number
  /** Ms of silence after which the server pings a client. Default `1000`. */
  heartbeatInterval?: number
  /** Ms without a byte from a client before it is kicked. Default `3000`. */
  heartbeatTimeout?: number
}

/** Starts the lobby; resolves once it listens. */
export async function startLobby(o: LobbyOptions = {}): Promise<Engine> {
  const players = new Map<Conn, Player>()
  let engine: Engine | undefined
  const state = (room: string): RoomState => ({
    room,
    players: [...players.values()].filter((p) => p.room === room).map(({ name, x, y }) => ({ name, x, y })),
  })
  const push = (room: string) => {
    try {
      engine?.publish(`room:${room}`, notifyFrame('state', state(room)), { msgId: RPC_MSG_ID })
    } catch (err) {
      // While the lobby stops, the players' closes have no one left to tell.
      if (!(err instanceof EngineStoppedError)) throw err
    }
  }
  const leave = (conn: Conn, player: Player) => {
    const room = player.room
    if (room === undefined) return
    player.room = undefined
    if (conn.open) conn.unsubscribe(`room:${room}`)
    push(room)
  }
  const player = (conn: Conn): Player => {
    const p = players.get(conn)
    if (p === undefined) throw new LobbyError('ERR_NOT_JOINED', 'join a room first')
    return p
  }
  const rpc = rpcHandler({
    msgId: RPC_MSG_ID,
    onPeer(peer: RpcPeer<Conn>) {
      const conn = peer.conn
      peer.handle('heartbeat', () => undefined)
      peer.handle('join', (payload) => {
        const { name, room } = (payload ?? {}) as { name?: unknown; room?: unknown }
        if (typeof name !== 'string' || typeof room !== 'string' || name.length === 0 || room.length === 0 || name.length > 32 || room.length > 32) {
          throw new LobbyError('ERR_BAD_REQUEST', 'join takes { name, room }: strings of 1 to 32 characters')
        }
        const p = players.get(conn) ?? { name, room: undefined, x: 0, y: 0 }
        leave(conn, p)
        Object.assign(p, { name, room, x: 0, y: 0 })
        players.set(conn, p)
        conn.subscribe(`room:${room}`)
        push(room)
        return state(room)
      })
      peer.handle('move', (payload) => {
        const p = player(conn)
        const { dx, dy } = (payload ?? {}) as { dx?: unknown; dy?: unknown }
        const step = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= 1
        if (!step(dx) || !step(dy)) throw new LobbyError('ERR_BAD_REQUEST', 'move takes { dx, dy }: integers in [-1, 1]')
        if (p.room === undefined) throw new LobbyError('ERR_NOT_JOINED', 'join a room first')
        p.x += dx as number
        p.y += dy as number
        push(p.room)
        return { x: p.x, y: p.y }
      })
      peer.handle('leave', () => {
        leave(conn, player(conn))
        return null
      })
    },
    onPeerClose(peer) {
      const p = players.get(peer.conn)
      players.delete(peer.conn)
      if (p !== undefined) leave(peer.conn, p)
    },
  })
  engine = await serve(`tcp://127.0.0.1:${o.port ?? 0}`, rpc, {
    codec,
    heartbeat: { interval: o.heartbeatInterval ?? 1000, timeout: o.heartbeatTimeout ?? 3000, ping: heartbeatPing },
  })
  return engine
}

if (require.main === module) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '7000' } } })
  startLobby({ port: Number(values.port) }).then(
    (engine) => console.log(`riptide rpc-game lobby on 127.0.0.1:${engine.port}`),
    (err: unknown) => {
      console.error(err)
      process.exit(1)
    },
  )
}
