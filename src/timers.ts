/**
 * Attempt deadlines that share one host timer, where host timers are dear and belong to nobody: in
 * browsers a setTimeout + clearTimeout pair costs about 1.4 µs (Chromium 153), more than all else an
 * attempt does. Deadlines of one duration end in the order they start, so a lane keeps them in a
 * list: one host timer is armed for the first, and when it fires, re-armed for the next still there
 * from a task of its own (a message), never from the timer's callback: a timer armed by a timer
 * nests, and browsers run a timer nested 5 deep in a page hidden for minutes once a minute (Chrome's
 * intensive throttling), which would let a deadline run a minute late.
 * An attempt that ends unlinks its entry (no clearTimeout): sequential calls arm one host timer every
 * `ms`, not one a call. Node, Deno and Bun keep a timer per attempt (theirs are cheap, and a timer left
 * armed after the last call would keep the process alive), and workerd must (a timer belongs to the
 * request that armed it: a later request's deadline cannot wait on it).
 */

/** One armed deadline: `fire` runs at `at` (the lane's clock) unless it is disarmed first. */
export interface LaneEntry {
  readonly at: number
  readonly fire: () => void
  prev: LaneEntry | undefined
  next: LaneEntry | undefined
  /** The lane it waits in; undefined once it fired or was disarmed. */
  lane: Lane | undefined
}

/** The deadlines of one duration, oldest first, under one host timer. */
export class Lane {
  #head: LaneEntry | undefined
  #tail: LaneEntry | undefined
  /** When the armed host timer fires (the lane's clock). */
  #due = 0
  /** A host timer is armed, or a re-arm is on its way in a task of its own: either way arm() leaves the new entry to it. */
  #armed = false
  readonly #clock: () => number
  readonly #task: (run: () => void) => void

  /**
   * `clock`: monotonic ms, so entries stay in the order they are due (a wall clock may step back, or jump and fire them
   * early). `task` runs its argument in a task of its own, not inside the timer's callback. Bound once: in Chromium,
   * reading the global `performance` costs about as much as now() itself.
   */
  constructor(
    readonly ms: number,
    clock = performance.now.bind(performance),
    task = inOwnTask,
  ) {
    this.#clock = clock
    this.#task = task
  }

  /** Arms `fire` to run in `ms`; returns the entry that `disarm` takes. */
  arm(fire: () => void): LaneEntry {
    const entry: LaneEntry = { at: this.#clock() + this.ms, fire, prev: this.#tail, next: undefined, lane: this }
    if (this.#tail) this.#tail.next = entry
    else this.#head = entry
    this.#tail = entry
    // A host timer already armed is due no later (the clock is monotonic): the entry waits for it. Unarmed, the lane was empty.
    if (!this.#armed) this.#armFirst()
    return entry
  }

  /** Unlinks `entry`: it will not fire. The host timer stays; when it fires with nothing due, it re-arms for what is left, if anything. */
  disarm(entry: LaneEntry): void {
    if (entry.lane !== this) return
    entry.lane = undefined
    const { prev, next } = entry
    if (prev) prev.next = next
    else this.#head = next
    if (next) next.prev = prev
    else this.#tail = prev
  }

  /** Fires every deadline due, oldest first, then re-arms for the next one, from a task of its own. */
  #tick = (): void => {
    // The host timer fired, so its time has come even if the clock says a hair less (a timer may fire early by rounding).
    const t = Math.max(this.#clock(), this.#due)
    // Still armed while firing: a deadline armed by a firing one (an abort listener) waits for the re-arm, no timer of its own.
    for (let entry = this.#head; entry && entry.at <= t; entry = this.#head) {
      this.disarm(entry)
      entry.fire()
    }
    if (this.#head) this.#task(this.#armFirst)
    else this.#armed = false
  }

  /** Arms the host timer for the first deadline; with none, the lane is left unarmed. */
  #armFirst = (): void => {
    const first = this.#head
    this.#armed = first !== undefined
    if (!first) return
    this.#due = first.at
    setTimeout(this.#tick, Math.max(0, first.at - this.#clock()))
  }
}

/** Runs a function in a task of its own, through a message to itself (one channel, made on first use, in order). */
export function messageTask(): (run: () => void) => void {
  let channel: MessageChannel | undefined
  const queued: (() => void)[] = []
  return (run) => {
    if (!channel) {
      channel = new MessageChannel()
      channel.port1.onmessage = () => queued.shift()!()
    }
    queued.push(run)
    channel.port2.postMessage(undefined)
  }
}

/** The lanes' own task: one channel for all of them (a started port is kept until closed, so not one per instance). */
const inOwnTask = /* @__PURE__ */ messageTask()

/** Whether host timers are shared here: in a page or a browser worker, not in Node, Deno, Bun nor workerd (nor Node with a DOM). */
export function sharesTimers(): boolean {
  const scope = globalThis as { document?: unknown; importScripts?: unknown; process?: { versions?: { node?: unknown } }; Deno?: unknown }
  // A bundler's `process` shim in a page has no versions.node; Node and Bun do (Deno 2 too, and it has Deno).
  const server = typeof scope.process?.versions?.node === 'string' || scope.Deno !== undefined
  return !server && typeof MessageChannel === 'function' && (typeof scope.document === 'object' || typeof scope.importScripts === 'function')
}
