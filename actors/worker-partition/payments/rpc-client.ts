/**
 * A minimal Ethereum JSON-RPC client over fetch (no response caching, same on Node and Deno).
 * It tells apart the two failures that matter for payments:
 *  - RpcUnavailableError: the node did not answer (network, timeout, HTTP 5xx) → retry with backoff;
 *  - RpcNodeError: the node answered with a JSON-RPC error (nonce too low, …) → decide, do not retry blindly.
 */
export class RpcUnavailableError extends Error {
  readonly retryable = true;
  constructor(message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = "RpcUnavailableError";
  }
}

export class RpcNodeError extends Error {
  readonly retryable = false;
  constructor(readonly method: string, readonly rpcCode: number, readonly rpcMessage: string) {
    super(`${method}: ${rpcMessage} (code ${rpcCode})`);
    this.name = "RpcNodeError";
  }
}

export interface RpcReceipt {
  status: 0 | 1;
  blockNumber: number;
  transactionHash: string;
}

export interface RpcClient {
  readonly url: string;
  call<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  chainId(): Promise<string>;
  /** Nonce count of an address at `latest` (mined) or `pending` (mined + mempool). */
  nonce(address: string, tag: "latest" | "pending"): Promise<number>;
  balance(address: string, tag?: "latest" | "pending"): Promise<bigint>;
  baseFee(): Promise<bigint>;
  priorityFee(): Promise<bigint>;
  receipt(txHash: string): Promise<RpcReceipt | null>;
  /** True when the node knows the transaction (mempool or mined). */
  knowsTransaction(txHash: string): Promise<boolean>;
  sendRaw(rawTx: string): Promise<string>;
}

let nextId = 1;
const hexToBig = (h: unknown): bigint => BigInt(String(h));

export function createRpcClient(url: string, opts: { timeoutMs?: number } = {}): RpcClient {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const call = async <T>(method: string, params: unknown[] = []): Promise<T> => {
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: nextId++, method, params }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new RpcUnavailableError(`${method}: RPC endpoint unreachable (${(err as Error).message})`, { cause: err });
    }
    if (res.status >= 500 || res.status === 429) {
      await res.body?.cancel();
      throw new RpcUnavailableError(`${method}: RPC endpoint answered HTTP ${res.status}`);
    }
    let body: { result?: T; error?: { code: number; message: string } };
    try {
      body = (await res.json()) as typeof body;
    } catch (err) {
      throw new RpcUnavailableError(`${method}: RPC answer is not JSON (HTTP ${res.status})`, { cause: err });
    }
    if (body.error) throw new RpcNodeError(method, body.error.code, body.error.message);
    return body.result as T;
  };
  return {
    url,
    call,
    chainId: async () => hexToBig(await call("eth_chainId")).toString(),
    nonce: async (address, tag) => Number(hexToBig(await call("eth_getTransactionCount", [address, tag]))),
    balance: async (address, tag = "latest") => hexToBig(await call("eth_getBalance", [address, tag])),
    baseFee: async () => {
      const block = await call<{ baseFeePerGas?: string } | null>("eth_getBlockByNumber", ["latest", false]);
      return block?.baseFeePerGas ? hexToBig(block.baseFeePerGas) : 0n;
    },
    priorityFee: async () => hexToBig(await call("eth_maxPriorityFeePerGas")),
    receipt: async (txHash) => {
      const r = await call<{ status: string; blockNumber: string; transactionHash: string } | null>("eth_getTransactionReceipt", [txHash]);
      if (!r || r.blockNumber == null) return null;
      return { status: Number(hexToBig(r.status)) === 1 ? 1 : 0, blockNumber: Number(hexToBig(r.blockNumber)), transactionHash: r.transactionHash };
    },
    knowsTransaction: async (txHash) => (await call("eth_getTransactionByHash", [txHash])) !== null,
    sendRaw: (rawTx) => call<string>("eth_sendRawTransaction", [rawTx]),
  };
}
