// workerd: the contract suite inside a Worker. POST the ContractEnv as JSON; the answer is the results.
// The Worker reaches the real upstream over loopback, through workerd's own fetch.
import { runContract, type ContractEnv } from './contract.js'

export default {
  async fetch(request: Request, _env: unknown, ctx: { waitUntil(promise: Promise<unknown>): void }): Promise<Response> {
    const env = (await request.json()) as ContractEnv
    return Response.json(await runContract(env, (promise) => ctx.waitUntil(promise)))
  },
}
