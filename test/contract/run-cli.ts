// Deno and Bun: the contract suite as a script. Argument 1 is the ContractEnv as JSON; the results go to
// stdout on one line after RESULTS_MARK, for the Node test that spawned the runtime.
import { RESULTS_MARK, runContract, type ContractEnv } from './contract.js'

type Globals = { Deno?: { args: string[] }; process?: { argv: string[] } }
const globals = globalThis as Globals
const args = globals.Deno?.args ?? globals.process?.argv.slice(2) ?? []
const env = JSON.parse(args[0] ?? '{}') as ContractEnv
console.log(RESULTS_MARK + JSON.stringify(await runContract(env)))
