/**
 * The RPC node's chain, checked against CHAIN_ID before a payment run touches the chain.
 *
 * Recovery judges an open WAL entry by what the node says (receipt, known hash, the payer's
 * nonce); a node of another chain answers all three about the wrong chain: no receipt, an
 * unknown hash, and nonces the payer key may well have used there — so a payment of this chain
 * would be marked ambiguous (and, resolved "unpaid" by a person, paid twice). The payment
 * machine also compares the chain id when it prepares a new payment, but recovery runs first;
 * so every run asks the node before recovery (payment-run.ts), and the service asks once at
 * start (payments-service.ts).
 */
import type { Clock } from "../../../supervisors/clock.ts";
import { RpcUnavailableError } from "./rpc-client.ts";
import type { RpcClient } from "./rpc-client.ts";

/** Why the node must not be used for payments on `chainId`, or null when it reports that chain. */
export function chainMismatchReason(nodeChainId: string, chainId: string): string | null {
  if (nodeChainId === chainId) return null;
  return `chain id mismatch: node reports ${nodeChainId}, CHAIN_ID is ${chainId}; nothing reconciled or sent (ETH_RPC_ENDPOINT must be a node of chain ${chainId}, or CHAIN_ID the chain to pay on)`;
}

/**
 * The node's chain id, asked again after each of `retryDelaysMs` (on the injected clock) while
 * the node does not answer; the last RpcUnavailableError is thrown when it never does. An answer
 * that is a JSON-RPC error (RpcNodeError) is thrown at once.
 */
export async function askNodeChainId(rpc: RpcClient, clock: Clock, retryDelaysMs: readonly number[]): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await rpc.chainId();
    } catch (err) {
      if (!(err instanceof RpcUnavailableError) || attempt >= retryDelaysMs.length) throw err;
      await new Promise<void>((resolve) => clock.setTimeout(resolve, retryDelaysMs[attempt]));
    }
  }
}
