/** Where riptide reports what it cannot hand to a callback (gnet's `WithLogger`). */

/** Severity of a log line. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/** A pino/console-like logger object: each level a method taking a message and details. */
export interface LoggerObject {
  debug?(msg: string, ...details: unknown[]): void
  info?(msg: string, ...details: unknown[]): void
  warn?(msg: string, ...details: unknown[]): void
  error?(msg: string, ...details: unknown[]): void
}

/** A logger: a function `(level, message, details?)` or a pino/console-like object. */
export type Logger = ((level: LogLevel, msg: string, details?: unknown) => void) | LoggerObject

/** The default: `console.error` for warnings and errors, nothing else. */
export const consoleLogger: Logger = (level, msg, details) => {
  if (level === 'warn' || level === 'error') console.error(`riptide: ${msg}`, details ?? '')
}

/** Calls `logger` at `level`, whichever form it has. */
export function log(logger: Logger, level: LogLevel, msg: string, details?: unknown): void {
  if (typeof logger === 'function') logger(level, msg, details)
  else logger[level]?.(msg, details)
}
